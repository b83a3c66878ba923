"""Warp kernel that casts rays at a triangle mesh (`wp.Mesh`): the first hit of each ray, exact
(BVH traversal and ray-triangle tests), for rendering a mesh's views (fields/render/mesh_views.py).

Layout: origins (N, 3) and unit directions (N, 3) float32; outputs distance (N,) float32 (the ray
parameter t of the first hit, -1 where the ray hits nothing within max_t), face (N,) int32 (-1 on a
miss) and barycentrics (N, 2) float32: the hit point is u * p0 + v * p1 + (1 - u - v) * p2 of the
face's corners. Sliced by rays (gpu.runtime.launch_sliced): a thread writes only its own ray's row.
"""

from __future__ import annotations

import warp as wp

from fieldscope.gpu import runtime


@wp.kernel(enable_backward=False)
def cast_rays(
    mesh: wp.uint64,
    origins: wp.array2d(dtype=float),
    directions: wp.array2d(dtype=float),
    max_t: float,
    distance: wp.array(dtype=float),
    face: wp.array(dtype=int),
    barycentric: wp.array2d(dtype=float),
    slice_start: int,
    slice_stride: int,
):
    i = wp.tid() * slice_stride + slice_start
    o = wp.vec3(origins[i, 0], origins[i, 1], origins[i, 2])
    d = wp.vec3(directions[i, 0], directions[i, 1], directions[i, 2])
    q = wp.mesh_query_ray(mesh, o, d, max_t)
    distance[i] = -1.0
    face[i] = -1
    barycentric[i, 0] = 0.0
    barycentric[i, 1] = 0.0
    if q.result:
        distance[i] = q.t
        face[i] = q.face
        barycentric[i, 0] = q.u
        barycentric[i, 1] = q.v


def first_hits(
    mesh_id: int,
    origins: wp.array,
    directions: wp.array,
    max_t: float,
    distance: wp.array,
    face: wp.array,
    barycentric: wp.array,
) -> None:
    """distance (N,), face (N,), barycentric (N, 2) <- the first hit of rays origins + t * directions
    (N, 3 each), 0 <= t <= max_t, with the mesh (-1 distance and face where none)."""
    device = str(origins.device)
    runtime.ensure_loaded(cast_rays, device)
    inputs = [wp.uint64(mesh_id), origins, directions, float(max_t), distance, face, barycentric]
    runtime.launch_sliced(cast_rays, (origins.shape[0],), 0, inputs, device, interleave=True)
