"""numba kernels for anatomy (private; called through the wrappers in _contours.py and _structure.py)."""

from __future__ import annotations

import numpy as np

from rtwin._numba import jit, prange


@jit
def scanline_fill_fraction(x0, y0, x1, y1, n_rows, n_columns, subsamples):  # pragma: no cover - jit
    """Fraction of each pixel inside a polygon set under the even-odd rule.

    Edges are given in continuous pixel coordinates (column x, row y; pixel
    centres at integers). Each pixel is sampled at ``subsamples``² points on
    a regular sub-grid; a point is inside when a ray from it crosses an odd
    number of edges. Returns a float64 array ``(n_rows, n_columns)``.
    """
    fraction = np.zeros((n_rows, n_columns), dtype=np.float64)
    n_edges = x0.shape[0]
    crossings = np.empty(n_edges, dtype=np.float64)
    weight = 1.0 / (subsamples * subsamples)
    y_min = np.inf
    y_max = -np.inf
    for e in range(n_edges):
        y_min = min(y_min, y0[e], y1[e])
        y_max = max(y_max, y0[e], y1[e])
    row_start = max(0, int(np.floor(y_min + 0.5)))
    row_stop = min(n_rows, int(np.ceil(y_max + 0.5)) + 1)
    for row in range(row_start, row_stop):
        for sub_row in range(subsamples):
            y = row - 0.5 + (sub_row + 0.5) / subsamples
            count = 0
            for e in range(n_edges):
                ya = y0[e]
                yb = y1[e]
                if (ya <= y < yb) or (yb <= y < ya):
                    crossings[count] = x0[e] + (y - ya) * (x1[e] - x0[e]) / (yb - ya)
                    count += 1
            if count < 2:
                continue
            ordered = np.sort(crossings[:count])
            for pair in range(0, count - 1, 2):
                left = ordered[pair]
                right = ordered[pair + 1]
                # sub-sample column centres: c - 0.5 + (m + 0.5) / s, inside when left <= x < right
                first = int(np.ceil((left + 0.5) * subsamples - 0.5))
                last = int(np.ceil((right + 0.5) * subsamples - 0.5)) - 1
                first = max(first, 0)
                last = min(last, n_columns * subsamples - 1)
                for sample in range(first, last + 1):
                    fraction[row, sample // subsamples] += weight
    return fraction


@jit(parallel=True)
def resampled_inside_counts(
    mask, index_z, valid_z, index_y, valid_y, index_x, valid_x
):  # pragma: no cover - jit
    """Per target voxel, how many of its sample points fall in a voxel of ``mask``.

    Axis-aligned grids only: the sample points of target voxel ``(z, y, x)``
    are the products of per-axis samples; sample ``c`` along z lands in
    source plane ``index_z[z, c]`` when ``valid_z[z, c]`` (inside the source
    grid), and likewise for y and x. Returns int32 ``(n_z, n_y, n_x)``.
    """
    n_z = index_z.shape[0]
    n_y = index_y.shape[0]
    n_x = index_x.shape[0]
    counts = np.zeros((n_z, n_y, n_x), dtype=np.int32)
    for z in prange(n_z):
        for c in range(index_z.shape[1]):
            if not valid_z[z, c]:
                continue
            plane = index_z[z, c]
            for y in range(n_y):
                for b in range(index_y.shape[1]):
                    if not valid_y[y, b]:
                        continue
                    line = index_y[y, b]
                    for x in range(n_x):
                        total = 0
                        for a in range(index_x.shape[1]):
                            if valid_x[x, a] and mask[plane, line, index_x[x, a]]:
                                total += 1
                        counts[z, y, x] += total
    return counts
