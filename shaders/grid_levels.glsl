// Grid levels of the multiresolution encodings, for display: the same math as gpu/hashing.py,
// fields/kinds/hashgrid.py and fields/field.py. Shared by hashgrid.glsl (every level) and
// gaussian_buckets.glsl (its coarse levels, and the cells and buckets of its Lagrangian levels).
//
// A level of resolution N has vertices 0..N per axis; x in [0,1]^D (clamped) sits at N*x, in cell
// min(floor(N*x), N-1). Dense levels index vertex c by c0 + (N+1)*(c1 + (N+1)*c2); hashed levels
// by (c0 ^ c1*HG_PRIME_Y ^ c2*HG_PRIME_Z) & (T-1) (uint32 wrap-around, as the Warp kernels; the primes
// come as #defines from gpu/hashing.py's PRIMES).
// Features of level l go to encoding entries l*F .. l*F+F-1; the L*F entries feed the MLP decoder
// (shaders/mlp.glsl).
//
// Compile-time constants: FIELD_DIMS (2|3), FIELD_LEVELS, FIELD_FEATURES, FIELD_SMOOTH
// (0 linear, 1 smoothstep), FIELD_LAGRANGE_K (0: off; k: Lagrange multi-sampling over 2k vertices
// per axis, gpu/lagrange.py), FIELD_OUT, HG_TEXELS (texels per table row: 2 for F = 8, else 1),
// HG_PRIME_Y, HG_PRIME_Z (the hash primes, uint literals).
// Tables are float textures HG_WIDTH texels wide, row r at texel r * HG_TEXELS, read with
// texelFetch (on llvmpipe about 4x faster than storage-buffer gathers); hg_levels holds per level:
// resolution, first row, hashed, on.

#include "mlp.glsl"

#define HG_WIDTH 4096
#define FIELD_CORNERS (1 << FIELD_DIMS)
#define HG_HALVES (FIELD_FEATURES == 8 ? 2 : 1)
#ifndef FIELD_LAGRANGE_K
#define FIELD_LAGRANGE_K 0
#endif
// Vertices per axis a level reads for a point (its stencil), and in all.
#define HG_SUPPORT (FIELD_LAGRANGE_K > 0 ? 2 * FIELD_LAGRANGE_K : 2)
#if FIELD_DIMS == 3
#define HG_STENCIL_POINTS (HG_SUPPORT * HG_SUPPORT * HG_SUPPORT)
#else
#define HG_STENCIL_POINTS (HG_SUPPORT * HG_SUPPORT)
#endif

uniform sampler2D hg_table;
layout(std140, binding = 1) uniform HashGridLevels { ivec4 hg_levels[FIELD_LEVELS]; };
uniform uint hg_table_mask;

// The decoder input of the last field_eval: per-level contribution maps decode it again with one
// level's features zeroed, which costs a decoder instead of a second evaluation of every level.
vec4 hg_last_e[MLP_IN4];
#define FIELD_KEEPS_ENCODING

bool hg_level_on(int lvl) {
    return hg_levels[lvl].w != 0;
}

vec4 hg_fetch(sampler2D tex, uint index) {
    return texelFetch(tex, ivec2(int(index % uint(HG_WIDTH)), int(index / uint(HG_WIDTH))), 0);
}

uint hg_corner_row(ivec3 c, int res, bool hashed) {
    if (!hashed) {
        int stride = res + 1;
        return uint(c.x + stride * (c.y + stride * c.z));
    }
    uint h = uint(c.x) ^ (uint(c.y) * HG_PRIME_Y);
#if FIELD_DIMS == 3
    h = h ^ (uint(c.z) * HG_PRIME_Z);
#endif
    return h & hg_table_mask;
}

// The cell of x in a level of resolution `res` and the per-axis weights of its upper corners
// (linear or smoothstep); z is zero in 2D.
void hg_locate(vec3 x, int res, out ivec3 cell, out vec3 upper) {
    vec3 pos = clamp(x, 0.0, 1.0) * float(res);
    cell = min(ivec3(floor(pos)), ivec3(res - 1));
    vec3 frac = pos - vec3(cell);
#if FIELD_DIMS == 2
    cell.z = 0;
    frac.z = 0.0;
#endif
#if FIELD_SMOOTH == 1
    upper = frac * frac * (3.0 - 2.0 * frac);
#else
    upper = frac;
#endif
}

ivec3 hg_corner_bits(int corner) {
    return ivec3(corner & 1, (corner >> 1) & 1, (corner >> 2) & 1);
}

float hg_corner_weight(vec3 upper, int corner) {
    vec3 w3 = mix(1.0 - upper, upper, vec3(hg_corner_bits(corner)));
    float w = w3.x * w3.y;
#if FIELD_DIMS == 3
    w *= w3.z;
#endif
    return w;
}

// Row of a cell corner in its table: the level's first row + the dense index or the hash.
uint hg_bucket(ivec4 info, ivec3 cell, int corner) {
    return uint(info.y) + hg_corner_row(cell + hg_corner_bits(corner), info.x, info.z != 0);
}

// The vertices a level reads for x: HG_SUPPORT per axis from `first`, with per-axis weights w[d]
// (entries 0..HG_SUPPORT-1): the cell's corners (linear, smoothstep) or the Lagrange stencil.
struct HgStencil {
    ivec3 first;
    vec4 w[3];
};

#if FIELD_LAGRANGE_K > 0
// Lagrange basis on nodes 0..HG_SUPPORT-1 at u (HashEncoding eq. 2).
vec4 hg_lagrange_basis(float u) {
    vec4 w = vec4(0.0);
    for (int j = 0; j < HG_SUPPORT; ++j) {
        float num = 1.0;
        float den = 1.0;
        for (int m = 0; m < HG_SUPPORT; ++m) {
            if (m == j) continue;
            num *= u - float(m);
            den *= float(j - m);
        }
        w[j] = num / den;
    }
    return w;
}
#endif

HgStencil hg_stencil(vec3 x, int res) {
    HgStencil s;
#if FIELD_LAGRANGE_K > 0
    // 2k vertices around x's cell, shifted inwards at the border so that all are in the grid
    vec3 pos = clamp(x, 0.0, 1.0) * float(res);
    ivec3 cell = min(ivec3(floor(pos)), ivec3(res - 1));
    s.first = clamp(cell - (FIELD_LAGRANGE_K - 1), ivec3(0), ivec3(res - (HG_SUPPORT - 1)));
    vec3 u = pos - vec3(s.first);
    for (int d = 0; d < 3; ++d) s.w[d] = hg_lagrange_basis(u[d]);
#else
    vec3 upper;
    hg_locate(x, res, s.first, upper);
    for (int d = 0; d < 3; ++d) s.w[d] = vec4(1.0 - upper[d], upper[d], 0.0, 0.0);
#endif
#if FIELD_DIMS == 2
    s.first.z = 0;
#endif
    return s;
}

// Offset from s.first of stencil point p (axis 0 fastest, as the Warp kernels).
ivec3 hg_stencil_offset(int p) {
    return ivec3(p % HG_SUPPORT, (p / HG_SUPPORT) % HG_SUPPORT, p / (HG_SUPPORT * HG_SUPPORT));
}

float hg_stencil_weight(HgStencil s, int p) {
    ivec3 o = hg_stencil_offset(p);
    float w = s.w[0][o.x] * s.w[1][o.y];
#if FIELD_DIMS == 3
    w *= s.w[2][o.z];
#endif
    return w;
}

// Table row of stencil point p: the level's first row + the dense index or the hash.
uint hg_stencil_row(ivec4 info, HgStencil s, int p) {
    return uint(info.y) + hg_corner_row(s.first + hg_stencil_offset(p), info.x, info.z != 0);
}

// Interpolated features of grid level `lvl` at x: entries 0..F-1 of the result (F <= 4), or
// entries 4*half .. 4*half+3 for F = 8.
vec4 hg_level_features(vec3 x, int lvl, int half_) {
    ivec4 info = hg_levels[lvl];
    HgStencil s = hg_stencil(x, info.x);
    vec4 feature = vec4(0.0);
    for (int p = 0; p < HG_STENCIL_POINTS; ++p) {
        uint row = hg_stencil_row(info, s, p);
        feature += hg_stencil_weight(s, p) * hg_fetch(hg_table, row * uint(HG_TEXELS) + uint(half_));
    }
    return feature;
}

// Put part `half_` of level lvl's features into the decoder's input.
void hg_put(inout vec4 e[MLP_IN4], int lvl, int half_, vec4 f) {
#if FIELD_FEATURES == 8
    e[2 * lvl + half_] = f;
#elif FIELD_FEATURES == 4
    e[lvl] = f;
#else
    for (int k = 0; k < FIELD_FEATURES; ++k) {
        int flat_index = lvl * FIELD_FEATURES + k;
        e[flat_index >> 2][flat_index & 3] = f[k];
    }
#endif
}
