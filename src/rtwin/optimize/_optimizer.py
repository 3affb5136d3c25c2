"""Fluence optimization: non-negative beamlet weights by L-BFGS-B."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin._arrays import frozen
from rtwin.anatomy import Structure
from rtwin.dose import Dose, DoseInfluence
from rtwin.errors import OptimizationError
from rtwin.optimize._objectives import Objective
from rtwin.optimize._problem import FluenceProblem

__all__ = ["IterationState", "OptimizationResult", "optimize_fluence"]


@dataclass(frozen=True, slots=True, kw_only=True)
class IterationState:
    """What a callback sees after each iteration.

    Attributes
    ----------
    iteration
        1 for the first completed iteration.
    objective_value
        Total objective at the current weights.
    weights
        Current weights (a read-only copy).
    seconds
        Wall time since the optimization started.
    """

    iteration: int
    objective_value: float
    weights: NDArray[np.float64] = field(repr=False)
    seconds: float


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class OptimizationResult:
    """The outcome of :func:`optimize_fluence`.

    Attributes
    ----------
    weights
        ``(n_beamlets,)`` non-negative beamlet weights (read-only).
    dose
        The dose of ``weights`` on the influence's dose grid.
    objective_value
        Total objective at ``weights``.
    objective_values
        Each objective's value, in the order given.
    objectives
        The objectives.
    converged
        Whether the optimizer met its convergence test (``False`` when it
        hit ``max_iterations`` or the callback stopped it).
    stopped_by_callback
        Whether the callback ended the run.
    n_iterations, n_evaluations
        Iterations and objective + gradient evaluations.
    message
        The optimizer's own words.
    history
        Objective value after each iteration (the first entry is the start).
    seconds
        Wall time of the optimization (problem set-up included).
    """

    weights: NDArray[np.float64] = field(repr=False)
    dose: Dose = field(repr=False)
    objective_value: float
    objective_values: tuple[float, ...] = field(repr=False)
    objectives: tuple[Objective, ...] = field(repr=False)
    converged: bool
    stopped_by_callback: bool
    n_iterations: int
    n_evaluations: int
    message: str
    history: NDArray[np.float64] = field(repr=False)
    seconds: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", frozen(np.array(self.weights, dtype=np.float64)))
        object.__setattr__(self, "history", frozen(np.array(self.history, dtype=np.float64)))
        object.__setattr__(self, "objective_values", tuple(self.objective_values))
        object.__setattr__(self, "objectives", tuple(self.objectives))

    def _repr_html_(self) -> str:
        from rtwin._html import html_table

        rows = [
            ("objective", f"{self.objective_value:.6g}"),
            ("converged", self.converged),
            ("iterations", f"{self.n_iterations} ({self.n_evaluations} evaluations)"),
            ("message", self.message),
            ("time", f"{self.seconds:.2f} s"),
        ] + [
            (str(objective), f"{value:.4g}")
            for objective, value in zip(self.objectives, self.objective_values, strict=True)
        ]
        return html_table("OptimizationResult", rows)

    def table(self) -> str:
        """Each objective with its value and share of the total, as plain text."""
        total = self.objective_value or 1.0
        lines = [f"{'objective':<60} {'value':>12} {'share':>7}"]
        for objective, value in zip(self.objectives, self.objective_values, strict=True):
            lines.append(f"{objective!s:<60} {value:>12.4g} {value / total:>7.1%}")
        return "\n".join(lines)


def optimize_fluence(
    influence: DoseInfluence,
    structures: Mapping[str, Structure] | Any,
    objectives: Sequence[Objective],
    *,
    max_iterations: int = 500,
    tolerance: float = 1e-7,
    callback: Callable[[IterationState], bool | None] | None = None,
    initial_weights: ArrayLike | None = None,
) -> OptimizationResult:
    """Non-negative beamlet weights that minimize the sum of the objectives.

    L-BFGS-B (scipy, 50 correction pairs) with bounds ``w ≥ 0`` on
    ``f(w) = Σ fᵢ(D w)``, on weights scaled by a diagonal preconditioner
    (:meth:`FluenceProblem.variable_scales`); the gradient is
    ``Dᵀ ∂f/∂d`` with the products restricted to the dose-grid voxels some
    objective touches, in numba with float64 sums, and rows that provably
    stay below every objective's threshold skipped (see
    :class:`FluenceProblem`; values and gradients are exactly those of
    computing every row). Deterministic: the same inputs give the same
    weights on any number of threads.

    Parameters
    ----------
    influence
        The dose-influence matrix (and scatter operator) of the beams.
    structures
        Where the objectives' structure names are looked up (a
        ``StructureSet`` or a mapping name → ``Structure``), on any grid:
        each is mapped onto the dose grid by occupied fraction.
    objectives
        The objectives; their sum is minimized.
    max_iterations
        Iteration cap (≥ 1).
    tolerance
        Relative reduction of the objective below which the run has
        converged (L-BFGS-B's ``ftol``); the projected-gradient test is
        ``tolerance × |f|``.
    callback
        Called after each iteration with an :class:`IterationState`; return
        ``True`` to stop the run (the result says so).
    initial_weights
        Start point; by default uniform weights scaled to minimize the
        objective along that direction.

    Returns
    -------
    OptimizationResult

    Raises
    ------
    OptimizationError
        Bad settings, no objectives, structures not on the dose grid, or
        initial weights of the wrong shape or sign.

    Examples
    --------
    >>> import rtwin
    >>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5, target_radius_mm=10)
    >>> influence = rtwin.dose.PhotonPencilBeam().influence(
    ...     patient, rtwin.beams.equispaced(3, isocenter_mm=(0, 0, 0)))
    >>> target = patient.structures.targets[0].name
    >>> result = optimize_fluence(influence, patient.structures,
    ...     [rtwin.optimize.SquaredDeviation(target, dose_gy=2.0)])
    >>> result.converged, bool(result.weights.min() >= 0), result.objective_value < 1e-3
    (True, True, True)
    """
    from scipy import optimize
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    if not (isinstance(max_iterations, int | np.integer) and max_iterations >= 1):
        raise OptimizationError(f"max_iterations must be an integer >= 1; got {max_iterations!r}")
    if not (np.isfinite(tolerance) and 0 < tolerance < 1):
        raise OptimizationError(f"tolerance must be in (0, 1); got {tolerance!r}")
    problem = FluenceProblem.build(influence, structures, objectives)
    n = problem.n_beamlets
    if initial_weights is None:
        start = _uniform_start(problem)
    else:
        start = np.array(initial_weights, dtype=np.float64)
        if start.shape != (n,):
            raise OptimizationError(f"initial_weights must have shape ({n},); got {start.shape}")
        if not np.all(np.isfinite(start)) or np.any(start < 0):
            raise OptimizationError("initial_weights must be finite and non-negative")

    # L-BFGS-B runs on x = w / s with a diagonal preconditioner s (see
    # FluenceProblem.variable_scales); bounds x >= 0 are the same.
    scales = problem.variable_scales()
    evaluations = 0

    def fun(x: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        nonlocal evaluations
        evaluations += 1
        value, gradient, _ = problem.evaluate(x * scales)
        return value, gradient * scales

    initial_value = problem.evaluate(start)[0]
    history = [initial_value]
    stopped = False

    def on_iteration(intermediate_result: Any) -> None:
        nonlocal stopped
        history.append(float(intermediate_result.fun))
        if callback is not None:
            state = IterationState(
                iteration=len(history) - 1,
                objective_value=float(intermediate_result.fun),
                weights=frozen(np.asarray(intermediate_result.x, dtype=np.float64) * scales),
                seconds=time.perf_counter() - started,
            )
            if callback(state):
                stopped = True
                raise StopIteration

    # L-BFGS-B's own vector work is BLAS on a few thousand numbers; with
    # OpenBLAS's default threads it leaves a worker spinning on the second
    # core, which halves the numba products that follow (measured: 500
    # iterations on TG119 in 15.1 s instead of 9.8 s). One BLAS thread for
    # the run; the previous limits come back afterwards.
    with threadpool_limits(limits=1, user_api="blas"):
        solution = optimize.minimize(
            fun,
            start / scales,
            jac=True,
            method="L-BFGS-B",
            bounds=optimize.Bounds(np.zeros(n), np.full(n, np.inf)),
            callback=on_iteration,
            options={
                "maxiter": int(max_iterations),
                "ftol": float(tolerance),
                "gtol": float(tolerance) * max(abs(initial_value), 1e-12) / max(n, 1),
                "maxcor": 50,
            },
        )
    weights = np.maximum(np.asarray(solution.x, dtype=np.float64), 0.0) * scales
    dose_rows = problem.dose_at_rows(weights)
    values = problem.objective_values(dose_rows)
    if stopped:
        message = f"stopped by the callback after iteration {len(history) - 1}"
    else:
        message = str(solution.message)
    return OptimizationResult(
        weights=weights,
        dose=influence.dose(weights, description="optimized"),
        objective_value=float(sum(values)),
        objective_values=values,
        objectives=problem.objectives,
        converged=bool(solution.success) and not stopped,
        stopped_by_callback=stopped,
        n_iterations=len(history) - 1,
        n_evaluations=evaluations,
        message=message,
        history=np.array(history),
        seconds=time.perf_counter() - started,
    )


def _uniform_start(problem: FluenceProblem) -> NDArray[np.float64]:
    """Uniform weights ``c·1`` with ``c`` minimizing the objective along that direction."""
    from scipy import optimize

    ones = np.ones(problem.n_beamlets)
    unit_dose = problem.dose_at_rows(ones)
    positive = unit_dose[unit_dose > 0]
    if positive.size == 0:
        raise OptimizationError(
            "the beamlets give no dose to any voxel of the objectives' structures; "
            "check the beams' isocentre and the structures"
        )
    levels = [getattr(o, "dose_gy", 0.0) for o in problem.objectives]
    scale = max(max(levels), 1.0) / float(np.mean(positive))

    def along(c: float) -> float:
        return float(sum(problem.objective_values(c * unit_dose)))

    best = optimize.minimize_scalar(along, bounds=(0.0, 4.0 * scale), method="bounded")
    return np.full(problem.n_beamlets, float(best.x))
