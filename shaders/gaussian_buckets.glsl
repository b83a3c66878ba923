// Gaussian-bucket field (Lagrangian Hashing), evaluated for display: the same math as
// gpu/gaussian_buckets.py and fields/kinds/gaussian_buckets.py.
//
// Levels 0 .. GB_COARSE-1 are hash-grid levels (grid_levels.glsl, table hg_table). Levels GB_COARSE
// .. FIELD_LEVELS-1 are Lagrangian: their cell corners pick buckets exactly as a grid level does
// (hg_levels[l].y is the level's first bucket), and bucket b holds GB_POINTS points, rows
// b*GB_POINTS + k of gb_means (one texel per point: xyz, z = 0 in 2D) and gb_values (HG_TEXELS
// texels per point). The level's feature at x is
//   sum over the vertices v it reads (cell corners or Lagrange stencil) of alpha_v(x) * sum_k N(x; mu_vk, sigma_l) f_vk,
//   N(x; mu, s) = c_l exp(-|x - mu|^2 / (2 s^2)),
// with x clamped to [0,1]^D, gb_sigma[l - GB_COARSE] = sigma_scale * cell size of the level and
// gb_norm[l - GB_COARSE] = c_l, the config's normaliser (fields/kinds/gaussian_buckets.py gaussian_norm).

#include "grid_levels.glsl"

uniform sampler2D gb_means;
uniform sampler2D gb_values;
uniform float gb_sigma[FIELD_LEVELS - GB_COARSE];
uniform float gb_norm[FIELD_LEVELS - GB_COARSE];

vec3 gb_mean(uint point) {
    return hg_fetch(gb_means, point).xyz;
}

// Features of Lagrangian level `lvl` at x (layout as hg_level_features).
vec4 gb_level_features(vec3 x, int lvl, int half_) {
    ivec4 info = hg_levels[lvl];
    HgStencil s = hg_stencil(x, info.x);
    vec3 p = clamp(x, 0.0, 1.0);
#if FIELD_DIMS == 2
    p.z = 0.0;
#endif
    float sigma = gb_sigma[lvl - GB_COARSE];
    float norm = gb_norm[lvl - GB_COARSE];
    float inv_2s2 = 0.5 / (sigma * sigma);
    vec4 feature = vec4(0.0);
    for (int v = 0; v < HG_STENCIL_POINTS; ++v) {
        float alpha = hg_stencil_weight(s, v);
        uint first = hg_stencil_row(info, s, v) * uint(GB_POINTS);
        for (int k = 0; k < GB_POINTS; ++k) {
            uint point = first + uint(k);
            vec3 d = p - gb_mean(point);
            float w = alpha * norm * exp(-dot(d, d) * inv_2s2);
            feature += w * hg_fetch(gb_values, point * uint(HG_TEXELS) + uint(half_));
        }
    }
    return feature;
}

// The decoder input at x in [0,1]^D (x.z ignored for D=2).
void field_encode(vec3 x, out vec4 e[MLP_IN4]) {
    for (int i = 0; i < MLP_IN4; ++i) e[i] = vec4(0.0);
    for (int lvl = 0; lvl < FIELD_LEVELS; ++lvl) {
        if (!hg_level_on(lvl)) continue;
        for (int half_ = 0; half_ < HG_HALVES; ++half_) {
            vec4 f = lvl < GB_COARSE ? hg_level_features(x, lvl, half_) : gb_level_features(x, lvl, half_);
            hg_put(e, lvl, half_, f);
        }
    }
}

#include "field_eval.glsl"
