// The plain coordinate MLP (fields/kinds/mlp.py), evaluated for display: x clamped to [0,1]^D and centred
// to [-1,1]^D, straight into mlp.glsl's decoder (weights in a texture; MLP_SINE for a SIREN).
// Defines: FIELD_DIMS, FIELD_OUT and mlp.glsl's.

#include "mlp.glsl"

uniform float cf_on;  // the level mask's one entry: 0 turns the input off (zeros), as in torch

// The decoder input at x in [0,1]^D (x.z ignored for D=2).
void field_encode(vec3 x, out vec4 e[MLP_IN4]) {
    vec3 c = (2.0 * clamp(x, 0.0, 1.0) - 1.0) * cf_on;
    e[0] = vec4(c.xy, FIELD_DIMS == 3 ? c.z : 0.0, 0.0);
}

#include "field_eval.glsl"
