"""The voxel grid: array shape plus the one index→patient affine."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin._arrays import frozen
from rtwin.errors import GeometryError

__all__ = ["Grid"]

_ORTHONORMAL_TOLERANCE = 1e-4
_SAME_GRID_TOLERANCE_MM = 1e-3


def _as_vector3(value: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        array = np.repeat(array, 3)
    if array.shape != (3,) or not np.all(np.isfinite(array)):
        raise GeometryError(
            f"{name} must be 3 finite numbers (x, y, z) in mm or one number for all three; "
            f"got {value!r}"
        )
    return array


def _read_only(array: NDArray[Any]) -> NDArray[Any]:
    return frozen(array)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Grid:
    """A regular voxel grid in DICOM patient coordinates (LPS, mm).

    A grid is an array shape ``(nz, ny, nx)`` (C order: slice, row, column =
    ``(k, j, i)``) and a 4×4 affine that maps a voxel index ``(i, j, k)`` —
    column, row, slice, the order of a point ``(x, y, z)`` — to the patient
    position of that voxel's centre. The affine is the only index↔patient
    mapping in rtwin; spacing, origin and direction are read from it.

    Parameters
    ----------
    shape
        ``(nz, ny, nx)``: number of slices, rows and columns.
    affine
        4×4 matrix, ``patient_xyz1 = affine @ (i, j, k, 1)``. Its upper 3×3
        block is ``direction @ diag(spacing)`` with orthonormal direction
        columns; the last row is ``(0, 0, 0, 1)``.

    Raises
    ------
    GeometryError
        Shape not three positive integers, affine not finite, spacing not
        positive or directions not orthonormal (e.g. a gantry-tilted series;
        resample it first).

    Notes
    -----
    ``spacing_mm`` and ``origin_mm`` follow the ``(i, j, k)`` = (x-like,
    y-like, z-like) order of points, while ``shape`` follows the array
    order ``(k, j, i)``. The grid's extent reaches half a voxel beyond the
    outer voxel centres.

    Examples
    --------
    >>> from rtwin.geometry import Grid
    >>> grid = Grid.from_spacing((10, 20, 30), spacing_mm=(1.0, 2.0, 3.0), origin_mm=(-5, 0, 0))
    >>> grid.index_to_patient([[1, 2, 3]])
    array([[-4.,  4.,  9.]])
    >>> grid.patient_to_index([[-4.0, 4.0, 9.0]])
    array([[1., 2., 3.]])
    >>> grid.with_spacing(6.0).shape
    (5, 7, 5)
    """

    shape: tuple[int, int, int]
    affine: NDArray[np.float64] = field(repr=False)

    def __post_init__(self) -> None:
        shape = tuple(self.shape)
        if len(shape) != 3 or not all(
            isinstance(n, int | np.integer) and not isinstance(n, bool) and n > 0 for n in shape
        ):
            raise GeometryError(
                f"grid shape must be three positive integers (nz, ny, nx); got {self.shape!r}"
            )
        affine = np.array(self.affine, dtype=np.float64, copy=True)
        if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
            raise GeometryError(f"grid affine must be a finite 4x4 matrix; got {self.affine!r}")
        if not np.allclose(affine[3], (0.0, 0.0, 0.0, 1.0)):
            raise GeometryError(f"grid affine's last row must be (0, 0, 0, 1); got {affine[3]}")
        spacing = np.linalg.norm(affine[:3, :3], axis=0)
        if np.any(spacing <= 0):
            raise GeometryError(f"grid spacing must be positive; got {spacing} mm")
        direction = affine[:3, :3] / spacing
        if not np.allclose(direction.T @ direction, np.eye(3), atol=_ORTHONORMAL_TOLERANCE):
            raise GeometryError(
                "grid directions must be orthonormal (DICOM image orientation); got direction "
                f"columns {direction.T.tolist()}. A sheared grid (e.g. a gantry-tilted CT) "
                "must be resampled onto an orthogonal grid first"
            )
        object.__setattr__(self, "shape", tuple(int(n) for n in shape))
        object.__setattr__(self, "affine", _read_only(affine))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_spacing(
        cls,
        shape: Sequence[int],
        *,
        spacing_mm: ArrayLike,
        origin_mm: ArrayLike = (0.0, 0.0, 0.0),
        direction: ArrayLike | None = None,
    ) -> Grid:
        """Build a grid from spacing, origin and direction cosines.

        Parameters
        ----------
        shape
            ``(nz, ny, nx)``.
        spacing_mm
            Voxel size along ``(i, j, k)`` in mm, or one number for all three.
        origin_mm
            Patient position ``(x, y, z)`` of the centre of voxel ``(0, 0, 0)``.
        direction
            3×3 matrix whose columns are the unit vectors of the ``i``, ``j``
            and ``k`` axes in patient coordinates; identity by default.

        Examples
        --------
        >>> Grid.from_spacing((2, 3, 4), spacing_mm=2.5).spacing_mm
        array([2.5, 2.5, 2.5])
        """
        spacing = _as_vector3(spacing_mm, "spacing_mm")
        if np.any(spacing <= 0):
            raise GeometryError(f"spacing_mm must be positive; got {spacing.tolist()}")
        origin = _as_vector3(origin_mm, "origin_mm")
        rotation = np.eye(3) if direction is None else np.asarray(direction, dtype=np.float64)
        if rotation.shape != (3, 3):
            raise GeometryError(f"direction must be a 3x3 matrix; got shape {rotation.shape}")
        affine = np.eye(4)
        affine[:3, :3] = rotation * spacing
        affine[:3, 3] = origin
        return cls(shape=tuple(int(n) for n in shape), affine=affine)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ derived geometry
    @property
    def spacing_mm(self) -> NDArray[np.float64]:
        """Voxel size along the ``(i, j, k)`` axes in mm."""
        return _read_only(np.linalg.norm(self.affine[:3, :3], axis=0))

    @property
    def origin_mm(self) -> NDArray[np.float64]:
        """Patient position ``(x, y, z)`` of the centre of voxel ``(0, 0, 0)``."""
        return _read_only(self.affine[:3, 3].copy())

    @property
    def direction(self) -> NDArray[np.float64]:
        """3×3 matrix whose columns are the unit vectors of the ``i, j, k`` axes."""
        return _read_only(self.affine[:3, :3] / self.spacing_mm)

    @property
    def size_xyz(self) -> tuple[int, int, int]:
        """Number of voxels along ``(i, j, k)`` (SimpleITK's order)."""
        nz, ny, nx = self.shape
        return (nx, ny, nz)

    @property
    def n_voxels(self) -> int:
        """Total number of voxels."""
        return math.prod(self.shape)

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel in mm³."""
        return float(np.prod(self.spacing_mm))  # directions are orthonormal

    @property
    def is_axis_aligned(self) -> bool:
        """True when the direction matrix is the identity (the usual HFS axial CT)."""
        return bool(np.allclose(self.direction, np.eye(3), atol=_ORTHONORMAL_TOLERANCE))

    @property
    def center_mm(self) -> NDArray[np.float64]:
        """Patient position of the grid's centre."""
        nz, ny, nx = self.shape
        return self.index_to_patient(np.array([(nx - 1) / 2, (ny - 1) / 2, (nz - 1) / 2]))

    def axis_coordinates_mm(self) -> tuple[NDArray[np.float64], ...]:
        """Voxel-centre coordinates along x, y and z for an axis-aligned grid.

        Returns
        -------
        x, y, z
            1-D arrays of lengths ``nx``, ``ny``, ``nz``.

        Raises
        ------
        GeometryError
            The grid is not axis aligned (coordinates do not separate).
        """
        if not self.is_axis_aligned:
            raise GeometryError(
                "axis_coordinates_mm needs an axis-aligned grid; this grid's direction is "
                f"{self.direction.tolist()}. Use index_to_patient for oblique grids"
            )
        return tuple(
            self.origin_mm[a] + self.spacing_mm[a] * np.arange(self.size_xyz[a]) for a in range(3)
        )

    # ------------------------------------------------------------------ mappings
    def index_to_patient(self, index_ijk: ArrayLike) -> NDArray[np.float64]:
        """Map voxel indices ``(..., 3)`` in ``(i, j, k)`` order to patient ``(x, y, z)`` mm.

        Indices may be fractional (continuous index space: voxel centres at
        integers).
        """
        points = np.asarray(index_ijk, dtype=np.float64)
        if points.shape[-1:] != (3,):
            raise GeometryError(f"indices must have shape (..., 3); got {points.shape}")
        return points @ self.affine[:3, :3].T + self.affine[:3, 3]

    def patient_to_index(self, points_mm: ArrayLike) -> NDArray[np.float64]:
        """Map patient points ``(..., 3)`` in mm to continuous ``(i, j, k)`` indices."""
        points = np.asarray(points_mm, dtype=np.float64)
        if points.shape[-1:] != (3,):
            raise GeometryError(f"points must have shape (..., 3) as (x, y, z); got {points.shape}")
        inverse = np.linalg.inv(self.affine)
        return points @ inverse[:3, :3].T + inverse[:3, 3]

    def contains(self, points_mm: ArrayLike) -> NDArray[np.bool_]:
        """Whether each point ``(..., 3)`` lies inside the grid's extent.

        The extent reaches half a voxel beyond the outer voxel centres, so a
        point belongs to the grid when it lies inside some voxel.
        """
        index = self.patient_to_index(points_mm)
        upper = np.asarray(self.size_xyz, dtype=np.float64) - 0.5
        tolerance = 1e-9
        return np.all((index >= -0.5 - tolerance) & (index <= upper + tolerance), axis=-1)

    def voxel_centers_mm(self) -> NDArray[np.float64]:
        """Patient positions of all voxel centres, shape ``(nz, ny, nx, 3)``."""
        k, j, i = np.indices(self.shape, dtype=np.float64)
        return self.index_to_patient(np.stack((i, j, k), axis=-1))

    # ------------------------------------------------------------------ new grids
    def with_spacing(self, spacing_mm: ArrayLike) -> Grid:
        """A grid with another voxel size covering the same extent.

        The new grid keeps the direction and the centre; along each axis it
        has ``ceil(n * old / new)`` voxels, so its extent covers the old one
        (it overhangs by less than one new voxel when the sizes do not
        divide).

        Parameters
        ----------
        spacing_mm
            New voxel size along ``(i, j, k)`` in mm, or one number for all.

        Examples
        --------
        >>> grid = Grid.from_spacing((129, 167, 167), spacing_mm=(3.0, 3.0, 2.5))
        >>> grid.with_spacing(5.0).shape
        (65, 101, 101)
        """
        new_spacing = _as_vector3(spacing_mm, "spacing_mm")
        if np.any(new_spacing <= 0):
            raise GeometryError(f"spacing_mm must be positive; got {new_spacing.tolist()}")
        old_size = np.asarray(self.size_xyz, dtype=np.float64)
        extent = old_size * self.spacing_mm
        new_size = np.maximum(1, np.ceil(np.round(extent / new_spacing, 9))).astype(int)
        direction = self.direction
        origin = self.center_mm - direction @ (new_spacing * (new_size - 1) / 2)
        return Grid.from_spacing(
            (int(new_size[2]), int(new_size[1]), int(new_size[0])),
            spacing_mm=new_spacing,
            origin_mm=origin,
            direction=direction,
        )

    def subgrid(self, slices: tuple[slice, slice, slice]) -> Grid:
        """The grid of ``array[slices]`` for basic ``(k, j, i)`` slices with step 1."""
        starts = []
        sizes = []
        for axis_slice, n in zip(slices, self.shape, strict=True):
            start, stop, step = axis_slice.indices(n)
            if step != 1 or stop <= start:
                raise GeometryError(f"subgrid needs non-empty slices with step 1; got {slices}")
            starts.append(start)
            sizes.append(stop - start)
        affine = self.affine.copy()
        affine[:3, 3] = self.index_to_patient(np.array(starts[::-1], dtype=np.float64))
        return Grid(shape=tuple(sizes), affine=affine)  # type: ignore[arg-type]

    def padded(self, voxels: int | Sequence[int]) -> Grid:
        """A grid larger by ``voxels`` on each side (``(k, j, i)`` order or one number)."""
        pad = np.broadcast_to(np.asarray(voxels, dtype=int), (3,))
        if np.any(pad < 0):
            raise GeometryError(f"padding must be non-negative; got {voxels!r}")
        affine = self.affine.copy()
        affine[:3, 3] = self.index_to_patient(-pad[::-1].astype(np.float64))
        shape = tuple(int(n + 2 * p) for n, p in zip(self.shape, pad, strict=True))
        return Grid(shape=shape, affine=affine)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ comparison
    def is_same_as(self, other: Grid, *, tolerance_mm: float = _SAME_GRID_TOLERANCE_MM) -> bool:
        """True when both grids have the same shape and voxel positions within tolerance."""
        if not isinstance(other, Grid) or self.shape != other.shape:
            return False
        # Compare the positions of the corner voxels: covers spacing, origin and direction.
        nz, ny, nx = self.shape
        corners = np.array(
            [[i, j, k] for i in (0, nx - 1) for j in (0, ny - 1) for k in (0, nz - 1)],
            dtype=np.float64,
        )
        corners = np.vstack([corners, np.eye(3)])  # unit steps catch 1-voxel axes
        difference = self.index_to_patient(corners) - other.index_to_patient(corners)
        return bool(np.max(np.abs(difference)) <= tolerance_mm)

    def require_same(self, other: Grid, what: str = "the two objects") -> None:
        """Raise :class:`GeometryError` unless ``other`` is the same grid."""
        if not self.is_same_as(other):
            raise GeometryError(
                f"{what} are on different grids ({self!r} vs {other!r}); resample one onto the "
                "other's grid first (e.g. .resampled(grid))"
            )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        return self.is_same_as(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        spacing = ", ".join(f"{s:g}" for s in self.spacing_mm)
        origin = ", ".join(f"{o:g}" for o in self.origin_mm)
        oblique = "" if self.is_axis_aligned else ", oblique"
        return f"Grid(shape={self.shape}, spacing_mm=({spacing}), origin_mm=({origin}){oblique})"
