"""numba kernels of the optimizer (private): sparse products with float64 accumulation."""

from __future__ import annotations

import numpy as np

from rtwin._numba import jit, prange
from rtwin.dose.photon._kernels import scatter_row


@jit(inline=True)
def _row_dot(indptr, indices, data, x, row):  # pragma: no cover - jit
    """Row ``row`` of a CSR matrix times ``x``, in float64 with eight partial sums
    (a fixed order: the result does not depend on threads or call site)."""
    start = indptr[row]
    stop = indptr[row + 1]
    t0 = 0.0
    t1 = 0.0
    t2 = 0.0
    t3 = 0.0
    t4 = 0.0
    t5 = 0.0
    t6 = 0.0
    t7 = 0.0
    p = start
    while p + 8 <= stop:
        t0 += data[p] * x[indices[p]]
        t1 += data[p + 1] * x[indices[p + 1]]
        t2 += data[p + 2] * x[indices[p + 2]]
        t3 += data[p + 3] * x[indices[p + 3]]
        t4 += data[p + 4] * x[indices[p + 4]]
        t5 += data[p + 5] * x[indices[p + 5]]
        t6 += data[p + 6] * x[indices[p + 6]]
        t7 += data[p + 7] * x[indices[p + 7]]
        p += 8
    while p < stop:
        t0 += data[p] * x[indices[p]]
        p += 1
    return ((t0 + t1) + (t2 + t3)) + ((t4 + t5) + (t6 + t7))


@jit(parallel=True)
def csr_matvec(indptr, indices, data, x, out):  # pragma: no cover - jit
    """``out = A @ x`` for a CSR matrix (float32 data), summing each row in float64.

    Eight interleaved partial sums per row hide the latency of the float64
    additions; rows are independent (``prange``) and each is summed in a
    fixed order, so the result does not depend on the number of threads.
    Pass ``indices`` as uint32 (see :func:`unsigned_indices`): numba then
    skips the negative-index wraparound on every read, ~25 % faster.
    """
    for row in prange(out.shape[0]):
        out[row] = _row_dot(indptr, indices, data, x, row)


def unsigned_indices(indices):
    """CSR column indices as uint32 (a view when they are int32; all are ≥ 0)."""
    indices = np.ascontiguousarray(indices)
    if indices.dtype == np.int32:
        return indices.view(np.uint32)
    return indices.astype(np.uint32)


#: Chunks of :func:`csr_rmatvec` and :func:`screened_matvec`: fixed numbers, so
#: the summation order and the result do not depend on the number of threads.
RMATVEC_CHUNKS = 8
MATVEC_CHUNKS = 16


@jit
def _balanced_chunks(rows, costs_start, costs_stop, overhead, n_chunks):  # pragma: no cover
    """Boundaries ``(n_chunks + 1,)`` into ``rows`` with about equal summed cost per chunk.

    A row's cost is ``costs_stop[row] - costs_start[row]`` (its non-zeros)
    plus ``overhead`` (in the same units).
    """
    total = 0
    for i in range(rows.shape[0]):
        r = rows[i]
        total += costs_stop[r] - costs_start[r] + overhead
    bounds = np.empty(n_chunks + 1, dtype=np.int64)
    bounds[0] = 0
    chunk = 1
    running = 0
    for i in range(rows.shape[0]):
        r = rows[i]
        running += costs_stop[r] - costs_start[r] + overhead
        while chunk < n_chunks and running * n_chunks >= chunk * total:
            bounds[chunk] = i + 1
            chunk += 1
    while chunk <= n_chunks:
        bounds[chunk] = rows.shape[0]
        chunk += 1
    return bounds


@jit(parallel=True)
def csr_rmatvec(indptr, indices, data, g, out, squared=False):  # pragma: no cover - jit
    """``out = Aᵀ @ g`` for a CSR matrix, skipping rows where ``g`` is 0.

    Objectives' dose gradients vanish on most voxels (e.g. an organ below
    its limit), so only the rows that matter are read. Those rows are
    split into ``RMATVEC_CHUNKS`` consecutive chunks of about equal
    non-zeros (they cluster, e.g. around a target), each accumulating into
    its own float64 buffer in parallel; the buffers are summed in a fixed
    order. ``squared``: ``(A∘A)ᵀ @ g`` (each entry squared), without a
    squared copy of the matrix.
    """
    n_rows = g.shape[0]
    n_columns = out.shape[0]
    n_chunks = RMATVEC_CHUNKS
    n_active = 0
    for row in range(n_rows):
        if g[row] != 0.0:
            n_active += 1
    active = np.empty(n_active, dtype=np.int64)
    n_active = 0
    for row in range(n_rows):
        if g[row] != 0.0:
            active[n_active] = row
            n_active += 1
    bounds = _balanced_chunks(active, indptr[:-1], indptr[1:], 1, n_chunks)
    buffers = np.zeros((n_chunks, n_columns))
    for chunk in prange(n_chunks):
        buffer = buffers[chunk]
        for i in range(bounds[chunk], bounds[chunk + 1]):
            row = active[i]
            value = g[row]
            if squared:
                for p in range(indptr[row], indptr[row + 1]):
                    entry = np.float64(data[p])
                    buffer[indices[p]] += entry * entry * value
            else:
                for p in range(indptr[row], indptr[row + 1]):
                    buffer[indices[p]] += data[p] * value
    for column in prange(n_columns):
        total = 0.0
        for chunk in range(n_chunks):
            total += buffers[chunk, column]
        out[column] = total


@jit(parallel=True)
def row_group_bounds(indptr, indices, data, groups, out_max, out_norm):  # pragma: no cover - jit
    """Per row and column group: the largest entry and the 2-norm of the row's entries.

    ``groups[j]`` is column ``j``'s group (its beam); ``out_max`` and
    ``out_norm`` are ``(n_rows, n_groups)`` float64, overwritten.
    """
    n_rows, n_groups = out_max.shape
    for row in prange(n_rows):
        for g in range(n_groups):
            out_max[row, g] = 0.0
            out_norm[row, g] = 0.0
        for p in range(indptr[row], indptr[row + 1]):
            g = groups[indices[p]]
            value = abs(np.float64(data[p]))
            if value > out_max[row, g]:
                out_max[row, g] = value
            out_norm[row, g] += value * value
        for g in range(n_groups):
            out_norm[row, g] = np.sqrt(out_norm[row, g])


@jit(parallel=True)
def screened_matvec(  # pragma: no cover - jit
    indptr,
    indices,
    data,
    x,
    convolved,
    lattice_uv,
    sigma_index,
    amplitude,
    limit,
    reference,
    epoch,
    bound_max,
    bound_norm,
    step_sum,
    step_norm,
    new_epoch,
    full,
    out,
):
    """Dose at the rows that can matter; a proven bound for the others. Returns rows computed.

    Row ``r``'s dose is the CSR row times ``x`` plus, when ``convolved``
    has beams, the broad scatter (:func:`scatter_row`). A row with
    ``limit[r] > -inf`` only feeds objectives that are exactly zero, with
    zero gradient, at doses ``≤ limit[r]``. ``reference[r]`` is an upper
    bound of the row's dose at the weights of reference point
    ``epoch[r]``; ``step_sum[e]``/``step_norm[e]`` are the per-group 1- and
    2-norms of the positive part of ``x`` minus reference point ``e``, and
    ``bound_max``/``bound_norm`` the largest entry and 2-norm of the row's
    (non-negative) entries per column group. By Hölder's inequality the
    row's dose at ``x`` is at most ``reference[r] + Σ_g min(bound_max[r, g]
    · step_sum[e, g], bound_norm[r, g] · step_norm[e, g])``. When that is
    below the limit the row is not computed and ``out[r]`` is the bound —
    also below the limit, so every objective value and gradient is
    exactly what the computed dose would give.

    ``x`` becomes reference point ``new_epoch``: every computed row gets
    its exact dose as reference, and skipped rows whose reference point is
    ``new_epoch`` (the one being replaced) carry their bound. ``full``
    computes every row.
    """
    n_rows = out.shape[0]
    n_groups = step_sum.shape[1]
    _, nu, nv, n_sigma = convolved.shape
    flat = convolved.ravel()
    with_scatter = convolved.shape[0] > 0
    # pass 1: which rows must be computed (skipped ones get their bound)
    need = np.ones(n_rows, dtype=np.bool_)
    if not full:
        for row in prange(n_rows):
            if limit[row] > -np.inf:
                e = epoch[row]
                bound = reference[row]
                for g in range(n_groups):
                    bound += min(
                        np.float64(bound_max[row, g]) * step_sum[e, g],
                        np.float64(bound_norm[row, g]) * step_norm[e, g],
                    )
                if bound + 1e-9 * (abs(bound) + 1.0) <= limit[row]:
                    out[row] = bound
                    need[row] = False
                    if e == new_epoch:
                        reference[row] = bound
    computed = 0
    for row in range(n_rows):
        if need[row]:
            computed += 1
    rows = np.empty(computed, dtype=np.int64)
    computed = 0
    for row in range(n_rows):
        if need[row]:
            rows[computed] = row
            computed += 1
    # pass 2: those rows in chunks of about equal non-zeros (they cluster near targets)
    n_chunks = MATVEC_CHUNKS
    # a broad-scatter interpolation costs about as much as 4 stored entries
    overhead = 1 + (4 * lattice_uv.shape[1] * amplitude.shape[2] if with_scatter else 0)
    bounds = _balanced_chunks(rows, indptr[:-1], indptr[1:], overhead, n_chunks)
    for chunk in prange(n_chunks):
        for i in range(bounds[chunk], bounds[chunk + 1]):
            row = rows[i]
            dose = _row_dot(indptr, indices, data, x, row)
            if with_scatter:
                dose += scatter_row(flat, nu, nv, n_sigma, lattice_uv, sigma_index, amplitude, row)
            out[row] = dose
            reference[row] = dose
            epoch[row] = new_epoch
    return computed
