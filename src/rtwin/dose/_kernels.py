"""numba kernels of the dose package (private; called through validating wrappers)."""

from __future__ import annotations

import math

import numpy as np

from rtwin._numba import jit, prange

#: Rays per block of the interleaved ray schedule (see :func:`siddon_path_integrals`).
_RAY_BLOCK = 64


@jit
def _clip_to_box(origin, delta, size):  # pragma: no cover - jit
    """``(t_low, t_high)`` of the segment ``origin + t·delta``, t in [0, 1], inside [-0.5, size - 0.5]."""
    low = -0.5
    high = size - 0.5
    if delta == 0.0:
        if origin < low or origin > high:
            return 1.0, 0.0
        return 0.0, 1.0
    t0 = (low - origin) / delta
    t1 = (high - origin) / delta
    if t0 > t1:
        t0, t1 = t1, t0
    return t0, t1


@jit
def _first_cell(origin, delta, t_mid, size):  # pragma: no cover - jit
    """Starting voxel, step, next boundary crossing and crossing interval along one axis."""
    position = origin + t_mid * delta
    cell = int(np.floor(position + 0.5))
    cell = min(max(cell, 0), size - 1)
    if delta > 0.0:
        return cell, 1, (cell + 0.5 - origin) / delta, 1.0 / delta
    if delta < 0.0:
        return cell, -1, (cell - 0.5 - origin) / delta, -1.0 / delta
    return cell, 0, np.inf, np.inf


@jit
def _path_integral(values, nx, ny, nz, sx, sy, sz, ex, ey, ez, limit):  # pragma: no cover - jit
    """Siddon's line integral (in units of the parameter t in [0, 1]) of one ray.

    ``values`` is the image flattened in C order. The walk stops early, with
    a partial sum ≥ ``limit``, once the sum reaches ``limit`` (sums only grow:
    the values are ≥ 0); ``limit = inf`` gives the whole integral.
    """
    dx = ex - sx
    dy = ey - sy
    dz = ez - sz
    # clip the segment t in [0, 1] to the grid box [-0.5, n - 0.5]
    t_low = 0.0
    t_high = 1.0
    a0, a1 = _clip_to_box(sx, dx, nx)
    if a0 > a1:
        return 0.0
    t_low = max(t_low, a0)
    t_high = min(t_high, a1)
    a0, a1 = _clip_to_box(sy, dy, ny)
    if a0 > a1:
        return 0.0
    t_low = max(t_low, a0)
    t_high = min(t_high, a1)
    a0, a1 = _clip_to_box(sz, dz, nz)
    if a0 > a1:
        return 0.0
    t_low = max(t_low, a0)
    t_high = min(t_high, a1)
    if t_high <= t_low:
        return 0.0
    # starting voxel: sample just inside the entry point
    t_mid = t_low + 1e-9 * (t_high - t_low)
    ix, step_x, next_x, delta_x = _first_cell(sx, dx, t_mid, nx)
    iy, step_y, next_y, delta_y = _first_cell(sy, dy, t_mid, ny)
    iz, step_z, next_z, delta_z = _first_cell(sz, dz, t_mid, nz)
    index = (iz * ny + iy) * nx + ix
    stride_y = step_y * nx
    stride_z = step_z * nx * ny
    total = 0.0
    t_current = t_low
    while t_current < t_high:
        # the axis whose boundary comes first (ties: x before y before z)
        if next_y < next_x:
            if next_z < next_y:
                axis = 2
                t_next = next_z
            else:
                axis = 1
                t_next = next_y
        elif next_z < next_x:
            axis = 2
            t_next = next_z
        else:
            axis = 0
            t_next = next_x
        t_exit = min(t_next, t_high)
        total += values[index] * (t_exit - t_current)
        t_current = t_exit
        if t_current >= t_high or total >= limit:
            break
        if axis == 0:
            ix += step_x
            index += step_x
            next_x += delta_x
            if ix < 0 or ix >= nx:
                break
        elif axis == 1:
            iy += step_y
            index += stride_y
            next_y += delta_y
            if iy < 0 or iy >= ny:
                break
        else:
            iz += step_z
            index += stride_z
            next_z += delta_z
            if iz < 0 or iz >= nz:
                break
    return total


@jit(parallel=True)
def siddon_path_integrals(
    values, to_index, sources, ray_source, points, ray_point, limits_mm
):  # pragma: no cover - jit
    """Line integrals (mm) of a voxel image along rays from sources to points.

    Siddon's exact radiological path: the ray is cut at every voxel
    boundary it crosses and each piece contributes ``value × length``.
    ``values`` is ``(nz, ny, nx)`` and ≥ 0; ``to_index`` is the ``(3, 4)``
    map from patient mm to continuous voxel indices ``(i, j, k)`` (voxel
    centres at integers, boundaries at half-integers). Ray ``r`` runs from
    ``sources[ray_source[r]]`` to ``points[ray_point[r]]`` (patient mm).
    Space outside the grid contributes nothing. Returns float64 ``(n_rays,)``.

    A ray from source s whose integral reaches ``limits_mm[s]`` (``inf`` for
    none) is not followed further: its result is then some value ≥ the
    limit. Rays are handed to the threads in interleaved blocks of 64 so
    that long and short rays (near and far side of the image) are shared
    evenly.
    """
    n_rays = ray_point.shape[0]
    nz, ny, nx = values.shape
    flat = values.reshape(-1)
    origins = np.empty((sources.shape[0], 3))
    for s in range(sources.shape[0]):
        for a in range(3):
            origins[s, a] = (
                to_index[a, 0] * sources[s, 0]
                + to_index[a, 1] * sources[s, 1]
                + to_index[a, 2] * sources[s, 2]
                + to_index[a, 3]
            )
    result = np.zeros(n_rays, dtype=np.float64)
    n_blocks = (n_rays + _RAY_BLOCK - 1) // _RAY_BLOCK
    n_lanes = min(n_blocks, 256)
    for lane in prange(n_lanes):
        for block in range(lane, n_blocks, n_lanes):
            stop = min((block + 1) * _RAY_BLOCK, n_rays)
            for ray in range(block * _RAY_BLOCK, stop):
                s = ray_source[ray]
                p = ray_point[ray]
                px = points[p, 0]
                py = points[p, 1]
                pz = points[p, 2]
                dx = px - sources[s, 0]
                dy = py - sources[s, 1]
                dz = pz - sources[s, 2]
                length = math.sqrt(dx * dx + dy * dy + dz * dz)
                # in units of t, a little above the limit so that stopping implies reaching it
                limit = limits_mm[s] / length * (1.0 + 1e-12)
                total = _path_integral(
                    flat,
                    nx,
                    ny,
                    nz,
                    origins[s, 0],
                    origins[s, 1],
                    origins[s, 2],
                    to_index[0, 0] * px
                    + to_index[0, 1] * py
                    + to_index[0, 2] * pz
                    + to_index[0, 3],
                    to_index[1, 0] * px
                    + to_index[1, 1] * py
                    + to_index[1, 2] * pz
                    + to_index[1, 3],
                    to_index[2, 0] * px
                    + to_index[2, 1] * py
                    + to_index[2, 2] * pz
                    + to_index[2, 3],
                    limit,
                )
                result[ray] = total * length
    return result
