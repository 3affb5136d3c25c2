"""numba kernels of the optimizer (private): sparse products with float64 accumulation."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from rtwin._numba import jit, prange
from rtwin.dose.photon._kernels import scatter_row


class RowRuns(NamedTuple):
    """A CSR matrix stored as runs of consecutive columns (what the optimizer's products read).

    Row ``r``'s entries are ``data[indptr[r]:indptr[r + 1]]`` as in CSR; its
    columns are the runs ``row_runs[r]:row_runs[r + 1]``, run ``k`` covering
    columns ``run_column[k] … run_column[k] + run_length[k] − 1`` in order.
    A dose-influence row holds, per beam, the beamlets around the ray
    through its voxel, and neighbouring beamlets have neighbouring columns:
    on TG-119 a run holds 4.7 entries on average on rtwin's photon matrix
    and 9.7 on pyRadPlan's. A run's 6 bytes replace 4 bytes of column index
    per entry, and the products read ``x`` and write their sums
    contiguously: on pyRadPlan's TG-119 problem the forward product took
    3.2 ms per evaluation instead of 8.0 ms with CSR, the transpose 1.9
    instead of 2.6 ms (docs/optimization.md).
    """

    indptr: NDArray[np.int64]
    row_runs: NDArray[np.int64]
    run_column: NDArray[np.uint32]
    run_length: NDArray[np.uint16]
    data: NDArray[np.float32]

    @classmethod
    def from_csr(cls, matrix: Any, rows: NDArray[np.int64] | None = None) -> RowRuns:
        """Rows ``rows`` (strictly increasing; default all) of a scipy CSR matrix.

        A matrix with unsorted or duplicate column indices in a row is
        taken in canonical form (a sorted copy with duplicates summed).
        ``data`` is read-only; with every row it is a view of the matrix's
        data when that is already float32.

        Raises
        ------
        ValueError
            ``rows`` not strictly increasing or outside the matrix.
        """
        indptr = np.ascontiguousarray(matrix.indptr, dtype=np.int64)
        indices = np.ascontiguousarray(matrix.indices)
        n_rows = indptr.size - 1
        if rows is None:
            selected = np.arange(n_rows)
        else:
            selected = np.ascontiguousarray(rows, dtype=np.int64)
            if selected.ndim != 1 or (
                selected.size
                and (selected[0] < 0 or selected[-1] >= n_rows or np.any(np.diff(selected) <= 0))
            ):
                raise ValueError(
                    f"rows must be strictly increasing row numbers of the {n_rows}-row matrix"
                )
        every_row = selected.size == n_rows  # strictly increasing and in range: every row
        entries = np.empty(selected.size + 1, dtype=np.int64)
        runs = np.empty(selected.size + 1, dtype=np.int64)
        if not _count_runs(indptr, indices, selected, entries, runs):
            canonical = matrix.copy()
            canonical.sum_duplicates()
            return cls.from_csr(canonical, rows)
        run_column = np.empty(int(runs[-1]), dtype=np.uint32)
        run_length = np.empty(int(runs[-1]), dtype=np.uint16)
        _fill_runs(indptr, indices, selected, runs, run_column, run_length)
        if every_row and matrix.data.dtype == np.float32:
            data = np.ascontiguousarray(matrix.data).view()  # shared, not copied
        else:
            source = np.ascontiguousarray(matrix.data, dtype=np.float32)
            data = np.empty(int(entries[-1]), dtype=np.float32)
            _copy_rows(indptr, source, selected, entries, data)
        data.flags.writeable = False  # the products only read it
        return cls(entries, runs, run_column, run_length, data)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (``data`` may be shared with the CSR matrix)."""
        return sum(int(a.nbytes) for a in self)


#: Longest run (``run_length`` is uint16); longer stretches are split.
_MAX_RUN = 65535


@jit(parallel=True)
def _count_runs(indptr, indices, rows, entries, runs):  # pragma: no cover - jit
    """Offsets of the selected rows' entries and runs (``entries``, ``runs``: ``rows.size + 1``).

    Returns ``False`` when a row's column indices are not strictly
    increasing (unsorted or duplicated).
    """
    n = rows.shape[0]
    ordered = np.ones(n, dtype=np.bool_)
    entries[0] = 0
    runs[0] = 0
    for i in prange(n):
        row = rows[i]
        n_runs = 0
        length = 0
        for p in range(indptr[row], indptr[row + 1]):
            if length > 0 and indices[p] <= indices[p - 1]:
                ordered[i] = False
            if length == 0 or length == _MAX_RUN or indices[p] != indices[p - 1] + 1:
                n_runs += 1
                length = 0
            length += 1
        entries[i + 1] = indptr[row + 1] - indptr[row]
        runs[i + 1] = n_runs
    for i in range(n):
        entries[i + 1] += entries[i]
        runs[i + 1] += runs[i]
    for i in range(n):
        if not ordered[i]:
            return False
    return True


@jit(parallel=True)
def _fill_runs(indptr, indices, rows, runs, run_column, run_length):  # pragma: no cover - jit
    for i in prange(rows.shape[0]):
        row = rows[i]
        k = runs[i] - 1
        length = 0
        for p in range(indptr[row], indptr[row + 1]):
            if length == 0 or length == _MAX_RUN or indices[p] != indices[p - 1] + 1:
                if length > 0:
                    run_length[k] = length  # the row's previous run ends
                k += 1
                run_column[k] = indices[p]
                length = 0
            length += 1
        if length > 0:
            run_length[k] = length


@jit(parallel=True)
def _copy_rows(indptr, source, rows, entries, data):  # pragma: no cover - jit
    for i in prange(rows.shape[0]):
        start = indptr[rows[i]]
        for j in range(entries[i + 1] - entries[i]):
            data[entries[i] + j] = source[start + j]


@jit(inline=True)
def _row_dot(indptr, row_runs, run_column, run_length, data, x, row):  # pragma: no cover - jit
    """Row ``row`` of a :class:`RowRuns` matrix times ``x``, summed in float64.

    Each run is a contiguous dot product (vectorized; the summation order
    is fixed by the code, not by threads or call site). Offsets are
    unsigned: numba then skips its negative-index wraparound, which would
    keep the loop from vectorizing (2.2× slower).
    """
    total = 0.0
    p = np.uint64(indptr[row])
    for k in range(row_runs[row], row_runs[row + 1]):
        column = np.uint64(run_column[k])
        length = np.uint64(run_length[k])
        partial = 0.0
        for j in range(length):
            partial += data[p + j] * x[column + j]
        total += partial
        p += length
    return total


#: Chunks of :func:`runs_rmatvec` and :func:`screened_matvec`: fixed numbers, so
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
def runs_rmatvec(  # pragma: no cover - jit
    indptr, row_runs, run_column, run_length, data, g, out, squared=False
):
    """``out = Aᵀ @ g`` for a :class:`RowRuns` matrix, skipping rows where ``g`` is 0.

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
            p = np.uint64(indptr[row])  # unsigned offsets: no wraparound checks (see _row_dot)
            for k in range(row_runs[row], row_runs[row + 1]):
                column = np.uint64(run_column[k])
                length = np.uint64(run_length[k])
                if squared:
                    for j in range(length):
                        entry = np.float64(data[p + j])
                        buffer[column + j] += entry * entry * value
                else:
                    for j in range(length):
                        buffer[column + j] += data[p + j] * value
                p += length
    for column in prange(n_columns):
        total = 0.0
        for chunk in range(n_chunks):
            total += buffers[chunk, column]
        out[column] = total


@jit(parallel=True)
def row_group_bounds(  # pragma: no cover - jit
    indptr, row_runs, run_column, run_length, data, groups, out_max, out_norm
):
    """Per row and column group: the largest entry and the 2-norm of the row's entries.

    ``groups[j]`` is column ``j``'s group (its beam); ``out_max`` and
    ``out_norm`` are ``(n_rows, n_groups)`` float64, overwritten.
    """
    n_rows, n_groups = out_max.shape
    for row in prange(n_rows):
        for g in range(n_groups):
            out_max[row, g] = 0.0
            out_norm[row, g] = 0.0
        p = indptr[row]
        for k in range(row_runs[row], row_runs[row + 1]):
            column = np.int64(run_column[k])
            for j in range(np.int64(run_length[k])):
                g = groups[column + j]
                value = abs(np.float64(data[p]))
                if value > out_max[row, g]:
                    out_max[row, g] = value
                out_norm[row, g] += value * value
                p += 1
        for g in range(n_groups):
            out_norm[row, g] = np.sqrt(out_norm[row, g])


@jit(parallel=True)
def screened_matvec(  # pragma: no cover - jit
    indptr,
    row_runs,
    run_column,
    run_length,
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

    Row ``r``'s dose is the :class:`RowRuns` row times ``x`` plus, when ``convolved``
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
            dose = _row_dot(indptr, row_runs, run_column, run_length, data, x, row)
            if with_scatter:
                dose += scatter_row(flat, nu, nv, n_sigma, lattice_uv, sigma_index, amplitude, row)
            out[row] = dose
            reference[row] = dose
            epoch[row] = new_epoch
    return computed
