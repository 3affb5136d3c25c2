"""numba kernels of the dose package (private; called through validating wrappers)."""

from __future__ import annotations

import numpy as np

from rtwin._numba import jit, prange


@jit(parallel=True)
def siddon_path_integrals(values, source, ends, lengths_mm):  # pragma: no cover - jit
    """Line integrals of a voxel image from one source point to many end points.

    Siddon's exact radiological path: the ray is cut at every voxel
    boundary it crosses and each piece contributes ``value × length``.
    Coordinates are continuous voxel indices ``(i, j, k)`` (voxel centres at
    integers, boundaries at half-integers); ``values`` is ``(nz, ny, nx)``;
    ``lengths_mm`` are the physical lengths of the rays. Space outside the
    grid contributes nothing. Returns float64 ``(n_rays,)``.
    """
    n_rays = ends.shape[0]
    nz, ny, nx = values.shape
    sizes = np.array([nx, ny, nz], dtype=np.float64)
    result = np.zeros(n_rays, dtype=np.float64)
    for ray in prange(n_rays):
        delta = np.empty(3)
        for a in range(3):
            delta[a] = ends[ray, a] - source[a]
        # clip the segment t in [0, 1] to the grid box [-0.5, n - 0.5]
        t_low = 0.0
        t_high = 1.0
        empty = False
        for a in range(3):
            low = -0.5
            high = sizes[a] - 0.5
            if delta[a] == 0.0:
                if source[a] < low or source[a] > high:
                    empty = True
            else:
                t0 = (low - source[a]) / delta[a]
                t1 = (high - source[a]) / delta[a]
                if t0 > t1:
                    t0, t1 = t1, t0
                t_low = max(t_low, t0)
                t_high = min(t_high, t1)
        if empty or t_high <= t_low:
            continue
        # starting voxel: sample just inside the entry point
        t_mid = t_low + 1e-9 * (t_high - t_low)
        index = np.empty(3, dtype=np.int64)
        step = np.empty(3, dtype=np.int64)
        t_next = np.empty(3)
        t_delta = np.empty(3)
        for a in range(3):
            position = source[a] + t_mid * delta[a]
            cell = int(np.floor(position + 0.5))
            cell = min(max(cell, 0), int(sizes[a]) - 1)
            index[a] = cell
            if delta[a] > 0.0:
                step[a] = 1
                t_next[a] = (cell + 0.5 - source[a]) / delta[a]
                t_delta[a] = 1.0 / delta[a]
            elif delta[a] < 0.0:
                step[a] = -1
                t_next[a] = (cell - 0.5 - source[a]) / delta[a]
                t_delta[a] = -1.0 / delta[a]
            else:
                step[a] = 0
                t_next[a] = np.inf
                t_delta[a] = np.inf
        total = 0.0
        t_current = t_low
        while t_current < t_high:
            axis = 0
            if t_next[1] < t_next[axis]:
                axis = 1
            if t_next[2] < t_next[axis]:
                axis = 2
            t_exit = min(t_next[axis], t_high)
            total += values[index[2], index[1], index[0]] * (t_exit - t_current)
            t_current = t_exit
            if t_current >= t_high:
                break
            index[axis] += step[axis]
            t_next[axis] += t_delta[axis]
            if index[axis] < 0 or index[axis] >= sizes[axis]:
                break
        result[ray] = total * lengths_mm[ray]
    return result
