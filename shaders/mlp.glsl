// The fields' MLP decoder (fields/field.py: ReLU hidden layers, linear output) for display.
//
// Weights live in a uniform block: llvmpipe (the CPU OpenGL used without a GPU) reads a uniform
// block at a loop-dependent offset as one broadcast load, where a storage buffer costs a load per
// pixel lane (about 15x slower here). app/render/decoder_gl.py packs them:
//   layer 0 (input -> MLP_WIDTH0): per output unit j, its weight row in MLP_IN4 vec4s (zero-padded),
//     then the biases in ceil(MLP_WIDTH0/4) vec4s;
//   each later layer (MLP_HIDDEN -> width): per input unit j, its weight column in ceil(width/4)
//     vec4s, then the biases in ceil(width/4) vec4s.
// Defines: MLP_IN4, MLP_WIDTH0, MLP_HIDDEN, MLP_LAYERS (hidden layers), MLP_OUT, MLP_VEC4S.

// With MLP_TEXTURE defined the same vec4s come from a float texture instead (decoders too large for
// a uniform block: the Fourier-feature and plain-MLP kinds), vec4 i at texel (i % 4096, i / 4096).
// With MLP_SINE defined hidden layers are sin(z) (a SIREN whose omega is folded into the weights).

#ifdef MLP_TEXTURE
uniform sampler2D mlp_tex;
#define MLP_W(i) texelFetch(mlp_tex, ivec2((i) & 4095, (i) >> 12), 0)
#else
layout(std140, binding = 0) uniform MlpDecoder { vec4 mlp_w[MLP_VEC4S]; };
#define MLP_W(i) mlp_w[i]
#endif

#ifdef MLP_SINE
#define MLP_ACT(z) sin(z)
#else
#define MLP_ACT(z) max(z, 0.0)
#endif

#define MLP_HID4 ((MLP_HIDDEN + 3) / 4)
#define MLP_OUT4 ((MLP_OUT + 3) / 4)

// Layer 0 output unit j (pre-activation).
float mlp_first(vec4 e[MLP_IN4], int j) {
    float s = MLP_W(MLP_IN4 * MLP_WIDTH0 + (j >> 2))[j & 3];
    for (int i = 0; i < MLP_IN4; ++i) s += dot(MLP_W(j * MLP_IN4 + i), e[i]);
    return s;
}

// All outputs: outs[k] holds outputs 4k..4k+3 (zero-padded).
void mlp_decode_all(vec4 e[MLP_IN4], out vec4 outs[MLP_OUT4]) {
#if MLP_LAYERS == 0
    for (int ob = 0; ob < MLP_OUT4; ++ob) {
        outs[ob] = vec4(0.0);
        for (int c = 0; c < 4 && 4 * ob + c < MLP_OUT; ++c) outs[ob][c] = mlp_first(e, 4 * ob + c);
    }
#else
    // Layer 0 and layer 1 fused: each hidden unit of layer 0 is added into layer 1 at once.
    int base = MLP_IN4 * MLP_WIDTH0 + (MLP_WIDTH0 + 3) / 4;
#if MLP_LAYERS == 1
    const int W4 = MLP_OUT4;
#else
    const int W4 = MLP_HID4;
#endif
    vec4 acc[max(MLP_HID4, MLP_OUT4)];
    for (int ob = 0; ob < W4; ++ob) acc[ob] = MLP_W(base + MLP_HIDDEN * W4 + ob);
    for (int j = 0; j < MLP_HIDDEN; ++j) {
        float h = MLP_ACT(mlp_first(e, j));
        for (int ob = 0; ob < W4; ++ob) acc[ob] += MLP_W(base + j * W4 + ob) * h;
    }
    base += (MLP_HIDDEN + 1) * W4;
#if MLP_LAYERS > 1
    vec4 hidden[MLP_HID4];
    for (int layer = 2; layer <= MLP_LAYERS; ++layer) {
        int width4 = layer == MLP_LAYERS ? MLP_OUT4 : MLP_HID4;
        for (int ib = 0; ib < MLP_HID4; ++ib) hidden[ib] = MLP_ACT(acc[ib]);
        for (int ob = 0; ob < width4; ++ob) acc[ob] = MLP_W(base + MLP_HIDDEN * width4 + ob);
        for (int j = 0; j < MLP_HIDDEN; ++j) {
            float h = hidden[j >> 2][j & 3];
            for (int ob = 0; ob < width4; ++ob) acc[ob] += MLP_W(base + j * width4 + ob) * h;
        }
        base += (MLP_HIDDEN + 1) * width4;
    }
#endif
    for (int ob = 0; ob < MLP_OUT4; ++ob) outs[ob] = acc[ob];
#endif
}

// The first four outputs.
vec4 mlp_decode(vec4 e[MLP_IN4]) {
    vec4 outs[MLP_OUT4];
    mlp_decode_all(e, outs);
    return outs[0];
}
