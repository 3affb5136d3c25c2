"""numba kernels of the optimizer (private): sparse products with float64 accumulation."""

from __future__ import annotations

import numpy as np

from rtwin._numba import jit, prange


@jit(parallel=True)
def csr_matvec(indptr, indices, data, x, out):  # pragma: no cover - jit
    """``out = A @ x`` for a CSR matrix (float32 data), summing each row in float64.

    Four interleaved partial sums per row hide the latency of the float64
    additions (twice as fast as one running sum); rows are independent
    (``prange``) and each is summed in a fixed order, so the result does
    not depend on the number of threads.
    """
    n_rows = out.shape[0]
    for row in prange(n_rows):
        start = indptr[row]
        stop = indptr[row + 1]
        t0 = 0.0
        t1 = 0.0
        t2 = 0.0
        t3 = 0.0
        p = start
        while p + 4 <= stop:
            t0 += data[p] * x[indices[p]]
            t1 += data[p + 1] * x[indices[p + 1]]
            t2 += data[p + 2] * x[indices[p + 2]]
            t3 += data[p + 3] * x[indices[p + 3]]
            p += 4
        while p < stop:
            t0 += data[p] * x[indices[p]]
            p += 1
        out[row] = (t0 + t1) + (t2 + t3)


#: Row chunks of :func:`csr_rmatvec`, each with its own column buffer (fixed,
#: so the summation order and the result do not depend on the number of threads).
RMATVEC_CHUNKS = 8


@jit(parallel=True)
def csr_rmatvec(indptr, indices, data, g, out):  # pragma: no cover - jit
    """``out = Aᵀ @ g`` for a CSR matrix, skipping rows where ``g`` is 0.

    Objectives' dose gradients vanish on most voxels (e.g. an organ below
    its limit), so only the rows that matter are read. Rows are split into
    ``RMATVEC_CHUNKS`` contiguous chunks, each accumulating into its own
    float64 buffer in parallel; the buffers are summed in a fixed order.
    """
    n_rows = g.shape[0]
    n_columns = out.shape[0]
    n_chunks = RMATVEC_CHUNKS
    buffers = np.zeros((n_chunks, n_columns))
    for chunk in prange(n_chunks):
        buffer = buffers[chunk]
        for row in range(chunk * n_rows // n_chunks, (chunk + 1) * n_rows // n_chunks):
            value = g[row]
            if value == 0.0:
                continue
            for p in range(indptr[row], indptr[row + 1]):
                buffer[indices[p]] += data[p] * value
    for column in prange(n_columns):
        total = 0.0
        for chunk in range(n_chunks):
            total += buffers[chunk, column]
        out[column] = total
