#version 430
// Sigma circles of the Lagrangian points (2D): one line strip of RING_SEGMENTS + 1 vertices per
// point (instanced), of radius sigma around the projected mean.
#include "project.glsl"

in vec3 in_mean;
in vec3 in_colour;
in float in_sigma;

flat out vec3 v_colour;

void main() {
    float radius;
    vec2 centre = project(in_mean, in_sigma, radius);
    float angle = 6.283185307179586 * float(gl_VertexID) / float(RING_SEGMENTS);
    v_colour = in_colour;
    gl_Position = clip_position(centre + radius * vec2(cos(angle), sin(angle)));
}
