"""numba kernels of the optimizer (private): sparse products with float64 accumulation."""

from __future__ import annotations

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
