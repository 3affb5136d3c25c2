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
    RowRuns,
    row_group_bounds,
    runs_rmatvec,
    screened_matvec,
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
    touches are kept: the sparse matrix restricted to them (stored as runs
    of consecutive columns, :class:`~rtwin.optimize._kernels.RowRuns`) and
    the scatter operator restricted to them. Products run in numba with
    float64 sums;
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
    by_row: RowRuns = field(repr=False)
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
        scatter = influence.scatter
        if scatter is not None:
            # the scatter operator on exactly the problem rows (zero where it gives no dose)
            scatter = scatter.on_rows(rows)
        # one entry per column, sorted (the screen's bounds need it)
        arrays = RowRuns.from_csr(influence.matrix, rows)
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
        """Dose at every row (``full``; the screen is left alone) or, through the screen, at
        the rows that can matter with proven bounds elsewhere (see :class:`_Screen`)."""
        w = np.ascontiguousarray(weights, dtype=np.float64)
        if w.shape != (self.n_beamlets,):
            raise OptimizationError(f"weights must have shape ({self.n_beamlets},); got {w.shape}")
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
            # scratch references: a full product never changes the screen's state
            n = self.rows.size
            arguments = (
                _NO_LIMIT if screen is None else screen.limit,
                np.empty(n),
                np.zeros(n, dtype=np.uint8),
                _NO_BOUNDS if screen is None else screen.bound_max,
                _NO_BOUNDS if screen is None else screen.bound_norm,
                _NO_STEPS,
                _NO_STEPS,
                0,
            )
            computed = screened_matvec(*self.by_row, w, convolved, *tables, *arguments, True, dose)
        else:
            first = screen.points is None  # the first evaluation computes every row
            arguments = screen.arguments(w)
            computed = screened_matvec(*self.by_row, w, convolved, *tables, *arguments, first, dose)
            screen.advance(w, arguments[1], arguments[2])
        return dose, int(computed)

    def gradient_from_rows(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """``Dᵀ values`` for a vector on :attr:`rows`."""
        g = np.ascontiguousarray(values, dtype=np.float64)
        out = np.empty(self.n_beamlets)
        runs_rmatvec(*self.by_row, g, out)
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
        curvature = np.empty(self.n_beamlets)
        runs_rmatvec(*self.by_row, row_weights, curvature, True)
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
        below it (:class:`_Screen`, for non-negative weights); value and
        gradient are exactly those of computing every row. Calls on one
        problem from several threads are serialized.
        """
        screen = self.screen
        w = np.ascontiguousarray(weights, dtype=np.float64)
        if screen is None or not bool(np.all(w >= 0.0)):
            # the bound needs non-negative weights (with mixed signs, large terms may
            # cancel in a row's sum): every row, the screen left alone
            dose = self.dose_at_rows(w)
        else:
            with screen.lock:
                dose, computed = self._forward(w, full=False)
                screen.evaluations += 1
                screen.rows_computed += computed
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
_NO_LIMIT = np.zeros(0)
_NO_BOUNDS = np.zeros((0, 1), dtype=np.float32)
_NO_STEPS = np.zeros((1, 1))


class _Screen:
    """Which rows an evaluation may skip, and the reference points that prove it.

    A row whose objectives are all zero (with zero gradient) at doses up to
    some ``D`` — squared overdose, maximum dose — need not be computed
    while its dose provably stays at or below ``D``. Its dose at ``w`` is
    at most an upper bound ``R`` of its dose at a reference point ``w₀``
    plus, per beam ``g``, ``min(max_j a_rj · ‖(w − w₀)₊‖₁, ‖a_r‖₂ ·
    ‖(w − w₀)₊‖₂)`` over the beam's columns (entries are non-negative;
    Hölder). Every evaluation becomes a reference point, kept in a ring of
    ``EPOCHS``: a computed row takes its exact dose there as its ``R``, so
    a row just below its threshold is judged by the last step only; a
    skipped row keeps its older reference while that stays in the ring
    and carries its bound forward when it is replaced. The first
    evaluation computes every row. On TG-119 an evaluation computes the
    rows at or above their thresholds and few more.
    """

    EPOCHS = 8

    def __init__(
        self,
        limit: NDArray[np.float64],
        bound_max: NDArray[np.float32],
        bound_norm: NDArray[np.float32],
        groups: NDArray[np.int64],
    ) -> None:
        self.limit = limit
        self.bound_max = bound_max
        self.bound_norm = bound_norm
        self.groups = groups
        self.n_groups = int(bound_max.shape[1])
        self.n_skippable = int(np.count_nonzero(limit > -np.inf))
        self.reference = np.zeros(limit.size)
        self.epoch = np.zeros(limit.size, dtype=np.uint8)
        self.points: NDArray[np.float64] | None = None  # (EPOCHS, n_beamlets)
        self.next_epoch = 0
        # bincount index of (epoch, group) for every (epoch, beamlet)
        self._cells = (np.arange(self.EPOCHS)[:, None] * self.n_groups + groups[None, :]).ravel()
        self.lock = threading.Lock()
        self.evaluations = 0
        self.rows_computed = 0

    @classmethod
    def build(
        cls,
        influence: DoseInfluence,
        n_rows: int,
        terms: tuple[_Term, ...],
        arrays: RowRuns,
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
        data = arrays.data
        if not np.any(limit > -np.inf) or (data.size and float(data.min()) < 0.0):
            return None
        groups = np.asarray(influence.beamlets.beam_index, dtype=np.int64)
        n_groups = int(groups.max()) + 1 if groups.size else 1
        if scatter is not None and not np.array_equal(scatter.source_cells[:, 0], groups):
            return None
        bound_max = np.empty((n_rows, n_groups))
        bound_norm = np.empty((n_rows, n_groups))
        row_group_bounds(*arrays, groups, bound_max, bound_norm)
        if scatter is not None:
            if float(scatter.amplitude.min(initial=0.0)) < 0.0:
                return None
            largest, norm = scatter.row_bounds()
            bound_max += largest
            bound_norm += norm
        # stored as float32 (each evaluation reads them all), rounded up, with a
        # little extra for the float32 matrix entries' and float64 sums' rounding
        return cls(
            limit,
            _float32_up(bound_max * (1.0 + 1e-6)),
            _float32_up(bound_norm * (1.0 + 1e-6)),
            groups,
        )

    def arguments(self, weights: NDArray[np.float64]) -> tuple[Any, ...]:
        """The screen's arguments of ``screened_matvec`` at ``weights``, and whether the call
        must compute every row (the first one).

        The kernel writes the new references into copies; :meth:`advance`
        adopts them, so an exception or an interrupt in between leaves the
        screen as it was.
        """
        shape = (self.EPOCHS, self.n_groups)
        if self.points is None:
            steps = np.zeros(shape)
            step_sum, step_norm = steps, steps
        else:
            step = np.maximum(weights[None, :] - self.points, 0.0).ravel()
            size = self.EPOCHS * self.n_groups
            step_sum = np.bincount(self._cells, weights=step, minlength=size).reshape(shape)
            step_norm = np.sqrt(
                np.bincount(self._cells, weights=step * step, minlength=size)
            ).reshape(shape)
        return (
            self.limit,
            self.reference.copy(),
            self.epoch.copy(),
            self.bound_max,
            self.bound_norm,
            step_sum,
            step_norm,
            self.next_epoch,
        )

    def advance(
        self,
        weights: NDArray[np.float64],
        reference: NDArray[np.float64],
        epoch: NDArray[np.uint8],
    ) -> None:
        """Adopt the references a call computed at ``weights`` (reference point ``next_epoch``)."""
        if self.points is None:
            # the first evaluation computed every row: every epoch starts here
            self.points = np.repeat(weights[None, :], self.EPOCHS, axis=0)
        else:
            self.points[self.next_epoch] = weights
        self.reference = reference
        self.epoch = epoch
        self.next_epoch = (self.next_epoch + 1) % self.EPOCHS

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.Lock()


def _float32_up(values: NDArray[np.float64]) -> NDArray[np.float32]:
    """``values`` as float32, each rounded up (never below the float64 value)."""
    low = values.astype(np.float32)
    return np.where(low < values, np.nextafter(low, np.float32(np.inf)), low)


def _positions(rows: NDArray[np.int64], voxels: NDArray[np.int64]) -> NDArray[np.int64] | slice:
    """Where ``voxels`` (sorted, unique, a subset of ``rows``) sit in ``rows``; a slice if all."""
    if voxels.size == rows.size:
        return slice(None)
    return np.searchsorted(rows, voxels).astype(np.int64)
