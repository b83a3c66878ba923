// Heatmaps over the view (after the field's include and colormaps.glsl): for grid-based fields,
// per point x of the view,
//   1 collisions: the most vertices that share a table entry with one of the corners of x's cell in
//     level u_heat_level (u_counts: per entry of that level, the vertices that map to it);
//   2 contribution: how much level u_heat_level moves the output, |f(x) - f(x with that level
//     off)|, averaged over the first min(4, outputs) outputs;
//   3 points per vertex (Gaussian buckets, Lagrangian levels): sum over x's cell corners v of
//     alpha_v(x) * the points of v's bucket whose mean lies in one of v's cells
//     (|mu - v/N|_inf < 1/N), i.e. the points that serve vertex v.
// heat_over colours the picture with inferno: collisions from 1 (no collision) to u_heat_scale
// (the level's most), the others from 0 to u_heat_scale; low values are drawn more transparent.

uniform int u_heat;
uniform int u_heat_level;
uniform float u_heat_scale;
uniform float u_heat_opacity;
uniform sampler2D u_counts;

#ifdef HG_WIDTH
float heat_collisions(vec3 x) {
    ivec4 info = hg_levels[u_heat_level];
    ivec3 cell;
    vec3 upper;
    hg_locate(x, info.x, cell, upper);
    float most = 0.0;
    for (int corner = 0; corner < FIELD_CORNERS; ++corner) {
        uint row = hg_corner_row(cell + hg_corner_bits(corner), info.x, info.z != 0);
        most = max(most, hg_fetch(u_counts, row).x);
    }
    return most;
}

// `value` = field_eval(x), the last evaluation: its decoder input, with the level's features
// zeroed (as a level that is off), decodes to the field without that level.
float heat_contribution(vec3 x, vec4 value) {
    if (!hg_level_on(u_heat_level)) return 0.0;  // exactly: a level that is off moves nothing
    vec4 e[MLP_IN4] = hg_last_e;
    for (int half_ = 0; half_ < HG_HALVES; ++half_) hg_put(e, u_heat_level, half_, vec4(0.0));
    vec4 without = mlp_decode(e);
    vec4 d = abs(value - without);
    int channels = min(FIELD_OUT, 4);
    return (d.x + d.y + d.z + d.w) / float(channels);
}
#endif

#ifdef GB_POINTS
float heat_points_per_vertex(vec3 x) {
    if (u_heat_level < GB_COARSE) return 0.0;
    ivec4 info = hg_levels[u_heat_level];
    ivec3 cell;
    vec3 upper;
    hg_locate(x, info.x, cell, upper);
    float cell_size = 1.0 / float(info.x);
    float served = 0.0;
    for (int corner = 0; corner < FIELD_CORNERS; ++corner) {
        vec3 vertex = vec3(cell + hg_corner_bits(corner)) * cell_size;
        uint first = hg_bucket(info, cell, corner) * uint(GB_POINTS);
        float near = 0.0;
        for (int k = 0; k < GB_POINTS; ++k) {
            vec3 d = abs(gb_mean(first + uint(k)) - vertex);
#if FIELD_DIMS == 2
            d.z = 0.0;
#endif
            near += max(max(d.x, d.y), d.z) < cell_size ? 1.0 : 0.0;
        }
        served += hg_corner_weight(upper, corner) * near;
    }
    return served;
}
#endif

// The heatmap's value at x; `value` is field_eval(x).
float heat_value(vec3 x, vec4 value) {
#ifdef HG_WIDTH
    if (u_heat == 1) return heat_collisions(x);
    if (u_heat == 2) return heat_contribution(x, value);
#endif
#ifdef GB_POINTS
    if (u_heat == 3) return heat_points_per_vertex(x);
#endif
    return 0.0;
}

float heat_t(float v) {
    return clamp(u_heat == 1 ? (v - 1.0) / max(u_heat_scale - 1.0, 1.0) : v / max(u_heat_scale, 1e-12), 0.0, 1.0);
}

// The picture under the heatmap, coloured by value v: low values let more of the picture through.
vec3 heat_over(vec3 picture, float v) {
    float t = heat_t(v);
    return mix(picture, inferno(t), u_heat_opacity * (0.25 + 0.75 * t));
}
