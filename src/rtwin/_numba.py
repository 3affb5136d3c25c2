"""The one place rtwin touches numba.

:func:`jit` returns a lazily compiled kernel: importing a module that defines
kernels neither imports numba nor compiles anything. The first call imports
numba, compiles (or loads from the on-disk cache) and calls.

Flags are fixed here for every kernel: ``cache=True``, ``nogil=True`` and a
restricted fastmath set that keeps NaN and infinity semantics
(never ``nnan``/``ninf``); a kernel may opt out of fastmath
(``fastmath=False``).
"""

from __future__ import annotations

import functools
import threading
import types
from collections.abc import Callable
from typing import Any

__all__ = ["FASTMATH", "jit"]

#: Fastmath flags allowed in rtwin kernels: reassociation and contraction only.
FASTMATH = frozenset({"contract", "reassoc", "nsz", "arcp"})


class _LazyKernel:
    """A Python function compiled by numba on first call."""

    __slots__ = ("__dict__", "_compiled", "_lock", "_options", "_py_func")

    def __init__(self, function: Callable[..., Any], options: dict[str, Any]) -> None:
        self._py_func = function
        self._options = options
        self._compiled: Callable[..., Any] | None = None
        self._lock = threading.RLock()
        functools.update_wrapper(self, function)

    @property
    def py_func(self) -> Callable[..., Any]:
        """The plain Python function (for debugging and tests)."""
        return self._py_func

    def compiled(self) -> Callable[..., Any]:
        """Return the numba dispatcher, compiling on first use."""
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    _prefer_passive_openmp_threads()
                    import numba

                    options = dict(self._options)
                    if self._py_func.__code__.co_filename.startswith("<"):
                        options["cache"] = (
                            False  # defined in a REPL or doctest: no file to cache beside
                        )
                    self._compiled = numba.njit(**options)(_numba_ready(self._py_func, self))
        return self._compiled

    def __call__(self, *args: Any) -> Any:
        return self.compiled()(*args)


def _prefer_passive_openmp_threads() -> None:
    """Let idle OpenMP worker threads sleep at once, unless the user chose otherwise.

    With libgomp's default wait policy, numba's ``omp`` threading layer
    took either 0.01 ms or about 8 ms to start a parallel kernel on the
    2-vCPU test machine, depending on whether the workers had already gone
    to sleep; the optimizer alternates kernels with numpy work, so most
    launches paid the 8 ms (an objective + gradient evaluation took 40 ms
    instead of 17 ms). ``OMP_WAIT_POLICY=PASSIVE`` makes every launch
    about 0.05 ms. It must be set before the OpenMP runtime loads (numba
    loads it on the first parallel kernel), and a value the user set is
    kept. Other threading layers ignore it.
    """
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _numba_ready(function: Callable[..., Any], owner: _LazyKernel) -> Callable[..., Any]:
    """Copy ``function`` with globals numba understands.

    ``prange`` becomes ``numba.prange`` and other lazy kernels it calls become
    their compiled dispatchers, so kernels may call kernels.
    """
    import numba

    namespace = dict(function.__globals__)
    used = set(function.__code__.co_names)
    for name in used & namespace.keys():
        value = namespace[name]
        if isinstance(value, _LazyKernel) and value is not owner:
            namespace[name] = value.compiled()
    namespace["prange"] = numba.prange
    clone = types.FunctionType(
        function.__code__,
        namespace,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    clone.__qualname__ = function.__qualname__
    clone.__module__ = function.__module__
    return clone


def jit(
    function: Callable[..., Any] | None = None,
    *,
    parallel: bool = False,
    inline: bool = False,
    fastmath: bool = True,
) -> Any:
    """Decorate a kernel for lazy numba compilation with rtwin's fixed flags.

    Parameters
    ----------
    function
        The kernel; plain contiguous arrays and scalars in, no Python objects.
    parallel
        Compile with ``parallel=True`` so ``numba.prange`` loops run on threads.
    inline
        Inline the kernel into the kernels that call it (numba's
        ``inline="always"``): for small per-element routines in hot loops.
        An inlined kernel takes its caller's fastmath flags.
    fastmath
        ``False``: strict IEEE arithmetic, no reassociation. For routines
        whose result must not depend on how LLVM reorders their sums: a
        kernel called (not inlined) from a fastmath kernel keeps its own
        strict instructions. With reassociation, a freshly compiled kernel
        and the same kernel loaded from numba's cache were seen to differ
        in the last bit (the photon broad-scatter interpolation).

    Examples
    --------
    >>> import numpy as np
    >>> from rtwin._numba import jit
    >>> @jit
    ... def total(values):
    ...     s = 0.0
    ...     for v in values:
    ...         s += v
    ...     return s
    >>> float(total(np.arange(4.0)))
    6.0
    """
    options = {
        "cache": True,
        "nogil": True,
        "fastmath": set(FASTMATH) if fastmath else False,
        "parallel": parallel,
        "error_model": "numpy",
    }
    if inline:
        options["inline"] = "always"

    def decorate(func: Callable[..., Any]) -> _LazyKernel:
        return _LazyKernel(func, options)

    if function is not None:
        return decorate(function)
    return decorate


def prange(*args: int) -> range:
    """``numba.prange`` inside kernels; plain ``range`` when run as Python."""
    return range(*args)
