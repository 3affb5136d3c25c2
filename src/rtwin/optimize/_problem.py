"""A fluence problem: the influence rows the objectives need and their products."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.anatomy import Structure
from rtwin.dose import DoseInfluence
from rtwin.errors import OptimizationError
from rtwin.optimize._kernels import (
    csr_rmatvec,
    row_group_bounds,
    screened_matvec,
    unsigned_indices,
)
from rtwin.optimize._objectives import Objective

__all__ = ["FluenceProblem"]


@dataclass(frozen=True, slots=True)
class _Term:
    objective: Objective
    positions: NDArray[np.int64] | slice  # into FluenceProblem.rows (a slice: all of them)
    volumes: NDArray[np.float64]  # partial-volume weights of those voxels


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FluenceProblem:
    """Objectives on the dose-grid rows they touch, with fast products.

    Each objective sees every dose-grid voxel that its structure occupies,
    weighted by the occupied fraction (``Structure.occupancy``), so a coarse
    dose grid still sees a target's boundary. Only the rows some objective
    touches are kept: the sparse matrix restricted to them and the scatter
    operator restricted to them. Products run in numba with float64 sums;
    the gradient's transpose product reads only rows whose dose gradient
    is non-zero (most of an organ below its limit is skipped).

    Build with :meth:`build`; evaluate with :meth:`evaluate`.

    Examples
    --------
    >>> import numpy as np, rtwin
    >>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5, target_radius_mm=10)
    >>> influence = rtwin.dose.PhotonPencilBeam().influence(
    ...     patient, rtwin.beams.equispaced(3, isocenter_mm=(0, 0, 0)))
    >>> target = patient.structures.targets[0].name
    >>> problem = FluenceProblem.build(influence, patient.structures,
    ...     [rtwin.optimize.SquaredDeviation(target, dose_gy=2.0)])
    >>> value, gradient, _ = problem.evaluate(np.zeros(influence.n_beamlets))
    >>> value, bool(gradient.max() < 0)
    (4.0, True)
    """

    influence: DoseInfluence = field(repr=False)
    objectives: tuple[Objective, ...]
    rows: NDArray[np.int64] = field(repr=False)
    terms: tuple[_Term, ...] = field(repr=False)
    by_row: Any = field(repr=False)
    scatter: Any = field(repr=False)
    screen: _Screen | None = field(repr=False)

    @classmethod
    def build(
        cls,
        influence: DoseInfluence,
        structures: Mapping[str, Structure] | Any,
        objectives: Sequence[Objective],
    ) -> FluenceProblem:
        """Resolve each objective's structure on the dose grid and restrict the products.

        Raises
        ------
        OptimizationError
            No objectives, an objective that is not an :class:`Objective`, or
            a structure that occupies no voxel of the dose grid.
        StructureNotFoundError
            An objective names a structure that is not in ``structures``.
        """
        objectives = tuple(objectives)
        if not objectives:
            raise OptimizationError("optimize_fluence needs at least one objective")
        for objective in objectives:
            if not isinstance(objective, Objective):
                raise OptimizationError(
                    f"objectives must be rtwin.optimize objectives; got {type(objective).__name__}"
                )
        grid = influence.dose_grid
        occupancies: dict[str, NDArray[np.float64]] = {}
        for objective in objectives:
            name = objective.structure
            if name not in occupancies:
                structure = structures[name]
                occupancy = structure.occupancy(grid).ravel()
                if not np.any(occupancy > 0):
                    raise OptimizationError(
                        f"structure {name!r} occupies no voxel of the dose grid {grid!r}; "
                        "check that the dose grid covers it"
                    )
                occupancies[name] = occupancy
        flat = {name: np.flatnonzero(o > 0) for name, o in occupancies.items()}
        rows = np.unique(np.concatenate(list(flat.values()))).astype(np.int64)
        terms = tuple(
            _Term(
                objective=objective,
                positions=_positions(rows, flat[objective.structure]),
                volumes=occupancies[objective.structure][flat[objective.structure]],
            )
            for objective in objectives
        )
        by_row = influence.matrix[rows]
        by_row.sort_indices()
        scatter = influence.scatter
        if scatter is not None:
            # the scatter operator on exactly the problem rows (zero where it gives no dose)
            scatter = scatter.on_rows(rows)
        arrays = _csr_arrays(by_row)
        return cls(
            influence=influence,
            objectives=objectives,
            rows=rows,
            terms=terms,
            by_row=arrays,
            scatter=scatter,
            screen=_Screen.build(influence, rows.size, terms, arrays, scatter),
        )

    @property
    def n_beamlets(self) -> int:
        """Number of optimization variables."""
        return self.influence.n_beamlets

    def dose_at_rows(self, weights: ArrayLike) -> NDArray[np.float64]:
        """Dose (Gy) at :attr:`rows` for ``weights``; float64."""
        return self._forward(weights, full=True)[0]

    def _forward(self, weights: ArrayLike, *, full: bool) -> tuple[NDArray[np.float64], int]:
        """Dose at the rows (``full``) or at the rows that can matter (see :class:`_Screen`)."""
        w = np.ascontiguousarray(weights, dtype=np.float64)
        if w.shape != (self.n_beamlets,):
            raise OptimizationError(f"weights must have shape ({self.n_beamlets},); got {w.shape}")
        indptr, indices, data = self.by_row
        scatter = self.scatter
        if scatter is None:
            convolved = np.zeros((0, 2, 2, 2))
            tables: tuple[NDArray[Any], ...] = (_NO_ROWS_2, _NO_ROWS_3, _NO_ROWS_3)
        else:
            convolved = scatter.lattice(w)
            tables = (scatter.lattice_uv, scatter.sigma_index, scatter.amplitude)
        screen = self.screen
        dose = np.empty(self.rows.size)
        if screen is None or full:
            arguments = _NO_SCREEN if screen is None else screen.unscreened
            computed = screened_matvec(
                indptr, indices, data, w, convolved, *tables, *arguments, True, dose
            )
        else:
            computed = screened_matvec(
                indptr, indices, data, w, convolved, *tables, *screen.arguments(w), False, dose
            )
        return dose, int(computed)

    def gradient_from_rows(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """``Dᵀ values`` for a vector on :attr:`rows`."""
        g = np.ascontiguousarray(values, dtype=np.float64)
        indptr, indices, data = self.by_row
        out = np.empty(self.n_beamlets)
        csr_rmatvec(indptr, indices, data, g, out)
        if self.scatter is not None:
            out += self.scatter.adjoint(g)
        return out

    def variable_scales(self) -> NDArray[np.float64]:
        """Diagonal preconditioner of the weights: ``1/√hⱼ``, median 1.

        ``hⱼ = Σᵢ cᵢ aᵢⱼ²`` is the diagonal of the Gauss–Newton Hessian of
        the objectives with every voxel counted (``cᵢ`` = 2 × weight ×
        the voxel's volume share, summed over the objectives that see it;
        stored matrix entries only, the broad scatter is left out).
        L-BFGS-B on ``x = w / s`` reaches a given objective value in
        about two thirds of the iterations on TG-119 (the beamlets at a
        target's edge and centre differ in curvature by orders of
        magnitude). Beamlets that reach no objective voxel get the
        largest scale.
        """
        row_weights = np.zeros(self.rows.size)
        for term in self.terms:
            share = term.volumes / float(term.volumes.sum())
            row_weights[term.positions] += (
                2.0 * float(getattr(term.objective, "weight", 1.0)) * share
            )
        indptr, indices, data = self.by_row
        curvature = np.empty(self.n_beamlets)
        csr_rmatvec(indptr, indices, np.square(data), row_weights, curvature)
        positive = curvature > 0.0
        if not np.any(positive):
            return np.ones(self.n_beamlets)
        curvature[~positive] = curvature[positive].min()
        scales = 1.0 / np.sqrt(curvature)
        return scales / float(np.median(scales))

    def objective_values(self, dose_at_rows: NDArray[np.float64]) -> tuple[float, ...]:
        """Each objective's value for a dose on :attr:`rows`."""
        return tuple(t.objective.value(dose_at_rows[t.positions], t.volumes) for t in self.terms)

    def evaluate(self, weights: ArrayLike) -> tuple[float, NDArray[np.float64], tuple[float, ...]]:
        """Total objective, its gradient with respect to the weights, and each objective's value.

        Rows that feed only objectives which vanish below a dose (squared
        overdose, maximum dose) are skipped while a bound proves they stay
        below it (:class:`_Screen`); value and gradient are exactly those
        of computing every row. Not for concurrent use from several threads
        on one problem (the screen's reference point is shared).
        """
        screen = self.screen
        if screen is None:
            dose = self.dose_at_rows(weights)
        else:
            with screen.lock:
                full = screen.reference_weights is None or screen.recompute_all
                dose, computed = self._forward(weights, full=full)
                screen.update(weights, dose, computed, full)
        gradient_dose = np.zeros(self.rows.size)
        values = []
        for term in self.terms:
            value, gradient = term.objective.value_and_gradient(dose[term.positions], term.volumes)
            values.append(float(value))
            # a term's positions are unique (from flatnonzero), so += does not lose updates
            gradient_dose[term.positions] += gradient
        return float(sum(values)), self.gradient_from_rows(gradient_dose), tuple(values)


_NO_ROWS_2 = np.zeros((0, 0, 2), dtype=np.float32)
_NO_ROWS_3 = np.zeros((0, 0, 1), dtype=np.float32)
_NO_SCREEN = (
    np.zeros(0),
    np.zeros(0),
    np.zeros((0, 0)),
    np.zeros((0, 0)),
    np.zeros(0),
    np.zeros(0),
)


class _Screen:
    """Which rows an evaluation may skip, and the reference point that proves it.

    A row whose objectives are all zero (with zero gradient) at doses up to
    some ``D`` — squared overdose, maximum dose — need not be computed
    while its dose provably stays at or below ``D``. Its dose at ``w`` is
    at most an upper bound ``R`` of its dose at a reference point ``w₀``
    plus, per beam ``g``, ``min(max_j a_rj · ‖(w − w₀)₊‖₁, ‖a_r‖₂ ·
    ‖(w − w₀)₊‖₂)`` over the beam's columns (entries are non-negative;
    Hölder). The first evaluation computes every row (``R`` exact). As the
    weights move away from ``w₀`` more rows must be computed; when the
    share of skippable rows computed is more than ``GROWTH`` times the
    share right after the last reference (and more than ``FLOOR``), the
    next evaluation becomes the new reference: its computed rows give
    exact ``R``, its skipped rows their bound. Bounds carried over many
    references grow loose; when the share just after a reference is more
    than twice the share just after the last evaluation that computed
    every row, the next reference computes every row again. On TG-119 an
    evaluation just after a reference computes 2–5 % of the skippable
    rows.
    """

    GROWTH = 1.25
    FLOOR = 0.005

    def __init__(
        self,
        limit: NDArray[np.float64],
        bound_max: NDArray[np.float64],
        bound_norm: NDArray[np.float64],
        groups: NDArray[np.int64],
    ) -> None:
        self.limit = limit
        self.bound_max = bound_max
        self.bound_norm = bound_norm
        self.groups = groups
        self.n_groups = int(bound_max.shape[1])
        self.n_skippable = int(np.count_nonzero(limit > -np.inf))
        self.reference_weights: NDArray[np.float64] | None = None
        self.reference_dose = np.zeros(limit.size)
        self.stale = True
        self.recompute_all = True
        self.share_after_reference: float | None = None
        self.share_after_full: float | None = None
        self.last_was_full = False
        self.lock = threading.Lock()
        no_step = np.zeros(self.n_groups)
        self.unscreened = (limit, self.reference_dose, bound_max, bound_norm, no_step, no_step)
        self.evaluations = 0
        self.rows_computed = 0

    @classmethod
    def build(
        cls,
        influence: DoseInfluence,
        n_rows: int,
        terms: tuple[_Term, ...],
        arrays: tuple[NDArray[Any], NDArray[Any], NDArray[Any]],
        scatter: Any,
    ) -> _Screen | None:
        limit = np.full(n_rows, np.inf)
        always = np.zeros(n_rows, dtype=bool)
        for term in terms:
            level = term.objective._zero_up_to_gy()
            if level is None:
                always[term.positions] = True
            else:
                limit[term.positions] = np.minimum(limit[term.positions], level)
        limit[always] = -np.inf
        indptr, indices, data = arrays
        if not np.any(limit > -np.inf) or (data.size and float(data.min()) < 0.0):
            return None
        groups = np.asarray(influence.beamlets.beam_index, dtype=np.int64)
        n_groups = int(groups.max()) + 1 if groups.size else 1
        if scatter is not None and not np.array_equal(scatter.source_cells[:, 0], groups):
            return None
        bound_max = np.empty((n_rows, n_groups))
        bound_norm = np.empty((n_rows, n_groups))
        row_group_bounds(indptr, indices, data, groups, bound_max, bound_norm)
        if scatter is not None:
            if float(scatter.amplitude.min(initial=0.0)) < 0.0:
                return None
            largest, norm = scatter.row_bounds()
            bound_max += largest
            bound_norm += norm
        # round the bounds up a little (float32 tables, float64 sums)
        bound_max *= 1.0 + 1e-6
        bound_norm *= 1.0 + 1e-6
        return cls(limit, bound_max, bound_norm, groups)

    def arguments(self, weights: ArrayLike) -> tuple[NDArray[np.float64], ...]:
        """``limit, reference, bound_max, bound_norm, step_sum, step_norm`` for ``screened_matvec``."""
        assert self.reference_weights is not None
        step = np.maximum(np.asarray(weights, dtype=np.float64) - self.reference_weights, 0.0)
        step_sum = np.bincount(self.groups, weights=step, minlength=self.n_groups)
        step_norm = np.sqrt(np.bincount(self.groups, weights=step * step, minlength=self.n_groups))
        return (
            self.limit,
            self.reference_dose,
            self.bound_max,
            self.bound_norm,
            step_sum,
            step_norm,
        )

    def update(
        self, weights: ArrayLike, dose: NDArray[np.float64], computed: int, full: bool
    ) -> None:
        """Record an evaluation; make it the reference if the last one asked for it."""
        self.evaluations += 1
        self.rows_computed += computed
        if full or self.stale:
            # every skipped row's dose is its bound, an upper bound at these weights
            self.reference_weights = np.array(weights, dtype=np.float64)
            self.reference_dose[:] = dose
            self.stale = False
            self.recompute_all = False
            self.share_after_reference = None
            self.last_was_full = full
            return
        share = (computed - (self.limit.size - self.n_skippable)) / self.n_skippable
        if self.share_after_reference is None:
            self.share_after_reference = share
            if self.last_was_full:
                self.share_after_full = share
            elif self.share_after_full is not None:
                # bounds carried over many references grow loose: start afresh
                self.recompute_all = share > 2.0 * self.share_after_full + self.FLOOR
        self.stale = share > max(self.GROWTH * self.share_after_reference, self.FLOOR)


def _positions(rows: NDArray[np.int64], voxels: NDArray[np.int64]) -> NDArray[np.int64] | slice:
    """Where ``voxels`` (sorted, unique, a subset of ``rows``) sit in ``rows``; a slice if all."""
    if voxels.size == rows.size:
        return slice(None)
    return np.searchsorted(rows, voxels).astype(np.int64)


def _csr_arrays(matrix: Any) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    return (
        np.ascontiguousarray(matrix.indptr, dtype=np.int64),
        unsigned_indices(matrix.indices.astype(np.int32, copy=False)),
        np.ascontiguousarray(matrix.data, dtype=np.float32),
    )
