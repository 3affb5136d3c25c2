"""Helpers shared by the dose engines (private)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from rtwin.anatomy import Structure
from rtwin.errors import StructureError
from rtwin.geometry import Grid
from rtwin.patient import Patient

__all__ = [
    "MAX_NNZ",
    "affine_points",
    "check_nnz",
    "dose_rows",
    "resolve_target",
    "voxel_centres_mm",
]

#: Largest number of stored entries an influence matrix may have (int32 indices and row pointers).
MAX_NNZ = 2**31 - 1


def resolve_target(patient: Patient, target: str | Structure | None) -> Structure:
    """The target structure on the patient's grid (union of the targets when ``None``)."""
    if isinstance(target, Structure):
        structure = (
            target.resampled(patient.grid) if not target.grid.is_same_as(patient.grid) else target
        )
    elif isinstance(target, str):
        structure = patient.structures[target]
    elif target is None:
        targets = patient.structures.targets
        if not targets:
            raise StructureError(
                "the patient has no structure with role 'target'; name the target: "
                f"target=... with one of {list(patient.structures)}"
            )
        structure = targets[0]
        for other in targets[1:]:
            structure = structure | other
    else:
        raise StructureError(
            f"target must be a structure name, a Structure or None; got {type(target).__name__}"
        )
    if structure.is_empty:
        raise StructureError(f"target {structure.name!r} is empty; no beamlets can cover it")
    return structure


def dose_rows(patient: Patient, grid: Grid) -> NDArray[np.int64]:
    """Flat indices of dose-grid voxels inside the external structure (all voxels without one)."""
    external = patient.structures.external
    if external is None:
        return np.arange(grid.n_voxels, dtype=np.int64)
    mask = external.resampled(grid).mask if not external.grid.is_same_as(grid) else external.mask
    return np.flatnonzero(mask.ravel()).astype(np.int64)


def check_nnz(nnz: int, engine: str) -> None:
    """Raise a clear error when a matrix would not fit int32 indices."""
    from rtwin.errors import GeometryError

    if nnz > MAX_NNZ:
        raise GeometryError(
            f"{engine}: the influence matrix would hold {nnz:,} entries, more than the "
            f"{MAX_NNZ:,} that int32 CSR indices address; use a coarser dose grid, fewer "
            "beams per matrix, or a larger cutoff_fraction"
        )


def affine_points(matrix: NDArray[np.float64], points: NDArray[np.float64]) -> NDArray[np.float64]:
    """``points @ matrix[:3, :3].T + matrix[:3, 3]`` for points ``(n, 3)`` (as ``Grid`` maps them).

    When the 3 × 3 part is diagonal (axis-aligned grids) the product is
    taken column by column: each coordinate is then one product and one sum,
    exactly what the matrix product rounds to, without a BLAS call (whose
    threads would keep spinning on the cores the kernels need next).
    """
    linear = matrix[:3, :3]
    if np.any(linear[~np.eye(3, dtype=bool)] != 0.0):
        return points @ linear.T + matrix[:3, 3]
    return points * np.diagonal(linear) + matrix[:3, 3]


def voxel_centres_mm(grid: Grid, flat_index: NDArray[np.int64]) -> NDArray[np.float64]:
    """Patient coordinates ``(n, 3)`` (mm) of the voxels with C-order flat indices ``flat_index``."""
    k, j, i = np.unravel_index(flat_index, grid.shape)
    return affine_points(grid.affine, np.column_stack((i, j, k)).astype(np.float64))
