#version 430
// Lagrangian points overlay, one quad per point (instanced, 4 vertices as a triangle strip): a dot
// at the projected mean and, in 3D, a splat of the point's projected sigma (at most u_max_splat
// pixels, so that wide early sigmas do not fill the screen).
#include "project.glsl"

in vec3 in_mean;
in vec3 in_colour;
in float in_sigma;
uniform float u_dot_radius;
uniform float u_max_splat;

out vec2 v_offset;
out float v_splat;
flat out vec3 v_colour;

void main() {
    float sigma_pixels;
    vec2 centre = project(in_mean, in_sigma, sigma_pixels);
    v_splat = u_dims == 3 ? min(sigma_pixels, u_max_splat) : 0.0;
    float extent = max(u_dot_radius, v_splat) + 1.5;
    vec2 corner = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1)) * 2.0 - 1.0;
    v_offset = corner * extent;
    v_colour = in_colour;
    gl_Position = clip_position(centre + v_offset);
}
