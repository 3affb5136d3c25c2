"""Beamlet layouts: where a beam's bixels (photons) lie in its isocentre plane."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from rtwin.anatomy import Structure
from rtwin.beams._beam import Beam, BeamModality
from rtwin.errors import GeometryError, StructureError

__all__ = ["photon_bixel_positions", "project_to_isocenter_plane"]


def project_to_isocenter_plane(
    beam: Beam, points_mm: NDArray[np.float64], position: str = "HFS"
) -> NDArray[np.float64]:
    """Beam's-eye-view projection ``(u, v)`` in the isocentre plane of patient points ``(n, 3)``.

    Points are projected from the source, so ``(u, v)`` are the lateral
    coordinates where the ray through each point crosses the plane through
    the isocentre perpendicular to the central axis.
    """
    frame = beam.frame(position)
    uvw = frame.to_beam(points_mm)
    if np.any(uvw[:, 2] <= 0):
        raise GeometryError(f"beam {beam.name}: some points lie behind the source")
    scale = frame.source_axis_distance_mm / uvw[:, 2]
    return uvw[:, :2] * scale[:, None]


def photon_bixel_positions(
    beam: Beam,
    target: Structure,
    *,
    position: str = "HFS",
    bixel_mm: float = 5.0,
    margin_mm: float = 5.0,
) -> NDArray[np.float64]:
    """Centres ``(n, 2)`` (mm, isocentre plane) of the bixels that cover a target.

    Bixels are squares of ``bixel_mm`` on a lattice centred on the central
    axis. A bixel is used when it holds the beam's-eye-view projection of a
    target voxel centre, or lies within ``margin_mm`` (rounded up to whole
    bixels) of one that does. Rows are ordered by ``v`` then ``u``.

    Examples
    --------
    >>> import rtwin
    >>> patient = rtwin.phantoms.water_box(size_mm=100, voxel_mm=5, target_radius_mm=10)
    >>> beam = rtwin.beams.Beam(modality="photon", gantry_deg=0, isocenter_mm=(0, 0, 0))
    >>> centers = photon_bixel_positions(beam, patient.structures["Target"], margin_mm=0.0)
    >>> len(centers), float(abs(centers).max())   # a 20 mm sphere seen through 5 mm bixels
    (17, 10.0)
    """
    if BeamModality(beam.modality) is not BeamModality.PHOTON:
        raise GeometryError(
            f"beam {beam.name} is a {beam.modality.value} beam; bixels are for photons"
        )
    if not (np.isfinite(bixel_mm) and bixel_mm > 0):
        raise GeometryError(f"bixel_mm must be positive; got {bixel_mm!r}")
    if not (np.isfinite(margin_mm) and margin_mm >= 0):
        raise GeometryError(f"margin_mm must be >= 0; got {margin_mm!r}")
    if target.is_empty:
        raise StructureError(f"target {target.name!r} is empty; no bixels can cover it")
    k, j, i = np.nonzero(target.mask)
    points = target.grid.index_to_patient(np.column_stack((i, j, k)).astype(np.float64))
    uv = project_to_isocenter_plane(beam, points, position)
    cells = np.rint(uv / bixel_mm).astype(np.int64)
    low = cells.min(axis=0)
    reach = int(np.ceil(margin_mm / bixel_mm - 1e-9))
    shape = tuple(cells.max(axis=0) - low + 1 + 2 * reach)
    occupied = np.zeros(shape, dtype=bool)
    occupied[cells[:, 0] - low[0] + reach, cells[:, 1] - low[1] + reach] = True
    if reach:
        from scipy import ndimage

        occupied = ndimage.binary_dilation(occupied, structure=np.ones((2 * reach + 1,) * 2, bool))
    iu, iv = np.nonzero(occupied)
    order = np.lexsort((iu, iv))
    centers = np.column_stack((iu[order] + low[0] - reach, iv[order] + low[1] - reach)) * bixel_mm
    return centers.astype(np.float64)
