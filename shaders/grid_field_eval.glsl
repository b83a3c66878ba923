// field_eval and field_eval_all of the grid-based kinds, from their `field_encode` (the decoder
// input at x) and the decoder of mlp.glsl.

#define FIELD_OUT4 ((FIELD_OUT + 3) / 4)

// The field's first four outputs at x in [0,1]^D (x.z ignored for D=2), zero-padded.
vec4 field_eval(vec3 x) {
    vec4 e[MLP_IN4];
    field_encode(x, e);
    hg_last_e = e;
    return mlp_decode(e);
}

// All the field's outputs at x: outs[k] holds outputs 4k..4k+3 (zero-padded).
void field_eval_all(vec3 x, out vec4 outs[FIELD_OUT4]) {
    vec4 e[MLP_IN4];
    field_encode(x, e);
    mlp_decode_all(e, outs);
}
