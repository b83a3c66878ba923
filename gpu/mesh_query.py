"""Warp kernels that ask a triangle mesh (`wp.Mesh`) about points: signed distance with the face
normal of the closest point, and inside/outside.

Signs (the `sign_mode` argument):
- WINDING: the generalised winding number (Warp's fast approximation, threshold 0.5). It gives a
  sane sign for meshes with holes or several overlapping shells; the slowest (about 10-15 us per
  point on one CPU core). The mesh must be built with support_winding_number=True.
- PARITY: the majority vote of three ray-crossing parities along fixed, slightly tilted directions
  (tilted so that no ray runs along an axis-aligned edge of a CAD mesh). Exact for watertight
  meshes and 10-20x cheaper.
- UNSIGNED: no sign (distance >= 0), for the distance from a point to an extracted surface.

Layout: points (N, 3) float32; distance (N,), normal (N, 3), inside (N,) int32 outputs. Every
kernel ends with the slice parameters of gpu.runtime.launch_sliced and is sliced by points: a
thread writes only its own point's outputs, so concurrent CPU slices never race.
"""

from __future__ import annotations

import warp as wp

from fieldscope.gpu import runtime

WINDING = 0
PARITY = 1
UNSIGNED = 2


@wp.func
def parity_inside(mesh: wp.uint64, p: wp.vec3) -> int:
    """1 when at least two of three rays from p cross the mesh an odd number of times."""
    root = wp.mesh_get_group_root(mesh, 0)
    votes = int(0)
    n0 = wp.mesh_query_ray_count_intersections(mesh, p, wp.normalize(wp.vec3(1.0, 0.0123, 0.0071)), root)
    n1 = wp.mesh_query_ray_count_intersections(mesh, p, wp.normalize(wp.vec3(0.0093, 1.0, 0.0161)), root)
    n2 = wp.mesh_query_ray_count_intersections(mesh, p, wp.normalize(wp.vec3(0.0137, 0.0059, 1.0)), root)
    votes = (n0 % 2) + (n1 % 2) + (n2 % 2)
    return wp.where(votes >= 2, 1, 0)


@wp.func
def point_of(points: wp.array2d(dtype=float), i: int) -> wp.vec3:
    return wp.vec3(points[i, 0], points[i, 1], points[i, 2])


@wp.kernel(enable_backward=False)
def query_signed_distance(
    mesh: wp.uint64,
    points: wp.array2d(dtype=float),
    max_dist: float,
    sign_mode: int,
    accuracy: float,
    distance: wp.array(dtype=float),
    normal: wp.array2d(dtype=float),
    slice_start: int,
    slice_stride: int,
):
    i = wp.tid() * slice_stride + slice_start
    p = point_of(points, i)
    dist = float(max_dist)
    n = wp.vec3(0.0)
    sign = float(1.0)
    if sign_mode == WINDING:
        q = wp.mesh_query_point_sign_winding_number(mesh, p, max_dist, accuracy, 0.5)
        if q.result:
            dist = wp.length(p - wp.mesh_eval_position(mesh, q.face, q.u, q.v))
            n = wp.mesh_eval_face_normal(mesh, q.face)
            sign = q.sign
    else:
        q = wp.mesh_query_point_no_sign(mesh, p, max_dist)
        if q.result:
            dist = wp.length(p - wp.mesh_eval_position(mesh, q.face, q.u, q.v))
            n = wp.mesh_eval_face_normal(mesh, q.face)
        if sign_mode == PARITY and parity_inside(mesh, p) == 1:
            sign = -1.0
    distance[i] = sign * dist
    for d in range(3):
        normal[i, d] = n[d]


@wp.kernel(enable_backward=False)
def query_inside(
    mesh: wp.uint64,
    points: wp.array2d(dtype=float),
    sign_mode: int,
    accuracy: float,
    inside: wp.array(dtype=int),
    slice_start: int,
    slice_stride: int,
):
    i = wp.tid() * slice_stride + slice_start
    p = point_of(points, i)
    if sign_mode == WINDING:
        # the sign comes with a closest-point search, which must find a face: no distance limit
        q = wp.mesh_query_point_sign_winding_number(mesh, p, 1.0e30, accuracy, 0.5)
        inside[i] = wp.where(q.result and q.sign < 0.0, 1, 0)
    else:
        inside[i] = parity_inside(mesh, p)


def signed_distance(
    mesh_id: int,
    points: wp.array,
    max_dist: float,
    sign_mode: int,
    accuracy: float,
    distance: wp.array,
    normal: wp.array,
) -> None:
    """distance (N,) <- signed distance of points (N, 3) to the mesh (max_dist where no face is that
    close; negative inside), normal (N, 3) <- unit normal of the closest face (zero if none)."""
    device = str(points.device)
    runtime.ensure_loaded(query_signed_distance, device)
    inputs = [wp.uint64(mesh_id), points, float(max_dist), int(sign_mode), float(accuracy), distance, normal]
    runtime.launch_sliced(query_signed_distance, (points.shape[0],), 0, inputs, device, interleave=True)


def inside(mesh_id: int, points: wp.array, sign_mode: int, accuracy: float, out: wp.array) -> None:
    """out (N,) int32 <- 1 where points (N, 3) are inside the mesh, else 0 (WINDING or PARITY)."""
    device = str(points.device)
    runtime.ensure_loaded(query_inside, device)
    inputs = [wp.uint64(mesh_id), points, int(sign_mode), float(accuracy), out]
    runtime.launch_sliced(query_inside, (points.shape[0],), 0, inputs, device, interleave=True)
