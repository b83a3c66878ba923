// Instant-NGP hash-grid field, evaluated for display: the same math as fields/hashgrid.py,
// gpu/hashing.py and fields/field.py.
//
// A level of resolution N has vertices 0..N per axis; x in [0,1]^D (clamped) sits at N*x, in cell
// min(floor(N*x), N-1). Dense levels index vertex c by c0 + (N+1)*(c1 + (N+1)*c2); hashed levels
// by (c0 ^ c1*2654435761 ^ c2*805459861) & (T-1) (uint32 wrap-around, as the Warp kernels).
// Features of level l go to encoding entries l*F .. l*F+F-1; the L*F entries feed the MLP decoder
// (shaders/mlp.glsl).
//
// Compile-time constants: FIELD_DIMS (2|3), FIELD_LEVELS, FIELD_FEATURES, FIELD_SMOOTH
// (0 linear, 1 smoothstep), FIELD_OUT, HG_TEXELS (texels per table row: 2 for F = 8, else 1).
// The table is a float texture HG_WIDTH texels wide, row r of the table (all levels) at texel
// r * HG_TEXELS, read with texelFetch (on llvmpipe about 4x faster than storage-buffer gathers);
// hg_levels holds per level: resolution, first row, hashed, on.

#include "mlp.glsl"

#define HG_WIDTH 4096
uniform sampler2D hg_table;
layout(std140, binding = 1) uniform HashGridLevels { ivec4 hg_levels[FIELD_LEVELS]; };
uniform uint hg_table_mask;

vec4 hg_texel(uint index) {
    return texelFetch(hg_table, ivec2(int(index % uint(HG_WIDTH)), int(index / uint(HG_WIDTH))), 0);
}

#define FIELD_CORNERS (1 << FIELD_DIMS)

uint hg_corner_row(ivec3 c, int res, bool hashed) {
    if (!hashed) {
        int stride = res + 1;
        return uint(c.x + stride * (c.y + stride * c.z));
    }
    uint h = uint(c.x) ^ (uint(c.y) * 2654435761u);
#if FIELD_DIMS == 3
    h = h ^ (uint(c.z) * 805459861u);
#endif
    return h & hg_table_mask;
}

// Interpolated features of level `lvl` at x: entries 0..F-1 of the result (F <= 4), or entries
// 4*half .. 4*half+3 for F = 8.
vec4 hg_level_features(vec3 x, int lvl, int half_) {
    ivec4 info = hg_levels[lvl];
    int res = info.x;
    vec3 pos = clamp(x, 0.0, 1.0) * float(res);
    ivec3 cell = min(ivec3(floor(pos)), ivec3(res - 1));
    vec3 frac = pos - vec3(cell);
#if FIELD_DIMS == 2
    cell.z = 0;
    frac.z = 0.0;
#endif
#if FIELD_SMOOTH == 1
    vec3 upper = frac * frac * (3.0 - 2.0 * frac);
#else
    vec3 upper = frac;
#endif
    vec4 feature = vec4(0.0);
    for (int corner = 0; corner < FIELD_CORNERS; ++corner) {
        ivec3 bits = ivec3(corner & 1, (corner >> 1) & 1, (corner >> 2) & 1);
        vec3 w3 = mix(1.0 - upper, upper, vec3(bits));
        float w = w3.x * w3.y;
#if FIELD_DIMS == 3
        w *= w3.z;
#endif
        uint row = uint(info.y) + hg_corner_row(cell + bits, res, info.z != 0);
        feature += w * hg_texel(row * uint(HG_TEXELS) + uint(half_));
    }
    return feature;
}

// The field's first four outputs at x in [0,1]^D (x.z ignored for D=2), zero-padded.
vec4 field_eval(vec3 x) {
    vec4 e[MLP_IN4];
    for (int i = 0; i < MLP_IN4; ++i) e[i] = vec4(0.0);
    for (int lvl = 0; lvl < FIELD_LEVELS; ++lvl) {
        if (hg_levels[lvl].w == 0) continue;
#if FIELD_FEATURES == 8
        e[2 * lvl] = hg_level_features(x, lvl, 0);
        e[2 * lvl + 1] = hg_level_features(x, lvl, 1);
#elif FIELD_FEATURES == 4
        e[lvl] = hg_level_features(x, lvl, 0);
#else
        vec4 f = hg_level_features(x, lvl, 0);
        for (int k = 0; k < FIELD_FEATURES; ++k) {
            int flat_index = lvl * FIELD_FEATURES + k;
            e[flat_index >> 2][flat_index & 3] = f[k];
        }
#endif
    }
    return mlp_decode(e);
}
