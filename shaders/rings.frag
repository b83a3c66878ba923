#version 430
// A sigma circle: the level's colour, half transparent (premultiplied).
flat in vec3 v_colour;
out vec4 frag;

void main() {
    frag = vec4(0.55 * v_colour, 0.55);
}
