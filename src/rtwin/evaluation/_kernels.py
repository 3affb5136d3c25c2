"""numba kernels for evaluation (private; called through the wrappers in _dvh.py)."""

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
