// A NeRF's colour head for display (fields/scenes/appearance.py AppearanceHead): the field's outputs (all
// FIELD_OUT of them, the geometry features) and the view direction in real spherical harmonics of
// degree HEAD_SH -> an MLP (ReLU hidden layers, linear output) -> sigmoid -> RGB.
//
// Its weights sit in a uniform block in mlp.glsl's layout (app/render/decoder_gl.py packs them,
// app/render/nerf_head_gl.py uploads them). Everything here is compiled only for a snapshot with a
// colour head (NERF_HEAD defined). Defines: HEAD_IN4, HEAD_WIDTH0, HEAD_HIDDEN, HEAD_LAYERS,
// HEAD_OUT (3), HEAD_VEC4S, HEAD_SH.
#ifdef NERF_HEAD

layout(std140, binding = 2) uniform NerfHead { vec4 head_w[HEAD_VEC4S]; };

#define HEAD_HID4 ((HEAD_HIDDEN + 3) / 4)

// Real spherical harmonics of a unit direction up to degree HEAD_SH (fields/scenes/appearance.py sh_encode).
void head_sh(vec3 d, out float sh[16]) {
    float x = d.x, y = d.y, z = d.z;
    float xy = x * y, xz = x * z, yz = y * z, x2 = x * x, y2 = y * y, z2 = z * z;
    sh = float[16](
        0.28209479177387814,
        -0.48860251190291987 * y, 0.48860251190291987 * z, -0.48860251190291987 * x,
        1.0925484305920792 * xy, -1.0925484305920792 * yz, 0.94617469575755997 * z2 - 0.31539156525251999,
        -1.0925484305920792 * xz, 0.54627421529603959 * (x2 - y2),
        0.59004358992664352 * y * (-3.0 * x2 + y2), 2.8906114426405538 * xy * z,
        0.45704579946446572 * y * (1.0 - 5.0 * z2), 0.3731763325901154 * z * (5.0 * z2 - 3.0),
        0.45704579946446572 * x * (1.0 - 5.0 * z2), 1.4453057213202769 * z * (x2 - y2),
        0.59004358992664352 * x * (-x2 + 3.0 * y2));
}

// Layer 0 output unit j (pre-activation) of input e.
float head_first(vec4 e[HEAD_IN4], int j) {
    float s = head_w[HEAD_IN4 * HEAD_WIDTH0 + (j >> 2)][j & 3];
    for (int i = 0; i < HEAD_IN4; ++i) s += dot(head_w[j * HEAD_IN4 + i], e[i]);
    return s;
}

// The colour seen along unit direction d at a point whose field outputs are `outs`.
vec3 head_colour(vec4 outs[FIELD_OUT4], vec3 d) {
    vec4 e[HEAD_IN4];
    for (int i = 0; i < HEAD_IN4; ++i) e[i] = vec4(0.0);
    for (int k = 0; k < FIELD_OUT; ++k) e[k >> 2][k & 3] = outs[k >> 2][k & 3];
    float sh[16];
    head_sh(d, sh);
    for (int k = 0; k < HEAD_SH * HEAD_SH; ++k) e[(FIELD_OUT + k) >> 2][(FIELD_OUT + k) & 3] = sh[k];
    vec3 rgb;
#if HEAD_LAYERS == 0
    for (int j = 0; j < 3; ++j) rgb[j] = head_first(e, j);
#else
    vec4 a[HEAD_HID4];
    for (int j = 0; j < HEAD_WIDTH0; ++j) a[j >> 2][j & 3] = max(head_first(e, j), 0.0);
    int base = HEAD_IN4 * HEAD_WIDTH0 + HEAD_HID4;
    for (int layer = 1; layer <= HEAD_LAYERS; ++layer) {
        int width4 = layer == HEAD_LAYERS ? 1 : HEAD_HID4;
        vec4 z[HEAD_HID4];
        for (int ob = 0; ob < width4; ++ob) z[ob] = head_w[base + HEAD_HIDDEN * width4 + ob];
        for (int j = 0; j < HEAD_HIDDEN; ++j) {
            float h = a[j >> 2][j & 3];
            for (int ob = 0; ob < width4; ++ob) z[ob] += head_w[base + j * width4 + ob] * h;
        }
        base += (HEAD_HIDDEN + 1) * width4;
        for (int ob = 0; ob < width4; ++ob) a[ob] = max(z[ob], 0.0);
        rgb = z[0].rgb;
    }
#endif
    return 1.0 / (1.0 + exp(-rgb));
}

#endif
