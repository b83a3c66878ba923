#version 430
// 3D view of a field over the unit cube [0,1]^3, from a pinhole camera: sphere tracing for signed
// distances, a marched level set for occupancy (logits), emission-absorption volume rendering for
// densities (a NeRF's colour and density as its scene renders them), and a slice plane coloured by
// the field's first output.
#include FIELD_INCLUDE
#include "nerf_head.glsl"
#include "colormaps.glsl"
#include "heatmaps.glsl"

uniform vec2 u_size;
uniform vec3 u_eye;
uniform vec3 u_forward;
uniform vec3 u_right;
uniform vec3 u_up;
uniform float u_tan_half_fov;
uniform int u_mode;          // 0 shaded, 1 normals, 2 depth, 3 slice, 4 density,
                             // 5 raw field on the slice, 6 slice point, 7 surface point,
                             // 8 raw heatmap value on the slice (heatmaps.glsl), 9 NeRF colour
                             // (the density mode where the snapshot has no colour head)
uniform int u_task;          // 0 signed distance, 1 occupancy logit, 2 density, 3 scalar volume, 4 NeRF
uniform float u_level;       // a scalar volume's surface value
uniform bool u_has_occupancy;   // a NeRF's occupancy grid: empty cells have no density (as in training)
uniform sampler3D u_occupancy;  // texel (z, y, x) = cell [x][y][z]
uniform int u_slice_axis;    // 0 x, 1 y, 2 z
uniform float u_slice_pos;
uniform float u_slice_scale; // |value| shown at full colour on the slice
uniform int u_steps;         // march steps across the cube (occupancy, density)
uniform float u_normal_eps;  // least central-difference step for normals: a few finest active cells
uniform float u_density_scale;
uniform float u_sdf_beta;    // width of the density shown for a signed distance (VolSDF)
uniform float u_nerf_dt;     // a NeRF's sample spacing along rays (its scene's render_steps)
uniform vec3 u_nerf_background;

out vec4 frag;

const int SPHERE_STEPS = 96;

vec3 background(vec3 dir) {
    return mix(vec3(0.10, 0.11, 0.13), vec3(0.22, 0.24, 0.28), 0.5 + 0.5 * dir.y);
}

// Entry and exit distances of the ray through the unit cube (t_far < t_near: a miss).
vec2 cube_span(vec3 o, vec3 d) {
    vec3 inv = 1.0 / d;
    vec3 a = (vec3(0.0) - o) * inv, b = (vec3(1.0) - o) * inv;
    vec3 lo = min(a, b), hi = max(a, b);
    return vec2(max(max(max(lo.x, lo.y), lo.z), 0.0), min(min(hi.x, hi.y), hi.z));
}

// Positive inside the surface, zero on it: -sdf, the occupancy logit, or a volume above its level.
float inside(vec3 p) {
    float v = field_eval(p).x;
    if (u_task == 3) return v - u_level;
    return u_task == 0 ? -v : v;
}

// A pixel's width at distance t along a ray: what a picture can resolve there.
float pixel_footprint(float t) {
    return 2.0 * u_tan_half_fov / u_size.y * t;
}

// Outward unit normal at p (seen at distance t) from central differences over the larger of a few
// finest cells and a pixel: a smaller step sees the grid's piecewise-linear kinks and hash noise,
// which speckle the picture.
vec3 surface_normal(vec3 p, float t) {
    vec2 e = vec2(max(u_normal_eps, pixel_footprint(t)), 0.0);
    vec3 g = vec3(inside(p + e.xyy) - inside(p - e.xyy),
                  inside(p + e.yxy) - inside(p - e.yxy),
                  inside(p + e.yyx) - inside(p - e.yyx));
    float len = length(g);
    return len > 0.0 ? -g / len : -normalize(vec3(p - 0.5));
}

// A normal seen along d never faces away from the viewer: on the rare noisy one, its component
// along the ray is mirrored (else the pixel would flip to the unlit side).
vec3 facing(vec3 n, vec3 d) {
    float away = dot(n, d);
    return away > 0.0 ? normalize(n - 2.0 * away * d) : n;
}

// A few more sphere-tracing steps from a stop at t, so the shaded point lies on the surface.
float refine_hit(vec3 o, vec3 d, float t) {
    for (int k = 0; k < 4; ++k) t += field_eval(o + t * d).x;
    return t;
}

// Distance along the ray to the surface, or -1.
float trace_surface(vec3 o, vec3 d, vec2 span) {
    if (u_task == 0) {
        float t = span.x;
        // pictures stop once the distance is under half a pixel's footprint at t (cone tracing's
        // test: several times fewer steps); surface points (picking) converge to 1e-4
        float pixels = u_mode == 7 ? 0.0 : 0.5;
        float s = 1.0;
        for (int i = 0; i < SPHERE_STEPS && t <= span.y; ++i) {
            s = field_eval(o + t * d).x;
            if (abs(s) < max(1e-4 * max(t, 1.0), pixels * pixel_footprint(t))) return refine_hit(o, d, t);
            t += s;
            t = max(t, span.x);
        }
        // out of steps while creeping along the surface (a grazing ray): a hit, not a hole
        return t <= span.y && abs(s) < pixel_footprint(t) ? refine_hit(o, d, t) : -1.0;
    }
    float dt = (span.y - span.x) / float(u_steps);
    float prev = inside(o + span.x * d);
    if (prev > 0.0) return span.x;
    for (int i = 1; i <= u_steps; ++i) {
        float t = span.x + float(i) * dt;
        float v = inside(o + t * d);
        if (v > 0.0) {
            float lo = t - dt, hi = t;
            for (int k = 0; k < 8; ++k) {
                float mid = 0.5 * (lo + hi);
                if (inside(o + mid * d) > 0.0) hi = mid; else lo = mid;
            }
            return hi;
        }
    }
    return -1.0;
}

float density_at(vec3 p, out vec3 colour) {
    vec4 v = field_eval(p);
    colour = vec3(0.9);
    // a NeRF's density: exp of its first output (Instant-NGP); its other outputs are the colour
    // head's features, not colours: shown grey
    if (u_task == 4) return exp(min(v.x, 15.0)) * u_density_scale;
#if FIELD_OUT >= 4
    colour = 1.0 / (1.0 + exp(-v.yzw));
#endif
    if (u_task == 0) return u_density_scale / (1.0 + exp(v.x / u_sdf_beta)) / u_sdf_beta * 0.02;
    if (u_task == 1) return u_density_scale / (1.0 + exp(-v.x)) * 20.0;
    return max(v.x, 0.0) * u_density_scale;
}

vec4 volume(vec3 o, vec3 d, vec2 span) {
    float dt = (span.y - span.x) / float(u_steps);
    vec3 colour = vec3(0.0);
    float transmittance = 1.0;
    for (int i = 0; i < u_steps && transmittance > 1e-3; ++i) {
        vec3 c, p = o + (span.x + (float(i) + 0.5) * dt) * d;
        if (u_has_occupancy && texture(u_occupancy, p.zyx).r < 0.5) continue;  // empty space: skipped
        float sigma = density_at(p, c);
        float alpha = 1.0 - exp(-sigma * dt);
        colour += transmittance * alpha * c;
        transmittance *= 1.0 - alpha;
    }
    return vec4(colour + transmittance * background(d), 1.0);
}

#ifdef NERF_HEAD
//: Transmittance under which a ray stops (fields/render/volume_rendering.py TERMINATION; live pictures:
//: app/render/nerf_head_gl.py LIVE_TERMINATION).
uniform float u_nerf_termination;
//: Sample weight under which the colour head is not run (it would add under 1e-6 per sample).
const float NERF_NEGLIGIBLE = 1e-6;

bool nerf_occupied(ivec3 cell) {
    return !u_has_occupancy || texelFetch(u_occupancy, cell.zyx, 0).r > 0.5;
}

// Distance along the ray to where it leaves occupancy cell `cell` (of `res` per axis).
float cell_exit(vec3 o, vec3 d, ivec3 cell, int res) {
    float t = 1e30, size = 1.0 / float(res);
    for (int a = 0; a < 3; ++a) {
        if (d[a] > 1e-12) t = min(t, (float(cell[a] + 1) * size - o[a]) / d[a]);
        else if (d[a] < -1e-12) t = min(t, (float(cell[a]) * size - o[a]) / d[a]);
    }
    return t;
}

// Volume rendering of a NeRF's colour as its scene renders views (fields/render/volume_rendering.py
// render_rays, gpu/volume_render.py): samples on the lattice t_k = (k + 1/2) dt of distances from the
// eye, inside the cube and in occupied cells (empty ones are jumped over), sigma = exp(output 0),
// composited until the transmittance is under u_nerf_termination, over the scene's background.
vec4 nerf_volume(vec3 o, vec3 d, vec2 span) {
    float dt = u_nerf_dt;
    int res = u_has_occupancy ? textureSize(u_occupancy, 0).x : 1;
    vec3 colour = vec3(0.0);
    float transmittance = 1.0;
    int k = int(ceil(span.x / dt - 0.5));
    for (int i = 0; i < 8192 && transmittance >= u_nerf_termination; ++i) {
        float t = (float(k) + 0.5) * dt;
        if (t >= span.y) break;
        vec3 p = o + t * d;
        ivec3 cell = clamp(ivec3(floor(p * float(res))), ivec3(0), ivec3(res - 1));
        if (!nerf_occupied(cell)) {
            k = max(k + 1, int(ceil(cell_exit(o, d, cell, res) / dt - 0.5)));
            continue;
        }
        k += 1;
        vec4 outs[FIELD_OUT4];
        field_eval_all(p, outs);
        float keep = exp(-exp(min(outs[0].x, 60.0)) * dt);
        float weight = transmittance * (1.0 - keep);
        if (weight > NERF_NEGLIGIBLE) colour += weight * head_colour(outs, d);
        transmittance *= keep;
    }
    return vec4(colour + transmittance * u_nerf_background, 1.0);
}
#endif

// Mode 9: a NeRF's colour, or the density mode for a snapshot without a colour head.
vec4 nerf_colour(vec3 o, vec3 d, vec2 span) {
#ifdef NERF_HEAD
    if (span.y <= span.x) return vec4(u_nerf_background, 1.0);
    return nerf_volume(o, d, span);
#else
    if (span.y <= span.x) return vec4(background(d), 1.0);
    return volume(o, d, span);
#endif
}

// The slice plane's point on the ray, and whether the ray meets the plane inside the cube.
bool slice_hit(vec3 o, vec3 d, out vec3 p) {
    float t = (u_slice_pos - o[u_slice_axis]) / d[u_slice_axis];
    p = o + t * d;
    return t > 0.0 && all(greaterThanEqual(p, vec3(0.0))) && all(lessThanEqual(p, vec3(1.0)));
}

vec4 slice_colour(vec3 p) {
    float v = field_eval(p).x;
    vec3 c = diverging(v, u_slice_scale);
    float line = abs(fract(v / u_slice_scale * 5.0 + 0.5) - 0.5);
    c *= mix(0.75, 1.0, smoothstep(0.0, 0.06, line));
    if (abs(v) < 0.004 * u_slice_scale * 5.0) c = vec3(0.05);
    return vec4(c, 1.0);
}

// Modes 0-4, 7 (surface point) and 9 (NeRF colour) along the ray o + t d.
vec4 shade(vec3 o, vec3 d) {
    vec2 span = cube_span(o, d);
    if (u_mode == 9) return nerf_colour(o, d, span);
    if (span.y <= span.x) return u_mode == 7 ? vec4(0.0) : vec4(background(d), 1.0);
    if (u_mode == 4) return volume(o, d, span);
    float t = trace_surface(o, d, span);
    if (t < 0.0) return u_mode == 7 ? vec4(0.0) : vec4(background(d), 1.0);
    vec3 p = o + t * d;
    if (u_mode == 7) return vec4(p, 1.0);
    if (u_mode == 2) {
        float near = max(length(u_eye - 0.5) - 0.87, 0.0);
        return vec4(vec3(1.0 - clamp((t - near) / 1.74, 0.0, 1.0)), 1.0);
    }
    vec3 n = facing(surface_normal(p, t), d);
    if (u_mode == 1) return vec4(0.5 + 0.5 * n, 1.0);
    vec3 light = normalize(-d + 0.6 * u_up + 0.3 * u_right);
    float diffuse = max(dot(n, light), 0.0);
    float rim = pow(1.0 - max(dot(n, -d), 0.0), 3.0);
    vec3 base = vec3(0.80, 0.72, 0.60);
    return vec4(base * (0.18 + 0.82 * diffuse) + 0.15 * rim, 1.0);
}

void main() {
    vec2 ndc = vec2(2.0 * gl_FragCoord.x / u_size.x - 1.0, 2.0 * gl_FragCoord.y / u_size.y - 1.0);
    float aspect = u_size.x / u_size.y;
    vec3 d = normalize(u_forward + ndc.x * u_tan_half_fov * aspect * u_right + ndc.y * u_tan_half_fov * u_up);
    vec3 o = u_eye;
    vec3 p;
    bool on = slice_hit(o, d, p);
    if (u_mode == 6) { frag = on ? vec4(p, 1.0) : vec4(0.0); return; }
    if (u_mode == 5) { frag = on ? field_eval(p) : vec4(0.0); return; }
    if (u_mode == 8) {
        frag = on ? vec4(heat_value(p, u_heat == 2 ? field_eval(p) : vec4(0.0)), 0.0, 0.0, 1.0) : vec4(0.0);
        return;
    }
    vec4 colour;
    if (u_mode == 3) colour = on ? slice_colour(p) : vec4(background(d), 1.0);
    else colour = shade(o, d);
    // a heatmap is drawn on the slice plane, over whatever the mode shows
    if (u_heat != 0 && on && u_mode != 7) {
        vec4 value = u_heat == 2 ? field_eval(p) : vec4(0.0);
        colour.rgb = heat_over(colour.rgb, heat_value(p, value));
    }
    frag = colour;
}
