"""A fluence problem: the influence rows the objectives need and their products."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.anatomy import Structure
from rtwin.dose import DoseInfluence
from rtwin.errors import OptimizationError
from rtwin.optimize._kernels import csr_matvec, csr_rmatvec, unsigned_indices
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
        return cls(
            influence=influence,
            objectives=objectives,
            rows=rows,
            terms=terms,
            by_row=_csr_arrays(by_row),
            scatter=scatter,
        )

    @property
    def n_beamlets(self) -> int:
        """Number of optimization variables."""
        return self.influence.n_beamlets

    def dose_at_rows(self, weights: ArrayLike) -> NDArray[np.float64]:
        """Dose (Gy) at :attr:`rows` for ``weights``; float64."""
        w = np.ascontiguousarray(weights, dtype=np.float64)
        indptr, indices, data = self.by_row
        dose = np.empty(self.rows.size)
        csr_matvec(indptr, indices, data, w, dose)
        if self.scatter is not None:
            dose += self.scatter.forward(w)
        return dose

    def gradient_from_rows(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """``Dᵀ values`` for a vector on :attr:`rows`."""
        g = np.ascontiguousarray(values, dtype=np.float64)
        indptr, indices, data = self.by_row
        out = np.empty(self.n_beamlets)
        csr_rmatvec(indptr, indices, data, g, out)
        if self.scatter is not None:
            out += self.scatter.adjoint(g)
        return out

    def objective_values(self, dose_at_rows: NDArray[np.float64]) -> tuple[float, ...]:
        """Each objective's value for a dose on :attr:`rows`."""
        return tuple(t.objective.value(dose_at_rows[t.positions], t.volumes) for t in self.terms)

    def evaluate(self, weights: ArrayLike) -> tuple[float, NDArray[np.float64], tuple[float, ...]]:
        """Total objective, its gradient with respect to the weights, and each objective's value."""
        dose = self.dose_at_rows(weights)
        gradient_dose = np.zeros(self.rows.size)
        values = []
        for term in self.terms:
            value, gradient = term.objective.value_and_gradient(dose[term.positions], term.volumes)
            values.append(float(value))
            # a term's positions are unique (from flatnonzero), so += does not lose updates
            gradient_dose[term.positions] += gradient
        return float(sum(values)), self.gradient_from_rows(gradient_dose), tuple(values)


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
