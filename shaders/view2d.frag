#version 430
// 2D view of a field over [0,1]^2: one evaluation per pixel. x runs along the columns and y down
// the rows, as in fields/scenes/image.py.
#include FIELD_INCLUDE
#include "colormaps.glsl"
#include "heatmaps.glsl"

uniform vec2 u_size;      // the whole target in pixels (tiles are scissored out of it)
uniform vec2 u_origin;    // field coordinates at the top-left corner
uniform vec2 u_axis_x;    // field coordinates per target width
uniform vec2 u_axis_y;    // field coordinates per target height, top to bottom
uniform int u_mode;       // 0 field, 1 ground truth, 2 error map, 3 raw outputs, 4 raw heatmap value,
                          // 5 |d field / d x| heatmap, 6 raw |d field / d x|
uniform float u_grad_step;   // central-difference step, field coordinates
uniform float u_grad_scale;  // |d field / d x| at full colour (mode 5)
uniform int u_channels;   // outputs shown (1..4)
uniform float u_error_gain;
uniform bool u_has_truth;
uniform sampler2D u_truth;  // ground truth, row 0 = top row of the image

out vec4 frag;

vec3 to_colour(vec4 v) {
    if (u_channels == 1) return vec3(v.x);
    if (u_channels == 2) return vec3(v.xy, 0.0);
    if (u_channels == 3) return v.rgb;
    return mix(checker(gl_FragCoord.xy), v.rgb, clamp(v.a, 0.0, 1.0));
}

vec4 truth_at(vec2 x) {
    ivec2 size = textureSize(u_truth, 0);
    ivec2 texel = clamp(ivec2(floor(x * vec2(size))), ivec2(0), size - 1);
    return texelFetch(u_truth, texel, 0);
}

// The picture of mode 0-2 at x (inside the image); `value` is field_eval(x) unless mode 1 shows
// the ground truth.
vec3 picture(vec2 x, vec4 value) {
    if (u_mode == 1 && u_has_truth) return clamp(to_colour(truth_at(x)), 0.0, 1.0);
    if (u_mode == 2 && u_has_truth) {
        vec4 diff = abs(value - truth_at(x));
        float err = (diff.x + diff.y + diff.z + diff.w) / float(u_channels);
        return inferno(err * u_error_gain);
    }
    return clamp(to_colour(value), 0.0, 1.0);
}

#ifdef VIEW_GRADIENT
// |d field / d x| at x: the Frobenius norm over the shown outputs and both coordinates (x in field
// coordinates [0,1]^2) of central differences at a sub-cell step u_grad_step. One call site in a
// loop: four inlined evaluations of a large field make the compile slow.
float gradient_norm(vec2 x) {
    const vec2 offsets[4] = vec2[4](vec2(1.0, 0.0), vec2(-1.0, 0.0), vec2(0.0, 1.0), vec2(0.0, -1.0));
    vec4 sides[4];
    for (int k = 0; k < 4; ++k) sides[k] = field_eval(vec3(x + u_grad_step * offsets[k], 0.0));
    vec4 dx = (sides[0] - sides[1]) / (2.0 * u_grad_step);
    vec4 dy = (sides[2] - sides[3]) / (2.0 * u_grad_step);
    vec4 shown = vec4(lessThan(vec4(0.0, 1.0, 2.0, 3.0), vec4(float(u_channels))));
    return sqrt(dot(dx * dx + dy * dy, shown));
}
#endif

void main() {
    // Pixel centres: (i + 0.5, j + 0.5) with j counted from the top row.
    vec2 pixel = vec2(gl_FragCoord.x, u_size.y - gl_FragCoord.y);
    vec2 uv = pixel / u_size;
    vec2 x = u_origin + uv.x * u_axis_x + uv.y * u_axis_y;
    bool outside = any(lessThan(x, vec2(0.0))) || any(greaterThan(x, vec2(1.0)));
#ifdef VIEW_GRADIENT
    float norm = gradient_norm(x);
    if (u_mode == 6) frag = vec4(norm, 0.0, 0.0, 1.0);
    else frag = outside ? vec4(checker(gl_FragCoord.xy), 1.0) : vec4(inferno(norm / u_grad_scale), 1.0);
#else
    if (u_mode == 3) {
        frag = field_eval(vec3(x, 0.0));
        return;
    }
    if (outside && u_mode != 4) {
        frag = vec4(checker(gl_FragCoord.xy), 1.0);
        return;
    }
    bool shows_truth = u_mode == 1 && u_has_truth;
    bool needs_value = (u_mode != 4 && !shows_truth) || u_heat == 2;
    vec4 value = needs_value ? field_eval(vec3(x, 0.0)) : vec4(0.0);
    if (u_mode == 4) {
        frag = vec4(heat_value(vec3(x, 0.0), value), 0.0, 0.0, 1.0);
        return;
    }
    vec3 colour = picture(x, value);
    if (u_heat != 0) colour = heat_over(colour, heat_value(vec3(x, 0.0), value));
    frag = vec4(colour, 1.0);
#endif
}
