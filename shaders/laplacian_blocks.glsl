// Laplacian-block field (MINER), evaluated for display: the same math as gpu/laplacian_blocks.py and
// fields/kinds/laplacian_blocks/field.py.
//
// MINER's Laplacian pyramid with U2: the reconstruction at scale j is the SIRENs of its blocks plus the
// bilinear 2x upsampling of the reconstruction at scale j+1 (sample m of scale j sits at (m + 1/2) / 2
// - 1/2 samples of scale j+1, clamped to the lb_samples[j+1] samples inside the signal). The field at x
// is the reconstruction at the finest scale that is on: the SIREN of x's block there at x's
// block-local coordinate u in [-1, 1)^D, plus the coarser scales' SIRENs at their samples, weighted by
// the composed U2 weights (per axis a window of 2, then 3, samples). A block without an MLP (pruned,
// or its scale not started) reads zero; a scale that is off adds nothing but passes U2 on. Block of x
// at scale j, per axis d (all float32, as the kernels):
//   p = clamp(x_d, 0, 1) * lb_inv_extent[j][d],  k = min(floor(p), lb_blocks[j][d] - 1),
//   u_d = 2 (p - k) - 1,  block = kx + nx (ky + ny kz).
// Its weight row is lb_slots[lb_blocks[j].w + block] (-1: no MLP). lb_inv_extent[j].w is 1 when the
// scale is on.
//
// Weights (app/render/laplacian_blocks_gl.py packs them) are a float texture (a storage buffer read
// per pixel costs several times more on llvmpipe), LB_ROW4 texels per row; each layer is its
// fan_in rows of W (fan_out units zero-padded to vec4s), then its bias in the same vec4s. Hidden
// layers are sin(lb_omega * (a W + b)); the last one is linear.
// Defines: FIELD_DIMS, FIELD_OUT, LB_SCALES, LB_HIDDEN, LB_LAYERS, LB_ROW4, LB_SIDE (samples per block side).

layout(std430, binding = 1) readonly buffer LbSlots { int lb_slots[]; };
uniform sampler2D lb_weights;  // the packed rows, vec4 i at texel (i % 4096, i / 4096)

uniform ivec4 lb_blocks[LB_SCALES];     // blocks per axis (x, y, z), first slot of the scale
uniform vec4 lb_inv_extent[LB_SCALES];  // blocks per unit of coordinate (x, y, z), scale on (w)
uniform ivec4 lb_samples[LB_SCALES];        // samples per axis inside the signal (x, y, z)
uniform vec4 lb_sample_scale[LB_SCALES];    // samples per unit of coordinate (x, y, z)
uniform float lb_omega;

#define LB_H4 ((LB_HIDDEN + 3) / 4)
#define LB_C4 ((FIELD_OUT + 3) / 4)

vec4 lb_w(int i) {
    return texelFetch(lb_weights, ivec2(i & 4095, i >> 12), 0);
}

// x's block within scale j and its local coordinates u.
int lb_locate(vec3 x, int j, out vec3 u) {
    ivec4 blocks = lb_blocks[j];
    vec4 inv = lb_inv_extent[j];
    int block = 0;
    int stride = 1;
    u = vec3(0.0);
    for (int d = 0; d < FIELD_DIMS; ++d) {
        float p = clamp(x[d], 0.0, 1.0) * inv[d];
        int k = min(int(floor(p)), blocks[d] - 1);
        u[d] = 2.0 * (p - float(k)) - 1.0;
        block += k * stride;
        stride *= blocks[d];
    }
    return block;
}

// The block of sample m of scale j and the sample's local coordinates u.
int lb_sample_block(ivec3 m, int j, out vec3 u) {
    int block = 0;
    int stride = 1;
    u = vec3(0.0);
    for (int d = 0; d < FIELD_DIMS; ++d) {
        int k = m[d] / LB_SIDE;
        u[d] = (2.0 * float(m[d] - k * LB_SIDE) + 1.0) / float(LB_SIDE) - 1.0;
        block += k * stride;
        stride *= lb_blocks[j][d];
    }
    return block;
}

// Adds weight times the first `count4` vec4s of outputs of the SIREN in weight row `row` at u to sum.
void lb_siren_add(int row, vec3 u, float weight, int count4, inout vec4 sum[LB_C4]) {
    int base = row * LB_ROW4;
    vec4 a[LB_H4];
    for (int r = 0; r < LB_H4; ++r) {
        vec4 z = lb_w(base + FIELD_DIMS * LB_H4 + r);
        for (int d = 0; d < FIELD_DIMS; ++d) z += lb_w(base + d * LB_H4 + r) * u[d];
        a[r] = sin(lb_omega * z);
    }
    base += (FIELD_DIMS + 1) * LB_H4;
    for (int m = 0; m < LB_LAYERS - 2; ++m) {
        vec4 z[LB_H4];
        for (int r = 0; r < LB_H4; ++r) z[r] = lb_w(base + LB_HIDDEN * LB_H4 + r);
        for (int k = 0; k < LB_HIDDEN; ++k) {
            float ak = a[k >> 2][k & 3];
            for (int r = 0; r < LB_H4; ++r) z[r] += lb_w(base + k * LB_H4 + r) * ak;
        }
        for (int r = 0; r < LB_H4; ++r) a[r] = sin(lb_omega * z[r]);
        base += (LB_HIDDEN + 1) * LB_H4;
    }
    for (int c = 0; c < count4; ++c) {
        vec4 y = lb_w(base + LB_HIDDEN * LB_C4 + c);
        for (int k = 0; k < LB_HIDDEN; ++k) y += lb_w(base + k * LB_C4 + c) * a[k >> 2][k & 3];
        sum[c] += weight * y;
    }
}

// U2 weights win[3 d + e] of x over samples base[d] + e (e = 0..2) of scale j, one under the top.
void lb_first_window(vec3 x, int j, out ivec3 base, out float win[9]) {
    for (int k = 0; k < 9; ++k) win[k] = k % 3 == 0 ? 1.0 : 0.0;
    base = ivec3(0);
    for (int d = 0; d < FIELD_DIMS; ++d) {
        float s = clamp(clamp(x[d], 0.0, 1.0) * lb_sample_scale[j][d] - 0.5, 0.0, float(lb_samples[j][d] - 1));
        int lo = int(floor(s));
        float f = s - float(lo);
        base[d] = lo;
        win[3 * d] = 1.0 - f;
        win[3 * d + 1] = f;
    }
}

// The window one scale coarser (scale j): U2 applied to the weights.
void lb_next_window(int j, inout ivec3 base, inout float win[9]) {
    float out_win[9];
    for (int k = 0; k < 9; ++k) out_win[k] = 0.0;
    for (int d = 0; d < 3; ++d) {
        int n = lb_samples[j][d];
        int first = 0;
        for (int e = 0; e < 3; ++e) {
            float s = clamp(float(base[d] + e) * 0.5 - 0.25, 0.0, float(n - 1));
            int lo = int(floor(s));
            float f = s - float(lo);
            if (e == 0) first = lo;
            int hi = min(lo + 1, n - 1);
            out_win[3 * d + lo - first] += win[3 * d + e] * (1.0 - f);
            out_win[3 * d + hi - first] += win[3 * d + e] * f;
        }
        base[d] = first;
    }
    win = out_win;
}

#define FIELD_OUT4 LB_C4

#define LB_WINDOW (FIELD_DIMS == 2 ? 9 : 27)

// Adds the first `count4` vec4s of the field's outputs at x in [0,1]^D (x.z ignored for D=2) to sum.
void lb_field_add(vec3 x, int count4, inout vec4 sum[LB_C4]) {
    int top = LB_SCALES - 1;
    for (int j = LB_SCALES - 1; j >= 0; --j) {
        if (lb_inv_extent[j].w != 0.0) top = j;
    }
    if (lb_inv_extent[top].w != 0.0) {
        vec3 u;
        int block = lb_locate(x, top, u);
        int row = lb_slots[lb_blocks[top].w + block];
        if (row >= 0) lb_siren_add(row, u, 1.0, count4, sum);
    }
    if (top + 1 >= LB_SCALES) return;
    ivec3 base;
    float win[9];
    lb_first_window(x, top + 1, base, win);
    for (int j = top + 1; j < LB_SCALES; ++j) {
        if (lb_inv_extent[j].w != 0.0) {
            for (int e = 0; e < LB_WINDOW; ++e) {
                ivec3 k = ivec3(e % 3, (e / 3) % 3, e / 9);
                float weight = win[k.x] * win[3 + k.y] * win[6 + k.z];
                if (weight == 0.0) continue;
                vec3 u;
                int block = lb_sample_block(base + k, j, u);
                int row = lb_slots[lb_blocks[j].w + block];
                if (row >= 0) lb_siren_add(row, u, weight, count4, sum);
            }
        }
        if (j + 1 < LB_SCALES) lb_next_window(j + 1, base, win);
    }
}

// The field's first four outputs at x, zero-padded.
vec4 field_eval(vec3 x) {
    vec4 sum[LB_C4];
    sum[0] = vec4(0.0);
    lb_field_add(x, 1, sum);
    return sum[0];
}

// All the field's outputs at x: outs[k] holds outputs 4k..4k+3 (zero-padded).
void field_eval_all(vec3 x, out vec4 outs[FIELD_OUT4]) {
    for (int c = 0; c < LB_C4; ++c) outs[c] = vec4(0.0);
    lb_field_add(x, LB_C4, outs);
}
