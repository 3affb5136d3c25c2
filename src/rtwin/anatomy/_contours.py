"""Planar contours ↔ voxel masks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.anatomy._kernels import scanline_fill_fraction
from rtwin.errors import StructureError
from rtwin.geometry import Grid

__all__ = ["contours_from_mask", "rasterize_contours"]

#: Contour points may lie this far (in slices) off their plane and still count as planar.
_PLANE_TOLERANCE_SLICES = 0.05


def rasterize_contours(
    grid: Grid,
    contours: Sequence[ArrayLike],
    *,
    subsamples: int = 9,
    name: str = "structure",
    plane_thickness_mm: float | None = None,
) -> NDArray[np.bool_]:
    """Voxel mask of closed planar contours (even-odd rule, sub-voxel sampling).

    Parameters
    ----------
    grid
        The target grid; contours must be parallel to its slices (its
        ``i, j`` plane).
    contours
        Closed polygons, each an ``(n, 3)`` array of patient points
        ``(x, y, z)`` in mm (``n ≥ 3``; the closing edge is implied).
    subsamples
        Each voxel is sampled on ``subsamples × subsamples`` in-plane points;
        a voxel belongs to the mask when at least half of them are inside
        (an odd number keeps exact ties rare).
    name
        Structure name for error messages.
    plane_thickness_mm
        Thickness of the slab each contour plane stands for. By default one
        slice of the grid: a contour fills the slice it lies on (the usual
        case: contours drawn on the image slices). Give the contour spacing
        to rasterize onto a grid finer than the contours.

    Returns
    -------
    numpy.ndarray
        Boolean mask of shape ``grid.shape``.

    Notes
    -----
    All contours on one plane are combined with the even-odd (XOR) rule, so
    a contour nested in another cuts a hole, and one nested in a hole makes
    an island. A plane at slice position ``p`` fills the slices ``k`` with
    ``p − t/2 ≤ k < p + t/2`` (``t`` the plane thickness in slices; the
    nearest plane wins where slabs overlap); a gap between planes larger
    than the thickness stays empty, so separate lesions in one ROI are not
    joined. Contours are assigned to slices, not interpolated.

    Raises
    ------
    StructureError
        A contour is not planar, not parallel to the grid's slices, or has
        fewer than three points.

    Examples
    --------
    >>> import numpy as np
    >>> from rtwin.anatomy import rasterize_contours
    >>> from rtwin.geometry import Grid
    >>> grid = Grid.from_spacing((1, 10, 10), spacing_mm=1.0)
    >>> square = np.array([[1.5, 1.5, 0], [6.5, 1.5, 0], [6.5, 6.5, 0], [1.5, 6.5, 0]])
    >>> int(rasterize_contours(grid, [square]).sum())
    25
    """
    if int(subsamples) < 1:
        raise StructureError(f"subsamples must be a positive integer; got {subsamples!r}")
    subsamples = int(subsamples)
    planes: dict[int, list[NDArray[np.float64]]] = {}
    plane_positions: list[float] = []
    for number, contour in enumerate(contours):
        points = np.asarray(contour, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 3 or points.shape[0] < 3:
            raise StructureError(
                f"structure {name!r}: contour {number} must be an (n >= 3, 3) array of points; "
                f"got shape {points.shape}"
            )
        index = grid.patient_to_index(points)
        k = index[:, 2]
        if np.ptp(k) > _PLANE_TOLERANCE_SLICES:
            raise StructureError(
                f"structure {name!r}: contour {number} is not in one plane parallel to the image "
                f"slices (its points span {np.ptp(k) * grid.spacing_mm[2]:.3g} mm along the slice "
                "normal); oblique contours need an image grid of the same orientation"
            )
        position = float(np.mean(k))
        key = _plane_key(position, plane_positions)
        planes.setdefault(key, []).append(index[:, :2])
    mask = np.zeros(grid.shape, dtype=bool)
    if not planes:
        return mask
    positions = np.array(plane_positions)
    if plane_thickness_mm is None:
        half_thickness = 0.5
    else:
        if not (np.isfinite(plane_thickness_mm) and plane_thickness_mm > 0):
            raise StructureError(f"plane_thickness_mm must be positive; got {plane_thickness_mm!r}")
        half_thickness = max(0.5, 0.5 * plane_thickness_mm / float(grid.spacing_mm[2]))
    nz, ny, nx = grid.shape
    fractions: dict[int, NDArray[np.float64]] = {}
    for slice_index in range(nz):
        offsets = slice_index - positions
        covering = np.flatnonzero(
            (offsets >= -half_thickness - 1e-6) & (offsets < half_thickness - 1e-6)
        )
        if covering.size == 0:
            continue
        nearest = int(covering[np.argmin(np.abs(offsets[covering]))])
        if nearest not in fractions:
            edges = _edges(planes[nearest])
            fractions[nearest] = scanline_fill_fraction(*edges, ny, nx, subsamples)
        mask[slice_index] = fractions[nearest] >= 0.5 - 1e-9
    return mask


def _plane_key(position: float, known: list[float]) -> int:
    for key, value in enumerate(known):
        if abs(value - position) <= _PLANE_TOLERANCE_SLICES:
            return key
    known.append(position)
    return len(known) - 1


def _edges(polygons: list[NDArray[np.float64]]) -> tuple[NDArray[np.float64], ...]:
    starts = np.concatenate(polygons)
    ends = np.concatenate([np.roll(p, -1, axis=0) for p in polygons])
    return (
        np.ascontiguousarray(starts[:, 0]),
        np.ascontiguousarray(starts[:, 1]),
        np.ascontiguousarray(ends[:, 0]),
        np.ascontiguousarray(ends[:, 1]),
    )


def contours_from_mask(mask: ArrayLike, grid: Grid) -> list[NDArray[np.float64]]:
    """Closed planar contours (patient mm) tracing a voxel mask slice by slice.

    The contours run along the voxel edges (marching squares via contourpy
    on the mask sampled twice per voxel, so corners are cut by a quarter
    voxel only); outer boundaries and holes both become contours, and
    reading them back with the even-odd rule of :func:`rasterize_contours`
    restores the mask exactly.

    Returns
    -------
    list of numpy.ndarray
        Each an ``(n, 3)`` array of points, first point not repeated.

    Examples
    --------
    >>> import numpy as np
    >>> from rtwin.geometry import Grid
    >>> grid = Grid.from_spacing((1, 6, 6), spacing_mm=1.0)
    >>> mask = np.zeros((1, 6, 6), bool); mask[0, 1:5, 1:5] = True; mask[0, 2:4, 2:4] = False
    >>> contours = contours_from_mask(mask, grid)
    >>> len(contours)   # outer boundary and the hole
    2
    >>> bool((rasterize_contours(grid, contours) == mask).all())
    True
    """
    import contourpy

    mask = np.asarray(mask, dtype=bool)
    if mask.shape != grid.shape:
        raise StructureError(f"mask shape {mask.shape} does not match the grid {grid.shape}")
    result: list[NDArray[np.float64]] = []
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        # each voxel becomes 2 x 2 samples at +-1/4 voxel: the 0.5 iso-line between
        # samples then runs on the voxel edges (corners cut by 1/4 voxel only)
        doubled = np.repeat(np.repeat(mask[k], 2, axis=0), 2, axis=1).astype(np.float64)
        padded = np.pad(doubled, 1)
        generator = contourpy.contour_generator(
            z=padded, line_type=contourpy.LineType.Separate, corner_mask=False
        )
        for line in generator.lines(0.5):
            if len(line) < 4:
                continue
            line = line[:-1] if np.allclose(line[0], line[-1]) else line
            columns = (line[:, 0] - 1.0) / 2.0 - 0.25
            rows = (line[:, 1] - 1.0) / 2.0 - 0.25
            index = np.column_stack((columns, rows, np.full(len(line), float(k))))
            result.append(grid.index_to_patient(index))
    return result
