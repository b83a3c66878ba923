// Colour maps for scalar views.

// Perceptual dark-to-bright map (a polynomial fit of matplotlib's inferno), t in [0,1].
vec3 inferno(float t) {
    t = clamp(t, 0.0, 1.0);
    const vec3 c0 = vec3(0.0002189403691192265, 0.001651004631001012, -0.01948089843709184);
    const vec3 c1 = vec3(0.1065134194856116, 0.5639564367884091, 3.932712388889277);
    const vec3 c2 = vec3(11.60249308247187, -3.972853965665698, -15.9423941062914);
    const vec3 c3 = vec3(-41.70399613139459, 17.43639888205313, 44.35414519872813);
    const vec3 c4 = vec3(77.162935699427, -33.40235894210092, -81.80730925738993);
    const vec3 c5 = vec3(-71.31942824499214, 32.62606426397723, 73.20951985803202);
    const vec3 c6 = vec3(25.13112622477341, -12.24266895238567, -23.07032500287172);
    return clamp(c0 + t * (c1 + t * (c2 + t * (c3 + t * (c4 + t * (c5 + t * c6))))), 0.0, 1.0);
}

// Signed values: blue below zero, red above, white at zero; |v| = scale is full colour.
vec3 diverging(float v, float scale) {
    float t = clamp(v / scale, -1.0, 1.0);
    vec3 cold = vec3(0.23, 0.30, 0.75), warm = vec3(0.71, 0.02, 0.15), mid = vec3(0.95);
    return t < 0.0 ? mix(mid, cold, -t) : mix(mid, warm, t);
}

// A checkerboard for "outside the field" areas, from pixel coordinates.
vec3 checker(vec2 pixel) {
    ivec2 cell = ivec2(floor(pixel / 12.0));
    return ((cell.x + cell.y) & 1) == 0 ? vec3(0.16) : vec3(0.20);
}
