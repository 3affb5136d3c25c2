"""Structures (voxel masks with a name and a clinical role) and their margins."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin._arrays import frozen
from rtwin.errors import GeometryError, StructureError
from rtwin.geometry import Grid

__all__ = ["Structure", "StructureRole"]


class StructureRole(StrEnum):
    """The clinical role of a structure (DICOM ``RTROIInterpretedType``, simplified)."""

    TARGET = "target"
    """GTV, CTV, PTV: dose is prescribed to it."""
    ORGAN_AT_RISK = "organ_at_risk"
    """An organ whose dose is limited."""
    EXTERNAL = "external"
    """The body outline."""
    SUPPORT = "support"
    """Couch, immobilisation, bolus: outside the patient but in the beam."""
    OTHER = "other"
    """Anything else (markers, planning helpers, rings)."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Structure:
    """A named region of the patient as a boolean voxel mask on a grid.

    Parameters
    ----------
    name
        Structure name as the clinic writes it (``"PTV"``, ``"Rectum"``).
    mask
        Boolean array of shape ``grid.shape``; stored as a read-only copy.
    grid
        The grid of the mask.
    role
        :class:`StructureRole` or its value (``"target"``, ``"organ_at_risk"``,
        ``"external"``, ``"support"``, ``"other"``).
    color
        Display colour as RGB in 0–255, optional.

    Notes
    -----
    A voxel belongs to the structure when its centre does (or, for
    contours, when at least half its in-plane area does). Margins are
    Euclidean in millimetres between voxel centres, computed with the
    grid's real, possibly anisotropic, spacing: a 5 mm margin reaches
    5 mm in every direction. Margins cannot grow past the grid's edge.

    Examples
    --------
    >>> import numpy as np
    >>> from rtwin.anatomy import Structure
    >>> from rtwin.geometry import Grid
    >>> grid = Grid.from_spacing((30, 60, 60), spacing_mm=(1.0, 1.0, 3.0), origin_mm=(-30, -30, -45))
    >>> ball = Structure.from_function("Ball", grid, lambda x, y, z: x**2 + y**2 + z**2 <= 15.0**2)
    >>> round(ball.volume_cc, 1)   # analytic 4/3 pi 1.5^3 = 14.1 cc; 3 mm slices
    13.9
    >>> round(ball.expanded(5.0).volume_cc, 1)   # analytic 4/3 pi 2.0^3 = 33.5 cc
    34.9
    >>> ball.centroid_mm.round(6) + 0.0
    array([0., 0., 0.])
    """

    name: str
    mask: NDArray[np.bool_] = field(repr=False)
    grid: Grid = field(repr=False)
    role: StructureRole = StructureRole.OTHER
    color: tuple[int, int, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise StructureError(f"structure name must be a non-empty string; got {self.name!r}")
        if not isinstance(self.grid, Grid):
            raise GeometryError(
                f"structure {self.name!r}: grid must be a rtwin Grid; got {type(self.grid).__name__}"
            )
        try:
            role = StructureRole(self.role)
        except ValueError:
            raise StructureError(
                f"structure {self.name!r}: unknown role {self.role!r}; use one of "
                f"{[r.value for r in StructureRole]}"
            ) from None
        mask = np.asarray(self.mask)
        if mask.shape != self.grid.shape:
            raise StructureError(
                f"structure {self.name!r}: mask shape {mask.shape} does not match the grid "
                f"{self.grid.shape} (arrays are (nz, ny, nx))"
            )
        if mask.dtype != np.bool_:
            if not np.all((mask == 0) | (mask == 1)):
                raise StructureError(
                    f"structure {self.name!r}: mask must be boolean (or 0/1); got values in "
                    f"[{mask.min()}, {mask.max()}]"
                )
        mask = np.array(mask, dtype=np.bool_, copy=True, order="C")
        if self.color is not None:
            color = tuple(int(c) for c in self.color)
            if len(color) != 3 or not all(0 <= c <= 255 for c in color):
                raise StructureError(
                    f"structure {self.name!r}: color must be three integers 0-255; got {self.color!r}"
                )
            object.__setattr__(self, "color", color)
        object.__setattr__(self, "role", role)
        object.__setattr__(self, "mask", frozen(mask))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_function(
        cls,
        name: str,
        grid: Grid,
        inside,
        *,
        role: StructureRole | str = StructureRole.OTHER,
        color: tuple[int, int, int] | None = None,
    ) -> Structure:
        """A structure whose voxels are those whose centre satisfies ``inside(x, y, z)``.

        ``inside`` receives the patient coordinates in mm of all voxel centres
        as three arrays of shape ``grid.shape`` and returns a boolean array.
        """
        centers = grid.voxel_centers_mm()
        mask = np.asarray(inside(centers[..., 0], centers[..., 1], centers[..., 2]))
        return cls(
            name=name, mask=np.broadcast_to(mask, grid.shape), grid=grid, role=role, color=color
        )

    # ------------------------------------------------------------------ measures
    @property
    def n_voxels(self) -> int:
        """Number of voxels in the structure."""
        return int(np.count_nonzero(self.mask))

    @property
    def is_empty(self) -> bool:
        """True when no voxel belongs to the structure."""
        return not self.mask.any()

    @property
    def volume_cc(self) -> float:
        """Volume in cm³ (voxel count × voxel volume)."""
        return self.n_voxels * self.grid.voxel_volume_mm3 / 1000.0

    @property
    def centroid_mm(self) -> NDArray[np.float64]:
        """Patient position ``(x, y, z)`` in mm of the centre of mass of the mask."""
        if self.is_empty:
            raise StructureError(f"structure {self.name!r} is empty; it has no centroid")
        k, j, i = np.nonzero(self.mask)
        mean_index = np.array([i.mean(), j.mean(), k.mean()])
        return self.grid.index_to_patient(mean_index)

    def bounding_box(self) -> tuple[slice, slice, slice]:
        """The smallest ``(k, j, i)`` slices holding every voxel of the structure."""
        if self.is_empty:
            raise StructureError(f"structure {self.name!r} is empty; it has no bounding box")
        box = []
        for axis in range(3):
            other = tuple(a for a in range(3) if a != axis)
            present = np.flatnonzero(self.mask.any(axis=other))
            box.append(slice(int(present[0]), int(present[-1]) + 1))
        return tuple(box)  # type: ignore[return-value]

    # ------------------------------------------------------------------ margins
    def expanded(self, margin_mm: float, *, name: str | None = None) -> Structure:
        """The structure grown by ``margin_mm`` in every direction.

        Parameters
        ----------
        margin_mm
            Margin in mm, ≥ 0.
        name
            Name of the result; default ``"<name>+<margin>mm"``.

        Notes
        -----
        The surface lies halfway between each voxel centre inside and its
        face neighbours outside (on the voxel faces, as ``volume_cc``
        counts volume). A voxel joins when its centre lies within
        ``margin_mm`` of that surface, with distances in mm on the real,
        possibly anisotropic, spacing (an exact distance transform on a
        grid twice as fine). Flat surfaces on voxel faces (slabs, boxes,
        one-voxel rods) move by exactly the margin in every direction. On
        curved surfaces the staircase of coarse slices makes margins
        slightly generous: measured on spheres on a 1×1×3 mm grid, a 5 mm
        expansion has the analytic radius plus 0.37–0.42 mm (+4.7 % volume
        at 20 mm radius, +2.8 % at 40 mm) and a 5 mm contraction the
        analytic radius minus 0.48–0.54 mm. Near the edges and corners of
        box-shaped structures an expansion reaches up to one voxel less
        than the rounded Minkowski sum. Margins stop at the grid's edge.
        """
        margin = _check_margin(margin_mm, self.name)
        result_name = name or f"{self.name}+{margin:g}mm"
        if margin == 0 or self.is_empty:
            return replace(self, name=result_name)
        spacing_kji = self.grid.spacing_mm[::-1]
        reach = np.ceil(margin / spacing_kji).astype(int) + 2
        box = tuple(
            slice(max(0, s.start - r), min(n, s.stop + r))
            for s, r, n in zip(self.bounding_box(), reach, self.grid.shape, strict=True)
        )
        region = self.mask[box]
        grown = region | (_surface_distance(region, spacing_kji) <= margin * (1 + 1e-9) + 1e-9)
        mask = self.mask.copy()
        mask[box] = grown
        return replace(self, name=result_name, mask=mask)

    def contracted(self, margin_mm: float, *, name: str | None = None) -> Structure:
        """The structure shrunk by ``margin_mm`` in every direction.

        The complement of expanding the complement (the same voxel-face
        model as :meth:`expanded`); the space beyond the grid counts as
        outside the structure.
        """
        margin = _check_margin(margin_mm, self.name)
        result_name = name or f"{self.name}-{margin:g}mm"
        if margin == 0 or self.is_empty:
            return replace(self, name=result_name)
        spacing_kji = self.grid.spacing_mm[::-1]
        box = self.bounding_box()
        inside = np.pad(self.mask[box], 1, constant_values=False)
        kept = inside & (_surface_distance(inside, spacing_kji) > margin * (1 + 1e-9) + 1e-9)
        mask = np.zeros(self.grid.shape, dtype=bool)
        mask[box] = kept[1:-1, 1:-1, 1:-1]
        return replace(self, name=result_name, mask=mask)

    # ------------------------------------------------------------------ boolean algebra
    def union(self, other: Structure, *, name: str | None = None) -> Structure:
        """Voxels in either structure (``a | b``)."""
        self._require_compatible(other, "union")
        return replace(self, name=name or f"{self.name}|{other.name}", mask=self.mask | other.mask)

    def intersection(self, other: Structure, *, name: str | None = None) -> Structure:
        """Voxels in both structures (``a & b``)."""
        self._require_compatible(other, "intersection")
        return replace(self, name=name or f"{self.name}&{other.name}", mask=self.mask & other.mask)

    def difference(self, other: Structure, *, name: str | None = None) -> Structure:
        """Voxels in this structure but not in ``other`` (``a - b``)."""
        self._require_compatible(other, "difference")
        return replace(self, name=name or f"{self.name}-{other.name}", mask=self.mask & ~other.mask)

    def __or__(self, other: Structure) -> Structure:
        return self.union(other)

    def __and__(self, other: Structure) -> Structure:
        return self.intersection(other)

    def __sub__(self, other: Structure) -> Structure:
        return self.difference(other)

    def _require_compatible(self, other: object, operation: str) -> None:
        if not isinstance(other, Structure):
            raise StructureError(
                f"{operation} of structure {self.name!r} needs another Structure; got "
                f"{type(other).__name__}"
            )
        self.grid.require_same(other.grid, f"structures {self.name!r} and {other.name!r}")

    # ------------------------------------------------------------------ grids
    def resampled(self, grid: Grid) -> Structure:
        """The structure on another grid.

        Each target voxel is sampled on ``ceil(target / source spacing)``
        points per axis; a point is inside when it falls in a voxel of the
        structure (voxels as boxes). The voxel joins when at least half its
        points are inside (see :meth:`occupancy`), so volumes are preserved
        when upsampling onto aligned grids and unbiased when downsampling.
        """
        if self.grid.is_same_as(grid, tolerance_mm=1e-6):
            return replace(self, grid=grid)
        mask = self.occupancy(grid) >= 0.5 - 1e-9
        return replace(self, mask=mask, grid=grid)

    def occupancy(self, grid: Grid) -> NDArray[np.float64]:
        """Fraction of each voxel of ``grid`` that the structure fills, ``(nz, ny, nx)``.

        Each voxel of ``grid`` is sampled on ``ceil(its spacing / this
        structure's spacing)`` points per axis, and a point counts when it
        falls in a voxel of the structure (voxels as boxes). Used for
        partial-volume weights when a structure on the CT grid meets a
        coarser dose grid.

        Examples
        --------
        >>> from rtwin.geometry import Grid
        >>> fine = Grid.from_spacing((4, 4, 4), spacing_mm=1.0, origin_mm=(0, 0, 0))
        >>> slab = Structure.from_function("s", fine, lambda x, y, z: (x < 2) & (y < 2) & (z < 1))
        >>> coarse = Grid.from_spacing((2, 2, 2), spacing_mm=2.0, origin_mm=(0.5, 0.5, 0.5))
        >>> slab.occupancy(coarse)[0].tolist()  # half of the first coarse voxel
        [[0.5, 0.0], [0.0, 0.0]]
        """
        fraction = np.zeros(grid.shape, dtype=np.float64)
        if self.grid.is_same_as(grid, tolerance_mm=1e-6):
            fraction[self.mask] = 1.0
            return fraction
        if self.is_empty:
            return fraction
        window = self._target_window(grid)
        if window is None:
            return fraction
        to_source = np.linalg.inv(self.grid.affine) @ grid.affine
        linear = to_source[:3, :3]
        if np.any(linear[~np.eye(3, dtype=bool)] != 0.0):
            return self._occupancy_by_points(grid)
        # axis-aligned grids: each sample coordinate depends on one index, so the
        # per-axis source indices are computed once (the same floating-point
        # operations as the general path, hence the same voxels) and a kernel
        # counts the points inside
        from rtwin.anatomy._kernels import resampled_inside_counts

        low, high, counts = window
        size = self.grid.size_xyz
        index, valid = [], []
        for axis in range(3):  # x, y, z
            offsets = (np.arange(counts[axis]) + 0.5) / counts[axis] - 0.5
            points = np.arange(low[axis], high[axis]).astype(np.float64)[:, None] + offsets[None, :]
            source = points * linear[axis, axis] + to_source[axis, 3]
            nearest = np.floor(source + 0.5).astype(np.int64)
            inside = (nearest >= 0) & (nearest < size[axis])
            index.append(np.ascontiguousarray(np.where(inside, nearest, 0)))
            valid.append(np.ascontiguousarray(inside))
        inside_counts = resampled_inside_counts(
            np.ascontiguousarray(self.mask),
            index[2],
            valid[2],
            index[1],
            valid[1],
            index[0],
            valid[0],
        )
        fraction[low[2] : high[2], low[1] : high[1], low[0] : high[0]] = inside_counts / int(
            np.prod(counts)
        )
        return fraction

    def _target_window(self, grid: Grid) -> tuple[NDArray[np.int64], ...] | None:
        """Index box ``(low, high)`` of ``grid`` around the structure and samples per axis."""
        box = self.bounding_box()
        corners = np.array(
            [
                [i, j, k]
                for i in (box[2].start - 1, box[2].stop)
                for j in (box[1].start - 1, box[1].stop)
                for k in (box[0].start - 1, box[0].stop)
            ],
            dtype=np.float64,
        )
        target_index = grid.patient_to_index(self.grid.index_to_patient(corners))
        low = np.maximum(np.floor(target_index.min(axis=0)).astype(int) - 1, 0)
        high = np.minimum(
            np.ceil(target_index.max(axis=0)).astype(int) + 2, np.array(grid.size_xyz)
        )
        if np.any(high <= low):
            return None
        ratio = grid.spacing_mm / self.grid.spacing_mm
        counts = np.maximum(1, np.ceil(ratio - 1e-9).astype(int))
        return low, high, counts

    def _occupancy_by_points(self, grid: Grid) -> NDArray[np.float64]:
        """:meth:`occupancy` by mapping every sample point through the affine (any grids)."""
        fraction = np.zeros(grid.shape, dtype=np.float64)
        window = None if self.is_empty else self._target_window(grid)
        if window is None:
            return fraction
        low, high, counts = window
        offsets = [(np.arange(n) + 0.5) / n - 0.5 for n in counts]
        sub = np.stack(np.meshgrid(*offsets, indexing="ij"), axis=-1).reshape(-1, 3)
        to_source = np.linalg.inv(self.grid.affine) @ grid.affine
        size = np.array(self.grid.size_xyz)
        for k in range(low[2], high[2]):
            jj, ii = np.mgrid[low[1] : high[1], low[0] : high[0]]
            centers = np.stack((ii.ravel(), jj.ravel(), np.full(ii.size, k)), axis=-1).astype(
                np.float64
            )
            points = (centers[:, None, :] + sub[None, :, :]).reshape(-1, 3)
            source = points @ to_source[:3, :3].T + to_source[:3, 3]
            nearest = np.floor(source + 0.5).astype(np.int64)
            valid = np.all((nearest >= 0) & (nearest < size), axis=1)
            inside = np.zeros(len(points), dtype=bool)
            picked = nearest[valid]
            inside[valid] = self.mask[picked[:, 2], picked[:, 1], picked[:, 0]]
            fraction[k, low[1] : high[1], low[0] : high[0]] = (
                inside.reshape(len(centers), len(sub)).mean(axis=1).reshape(ii.shape)
            )
        return fraction

    def renamed(self, name: str) -> Structure:
        """The same structure under another name."""
        return replace(self, name=name)

    def with_role(self, role: StructureRole | str) -> Structure:
        """The same structure with another role."""
        return replace(self, role=role)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"Structure({self.name!r}, role={self.role.value}, {self.volume_cc:.2f} cc)"


def _surface_distance(
    mask: NDArray[np.bool_], spacing_kji: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Distance (mm) from every voxel centre to the structure's surface.

    The surface is sampled at the midpoints between each voxel inside and
    each face neighbour outside (the 0.5 crossing of the mask along the
    grid axes). Those midpoints are points of a grid twice as fine, so one
    exact Euclidean distance transform on that grid gives the distance of
    every voxel centre to the nearest surface point.
    """
    from scipy import ndimage

    fine_shape = tuple(2 * n - 1 for n in mask.shape)
    surface = np.zeros(fine_shape, dtype=bool)
    for axis in range(3):
        lower = [slice(None)] * 3
        upper = [slice(None)] * 3
        lower[axis] = slice(0, -1)
        upper[axis] = slice(1, None)
        crossing = mask[tuple(lower)] != mask[tuple(upper)]
        target = [slice(0, None, 2)] * 3
        target[axis] = slice(1, None, 2)
        surface[tuple(target)] |= crossing
    if not surface.any():
        return np.full(mask.shape, np.inf)
    fine = ndimage.distance_transform_edt(~surface, sampling=spacing_kji / 2)
    return fine[::2, ::2, ::2]


def _check_margin(margin_mm: ArrayLike, name: str) -> float:
    margin = float(np.asarray(margin_mm))
    if not np.isfinite(margin) or margin < 0:
        raise StructureError(
            f"margin for structure {name!r} must be a finite number of mm >= 0; got {margin_mm!r} "
            "(use contracted() to shrink)"
        )
    return margin
