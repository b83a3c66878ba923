// Projection of field points to view pixels (origin top-left), the inverse of what view2d.frag and
// view3d.frag do per pixel, with the same camera uniforms.
uniform int u_dims;
uniform vec2 u_size;
uniform vec2 u_origin;   // 2D: field coordinates at the top-left corner
uniform vec2 u_axis_x;   // 2D: field coordinates per view width
uniform vec2 u_axis_y;   // 2D: field coordinates per view height, top to bottom
uniform vec3 u_eye;      // 3D: pinhole camera
uniform vec3 u_forward;
uniform vec3 u_right;
uniform vec3 u_up;
uniform float u_tan_half_fov;

// The pixel position of p and the size in pixels of a length `size` at p (0: behind the eye).
vec2 project(vec3 p, float size, out float pixels) {
    if (u_dims == 2) {
        vec2 uv = vec2((p.x - u_origin.x) / u_axis_x.x, (p.y - u_origin.y) / u_axis_y.y);
        pixels = size / u_axis_x.x * u_size.x;
        return uv * u_size;
    }
    vec3 d = p - u_eye;
    float z = dot(d, u_forward);
    if (z <= 1e-4) {
        pixels = 0.0;
        return vec2(-1e6);
    }
    float aspect = u_size.x / u_size.y;
    vec2 ndc = vec2(dot(d, u_right) / (z * u_tan_half_fov * aspect), dot(d, u_up) / (z * u_tan_half_fov));
    pixels = size / (z * u_tan_half_fov) * 0.5 * u_size.y;
    return vec2(ndc.x + 1.0, 1.0 - ndc.y) * 0.5 * u_size;
}

vec4 clip_position(vec2 pixel) {
    return vec4(pixel.x / u_size.x * 2.0 - 1.0, 1.0 - pixel.y / u_size.y * 2.0, 0.0, 1.0);
}
