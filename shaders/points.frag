#version 430
// A point of the overlay: a dot of the level's colour (with a dark rim when it is large enough),
// over a soft splat (3D).
// Output is premultiplied by alpha.
in vec2 v_offset;
in float v_splat;
flat in vec3 v_colour;
uniform float u_dot_radius;

out vec4 frag;

void main() {
    float r = length(v_offset);
    float dot_alpha = clamp(u_dot_radius + 0.5 - r, 0.0, 1.0);
    float rim = u_dot_radius >= 2.0 ? clamp(r - (u_dot_radius - 1.0), 0.0, 1.0) : 0.0;
    vec3 dot_colour = mix(v_colour, vec3(0.05), rim);
    float splat_alpha = v_splat > 0.0 ? 0.35 * exp(-0.5 * (r * r) / (v_splat * v_splat)) : 0.0;
    float alpha = dot_alpha + (1.0 - dot_alpha) * splat_alpha;
    if (alpha <= 0.0) discard;
    frag = vec4(dot_colour * dot_alpha + v_colour * (1.0 - dot_alpha) * splat_alpha, alpha);
}
