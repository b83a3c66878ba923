// Random Fourier features (fields/kinds/fourier.py), evaluated for display: e = [cos(2 pi B x), sin(2 pi B x)]
// for x clamped to [0,1]^D, then mlp.glsl's decoder (weights in a texture).
// Defines: FIELD_DIMS, FIELD_OUT, FF_FREQS (m) and mlp.glsl's.

#include "mlp.glsl"

layout(std140, binding = 1) uniform FourierB { vec4 ff_b[FF_FREQS]; };  // B's rows, zero-padded
uniform float cf_on;  // the level mask's one entry: 0 turns the features off (zeros), as in torch

// The decoder input at x in [0,1]^D (x.z ignored for D=2).
void field_encode(vec3 x, out vec4 e[MLP_IN4]) {
    vec3 p = clamp(x, 0.0, 1.0);
#if FIELD_DIMS == 2
    p.z = 0.0;
#endif
    e[MLP_IN4 - 1] = vec4(0.0);  // the padding past 2m
    for (int j = 0; j < FF_FREQS; ++j) {
        float phase = 6.283185307179586 * dot(ff_b[j].xyz, p);
        int k = j + FF_FREQS;
        e[j >> 2][j & 3] = cos(phase) * cf_on;
        e[k >> 2][k & 3] = sin(phase) * cf_on;
    }
}

#include "field_eval.glsl"
