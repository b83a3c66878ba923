// Instant-NGP hash-grid field, evaluated for display: every level is a grid level of
// grid_levels.glsl (its header has the math, the constants and the table layout).

#include "grid_levels.glsl"

// The decoder input at x in [0,1]^D (x.z ignored for D=2).
void field_encode(vec3 x, out vec4 e[MLP_IN4]) {
    for (int i = 0; i < MLP_IN4; ++i) e[i] = vec4(0.0);
    for (int lvl = 0; lvl < FIELD_LEVELS; ++lvl) {
        if (!hg_level_on(lvl)) continue;
        for (int half_ = 0; half_ < HG_HALVES; ++half_) hg_put(e, lvl, half_, hg_level_features(x, lvl, half_));
    }
}

#include "field_eval.glsl"
