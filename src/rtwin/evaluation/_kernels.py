"""numba kernels for evaluation (private; called through the wrappers in _dvh.py and _gamma.py)."""

from __future__ import annotations

import numpy as np

from rtwin._numba import jit, prange

#: Points this far (in voxels) beyond the dose grid's extent still count as inside.
_EXTENT_TOLERANCE = 1e-9


@jit
def trilinear(values, x, y, z):  # pragma: no cover - jit
    """Trilinear interpolation of ``values (nz, ny, nx)`` at continuous index ``(x, y, z)``.

    Zero outside the grid's extent (half a voxel beyond the outer centres);
    in the half-voxel rim the edge value (the same rule as ``Dose.at``).
    """
    nz, ny, nx = values.shape
    lower = -0.5 - _EXTENT_TOLERANCE
    if x < lower or y < lower or z < lower:
        return 0.0
    if (
        x > nx - 0.5 + _EXTENT_TOLERANCE
        or y > ny - 0.5 + _EXTENT_TOLERANCE
        or z > nz - 0.5 + _EXTENT_TOLERANCE
    ):
        return 0.0
    x = min(max(x, 0.0), nx - 1.0)
    y = min(max(y, 0.0), ny - 1.0)
    z = min(max(z, 0.0), nz - 1.0)
    i0 = min(int(np.floor(x)), max(nx - 2, 0))
    j0 = min(int(np.floor(y)), max(ny - 2, 0))
    k0 = min(int(np.floor(z)), max(nz - 2, 0))
    i1 = min(i0 + 1, nx - 1)
    j1 = min(j0 + 1, ny - 1)
    k1 = min(k0 + 1, nz - 1)
    fx = x - i0
    fy = y - j0
    fz = z - k0
    c00 = values[k0, j0, i0] * (1.0 - fx) + values[k0, j0, i1] * fx
    c01 = values[k0, j1, i0] * (1.0 - fx) + values[k0, j1, i1] * fx
    c10 = values[k1, j0, i0] * (1.0 - fx) + values[k1, j0, i1] * fx
    c11 = values[k1, j1, i0] * (1.0 - fx) + values[k1, j1, i1] * fx
    c0 = c00 * (1.0 - fy) + c01 * fy
    c1 = c10 * (1.0 - fy) + c11 * fy
    return c0 * (1.0 - fz) + c1 * fz


@jit(parallel=True)
def sample_dose(values, transform, voxels, refined, subdivisions, starts):  # pragma: no cover
    """Dose at the sample points of structure voxels.

    Parameters (plain arrays)
    -------------------------
    values
        Dose ``(nz, ny, nx)`` float32.
    transform
        ``(3, 4)`` float64: structure index ``(i, j, k, 1)`` → dose index ``(i, j, k)``.
    voxels
        ``(n, 3)`` int64 structure voxel indices ``(i, j, k)``.
    refined
        ``(n,)`` bool: sample the voxel on a sub-lattice instead of its centre.
    subdivisions
        ``(3,)`` int64 sub-lattice points along ``i, j, k`` for refined voxels.
    starts
        ``(n + 1,)`` int64 offsets of each voxel's samples in the output.

    Returns float64 ``(starts[-1],)``: one dose per sample, the centre first
    for unrefined voxels, the sub-lattice in ``(i, j, k)``-nested order
    (``k`` fastest) for refined ones. Each voxel writes its own slice.
    """
    n = voxels.shape[0]
    out = np.empty(starts[n], dtype=np.float64)
    ni = subdivisions[0]
    nj = subdivisions[1]
    nk = subdivisions[2]
    for v in prange(n):
        ci = voxels[v, 0] * 1.0
        cj = voxels[v, 1] * 1.0
        ck = voxels[v, 2] * 1.0
        position = starts[v]
        if not refined[v]:
            x = transform[0, 0] * ci + transform[0, 1] * cj + transform[0, 2] * ck + transform[0, 3]
            y = transform[1, 0] * ci + transform[1, 1] * cj + transform[1, 2] * ck + transform[1, 3]
            z = transform[2, 0] * ci + transform[2, 1] * cj + transform[2, 2] * ck + transform[2, 3]
            out[position] = trilinear(values, x, y, z)
            continue
        for a in range(ni):
            si = ci + (a + 0.5) / ni - 0.5
            for b in range(nj):
                sj = cj + (b + 0.5) / nj - 0.5
                for c in range(nk):
                    sk = ck + (c + 0.5) / nk - 0.5
                    x = (
                        transform[0, 0] * si
                        + transform[0, 1] * sj
                        + transform[0, 2] * sk
                        + transform[0, 3]
                    )
                    y = (
                        transform[1, 0] * si
                        + transform[1, 1] * sj
                        + transform[1, 2] * sk
                        + transform[1, 3]
                    )
                    z = (
                        transform[2, 0] * si
                        + transform[2, 1] * sj
                        + transform[2, 2] * sk
                        + transform[2, 3]
                    )
                    out[position] = trilinear(values, x, y, z)
                    position += 1
    return out


# ---------------------------------------------------------------------------- gamma

#: Search points this far (in evaluated voxels) beyond the outer voxel centres still count as inside.
_GAMMA_INSIDE_TOLERANCE = 1e-9
#: Reference points handled in a row by one thread (neighbours share cache lines).
_GAMMA_CHUNK = 64
#: Interleaved groups of chunks handed to ``prange``: balances threads when failing voxels cluster.
_GAMMA_GROUPS = 1024


@jit
def _gamma_inside(nx, ny, nz, x, y, z):  # pragma: no cover - jit
    """Whether continuous index ``(x, y, z)`` lies within the outer voxel centres."""
    tolerance = _GAMMA_INSIDE_TOLERANCE
    return (
        x >= -tolerance
        and y >= -tolerance
        and z >= -tolerance
        and x <= nx - 1.0 + tolerance
        and y <= ny - 1.0 + tolerance
        and z <= nz - 1.0 + tolerance
    )


@jit
def _gamma_at_point(  # pragma: no cover - jit
    values,
    cell_bounds,
    block_bounds,
    x,
    y,
    z,
    reference_gy,
    inverse_tolerance_sq,
    offsets,
    local_offsets,
    distance_sq,
    brick_starts,
    brick_cells,
    brick_distance_sq,
    cap_sq,
    block,
):
    """``min(γ², cap_sq)`` at one reference point; NaN when no search point is inside.

    ``block`` is a scratch buffer of 27 float64 (one per thread).
    """
    nz, ny, nx = values.shape
    if not _gamma_inside(nx, ny, nz, x, y, z):
        found = False
        for p in range(offsets.shape[0]):
            if _gamma_inside(nx, ny, nz, x + offsets[p, 0], y + offsets[p, 1], z + offsets[p, 2]):
                found = True
                break
        if not found:
            return np.nan
    base_i = int(np.floor(x))
    base_j = int(np.floor(y))
    base_k = int(np.floor(z))
    fx = x - base_i
    fy = y - base_j
    fz = z - base_k
    # On a voxel centre a brick's points stay in one cell: its 2×2×2 corners bound them.
    bounds = cell_bounds if (fx == 0.0 and fy == 0.0 and fz == 0.0) else block_bounds
    best = cap_sq
    for b in range(brick_distance_sq.shape[0]):
        nearest = brick_distance_sq[b]
        if nearest >= best:
            break  # bricks come by increasing distance: nothing further can do better
        # The brick's points lie in [start, start + 2) along each axis (evaluated index).
        si = base_i + brick_cells[b, 0]
        sj = base_j + brick_cells[b, 1]
        sk = base_k + brick_cells[b, 2]
        if si < -2 or sj < -2 or sk < -2 or si > nx - 1 or sj > ny - 1 or sk > nz - 1:
            continue  # every point of the brick lies outside the evaluated grid
        low = bounds[max(sk, 0), max(sj, 0), max(si, 0), 0]
        high = bounds[max(sk, 0), max(sj, 0), max(si, 0), 1]
        gap = 0.0
        if low > reference_gy:
            gap = low - reference_gy
        elif high < reference_gy:
            gap = reference_gy - high
        dose_term = gap * gap * inverse_tolerance_sq
        if nearest + dose_term >= best:
            continue  # no dose in the brick's voxels comes close enough
        interior = (
            si >= 0
            and sj >= 0
            and sk >= 0
            and si + 2 <= nx - 1
            and sj + 2 <= ny - 1
            and sk + 2 <= nz - 1
        )
        for c in range(3):
            kk = min(max(sk + c, 0), nz - 1)
            for r in range(3):
                jj = min(max(sj + r, 0), ny - 1)
                for a in range(3):
                    block[9 * c + 3 * r + a] = values[kk, jj, min(max(si + a, 0), nx - 1)]
        for p in range(brick_starts[b], brick_starts[b + 1]):
            d2 = distance_sq[p]
            if d2 + dose_term >= best:
                break  # points come by increasing distance within a brick
            ux = fx + local_offsets[p, 0]
            uy = fy + local_offsets[p, 1]
            uz = fz + local_offsets[p, 2]
            if not interior and not _gamma_inside(nx, ny, nz, si + ux, sj + uy, sk + uz):
                continue
            a = min(int(ux), 1)
            r = min(int(uy), 1)
            c = min(int(uz), 1)
            tx = ux - a
            ty = uy - r
            tz = uz - c
            o = 9 * c + 3 * r + a
            c00 = block[o] + tx * (block[o + 1] - block[o])
            c10 = block[o + 3] + tx * (block[o + 4] - block[o + 3])
            c01 = block[o + 9] + tx * (block[o + 10] - block[o + 9])
            c11 = block[o + 12] + tx * (block[o + 13] - block[o + 12])
            c0 = c00 + ty * (c10 - c00)
            c1 = c01 + ty * (c11 - c01)
            difference = c0 + tz * (c1 - c0) - reference_gy
            g2 = d2 + difference * difference * inverse_tolerance_sq
            if g2 < best:
                best = g2
    return best


@jit(parallel=True)
def gamma_search(  # pragma: no cover - jit
    values,
    cell_bounds,
    block_bounds,
    positions,
    reference_gy,
    inverse_tolerance_sq,
    offsets,
    local_offsets,
    distance_sq,
    brick_starts,
    brick_cells,
    brick_distance_sq,
    cap_sq,
):
    """Squared gamma of reference points against a trilinearly interpolated evaluated dose.

    Parameters (plain arrays)
    -------------------------
    values
        Evaluated dose ``(nz, ny, nx)`` float32.
    cell_bounds, block_bounds
        ``(nz, ny, nx, 2)`` float32: least and greatest of
        ``values[k:k+w, j:j+w, i:i+w]`` (clipped at the grid's end) for
        ``w = 2`` and ``w = 3``.
    positions
        ``(n, 3)`` float64 reference points as continuous evaluated indices
        ``(i, j, k)``; on a voxel centre exactly when integer.
    reference_gy
        ``(n,)`` float64 reference doses.
    inverse_tolerance_sq
        ``(n,)`` float64: ``1 / ΔD²`` per point (global or local criterion).
    offsets
        ``(m, 3)`` float64 search offsets in evaluated index units ``(i, j, k)``,
        laid out brick by brick (a brick: the offsets sharing
        ``floor(offset)``), by increasing distance within a brick.
    local_offsets
        ``(m, 3)`` float64: ``offset - floor(offset)``, in ``[0, 1)``.
    distance_sq
        ``(m,)`` float64: ``|offset|² / DTA²`` (offset measured in mm).
    brick_starts
        ``(b + 1,)`` int64: each brick's slice of the offsets.
    brick_cells
        ``(b, 3)`` int64: ``floor(offset)`` shared by the brick's offsets.
    brick_distance_sq
        ``(b,)`` float64: each brick's smallest ``distance_sq``, ascending.
    cap_sq
        Square of the gamma cap.

    Returns float64 ``(n,)``: ``min(γ², cap_sq)`` over the search points
    inside the evaluated grid (within its outer voxel centres), NaN where
    none is. The search for a point stops once the distance term alone
    reaches the best value so far, and skips a brick whose evaluated voxels'
    dose range cannot beat it. Each reference point writes its own element;
    chunks of neighbouring points are interleaved over the threads, each
    with its own scratch buffer.
    """
    n = positions.shape[0]
    out = np.empty(n, dtype=np.float64)
    n_chunks = (n + _GAMMA_CHUNK - 1) // _GAMMA_CHUNK
    n_groups = min(n_chunks, _GAMMA_GROUPS)
    for group in prange(n_groups):
        block = np.empty(27, dtype=np.float64)
        for chunk in range(group, n_chunks, n_groups):
            stop = min((chunk + 1) * _GAMMA_CHUNK, n)
            for v in range(chunk * _GAMMA_CHUNK, stop):
                out[v] = _gamma_at_point(
                    values,
                    cell_bounds,
                    block_bounds,
                    positions[v, 0],
                    positions[v, 1],
                    positions[v, 2],
                    reference_gy[v],
                    inverse_tolerance_sq[v],
                    offsets,
                    local_offsets,
                    distance_sq,
                    brick_starts,
                    brick_cells,
                    brick_distance_sq,
                    cap_sq,
                    block,
                )
    return out


@jit(parallel=True)
def window_bounds(values, width):  # pragma: no cover - jit
    """Least and greatest of ``values[k:k+width, j:j+width, i:i+width]`` (clipped at the end).

    Returns float32 ``(nz, ny, nx, 2)``: ``[..., 0]`` the minimum, ``[..., 1]``
    the maximum. Separable: along ``i``, then ``j``, then ``k``; each pass
    writes slice ``k`` (or column ``(j, i)``) from one thread.
    """
    nz, ny, nx = values.shape
    along_i = np.empty((nz, ny, nx, 2), dtype=np.float32)
    for k in prange(nz):
        for j in range(ny):
            for i in range(nx):
                low = values[k, j, i]
                high = low
                for a in range(i + 1, min(i + width, nx)):
                    low = min(low, values[k, j, a])
                    high = max(high, values[k, j, a])
                along_i[k, j, i, 0] = low
                along_i[k, j, i, 1] = high
    along_j = np.empty((nz, ny, nx, 2), dtype=np.float32)
    for k in prange(nz):
        for j in range(ny):
            for i in range(nx):
                low = along_i[k, j, i, 0]
                high = along_i[k, j, i, 1]
                for b in range(j + 1, min(j + width, ny)):
                    low = min(low, along_i[k, b, i, 0])
                    high = max(high, along_i[k, b, i, 1])
                along_j[k, j, i, 0] = low
                along_j[k, j, i, 1] = high
    out = along_i  # reused: every element is written below from along_j
    for k in prange(nz):
        for j in range(ny):
            for i in range(nx):
                low = along_j[k, j, i, 0]
                high = along_j[k, j, i, 1]
                for c in range(k + 1, min(k + width, nz)):
                    low = min(low, along_j[c, j, i, 0])
                    high = max(high, along_j[c, j, i, 1])
                out[k, j, i, 0] = low
                out[k, j, i, 1] = high
    return out
