// field_eval and field_eval_all of every kind with mlp.glsl's decoder, from its `field_encode` (the
// decoder input at x); kinds that keep the last input for the heatmaps define FIELD_KEEPS_ENCODING.

#define FIELD_OUT4 ((FIELD_OUT + 3) / 4)

// The field's first four outputs at x in [0,1]^D (x.z ignored for D=2), zero-padded.
vec4 field_eval(vec3 x) {
    vec4 e[MLP_IN4];
    field_encode(x, e);
#ifdef FIELD_KEEPS_ENCODING
    hg_last_e = e;
#endif
    return mlp_decode(e);
}

// All the field's outputs at x: outs[k] holds outputs 4k..4k+3 (zero-padded).
void field_eval_all(vec3 x, out vec4 outs[FIELD_OUT4]) {
    vec4 e[MLP_IN4];
    field_encode(x, e);
    mlp_decode_all(e, outs);
}
