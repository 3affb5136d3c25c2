"""rtwin._numba: lazy compilation, the fixed flags, the OpenMP wait policy default."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from rtwin._numba import FASTMATH, jit, prange


def test_kernels_compile_lazily_and_run():
    @jit(parallel=True)
    def double(values, out):
        for i in prange(values.shape[0]):
            out[i] = 2.0 * values[i]

    out = np.empty(3)
    double(np.arange(3.0), out)
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])
    assert "nnan" not in FASTMATH and "ninf" not in FASTMATH


def _policy_after_first_kernel(environment_prefix: str) -> str:
    code = (
        "import os\n"
        f"{environment_prefix}\n"
        "import numpy as np, rtwin\n"
        "rtwin.dose.radiological_depth  # noqa\n"
        "from rtwin.optimize._kernels import runs_rmatvec\n"
        "out = np.empty(1)\n"
        "runs_rmatvec(np.array([0, 1]), np.array([0, 1]), np.array([0], np.uint32),\n"
        "             np.array([1], np.uint16), np.ones(1, np.float32), np.ones(1), out)\n"
        "print(os.environ.get('OMP_WAIT_POLICY'))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_passive_openmp_wait_policy_is_the_default_but_a_user_choice_wins():
    assert _policy_after_first_kernel("os.environ.pop('OMP_WAIT_POLICY', None)") == "PASSIVE"
    assert _policy_after_first_kernel("os.environ['OMP_WAIT_POLICY'] = 'ACTIVE'") == "ACTIVE"
