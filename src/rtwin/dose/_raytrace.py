"""Radiological (water-equivalent) path lengths by Siddon ray tracing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.anatomy import Image
from rtwin.dose._kernels import siddon_path_integrals
from rtwin.errors import GeometryError

__all__ = ["radiological_depth"]


def radiological_depth(
    image: Image,
    source_mm: ArrayLike,
    points_mm: ArrayLike,
) -> NDArray[np.float64]:
    """Water-equivalent path length from a source to each point, in mm.

    The path integral ∫ ρ dl of ``image`` (relative electron density for
    photons, stopping-power ratio for protons) along the straight line from
    ``source_mm`` to each point, computed exactly voxel by voxel (Siddon
    1985, doi:10.1118/1.595715). Space outside the image counts as vacuum
    (zero), so the source may sit far outside the grid.

    Parameters
    ----------
    image
        Relative density image (dimensionless values ≥ 0), any orientation.
    source_mm
        Source position ``(x, y, z)`` in patient mm.
    points_mm
        End points ``(..., 3)`` in patient mm.

    Returns
    -------
    numpy.ndarray
        Radiological depths in mm, shape ``points_mm.shape[:-1]``.

    Examples
    --------
    >>> import numpy as np
    >>> import rtwin
    >>> patient = rtwin.phantoms.slab(slabs=(rtwin.phantoms.Slab(material="water", depth_mm=0.0,
    ...     thickness_mm=10.0),), depth_mm=100.0, width_mm=50.0, voxel_mm=5.0)
    >>> red = patient.relative_electron_density
    >>> depth = radiological_depth(red, (0.0, -1000.0, 0.0), [(0.0, 50.0, 0.0)])
    >>> round(float(depth[0]), 3)   # 100 mm of water
    100.0
    """
    return radiological_depths(image, [source_mm], [points_mm])[0]


def radiological_depths(
    image: Image,
    sources_mm: Sequence[ArrayLike],
    points_mm: Sequence[ArrayLike],
    limits_mm: Sequence[float] | None = None,
) -> list[NDArray[np.float64]]:
    """:func:`radiological_depth` from several sources at once (one image check, one kernel call).

    ``points_mm[s]`` are traced from ``sources_mm[s]``. With ``limits_mm``,
    rays from source s are not followed beyond a depth of ``limits_mm[s]``:
    where the depth reaches that limit some value ≥ it is returned; depths
    below it are exactly those of :func:`radiological_depth`.
    """
    if len(sources_mm) != len(points_mm):
        raise GeometryError(
            f"radiological_depths needs one point set per source; got {len(points_mm)} for "
            f"{len(sources_mm)} source(s)"
        )
    shapes, flats = [], []
    for source_mm, point_set in zip(sources_mm, points_mm, strict=True):
        source = np.asarray(source_mm, dtype=np.float64)
        points = np.asarray(point_set, dtype=np.float64)
        if source.shape != (3,) or not np.all(np.isfinite(source)):
            raise GeometryError(f"source_mm must be 3 finite numbers (x, y, z); got {source_mm!r}")
        if points.shape[-1:] != (3,):
            raise GeometryError(
                f"points_mm must be finite with shape (..., 3); got shape {points.shape}"
            )
        shapes.append(points.shape[:-1])
        flats.append(points.reshape(-1, 3))
    counts = [flat.shape[0] for flat in flats]
    starts = np.cumsum([0, *counts])
    depths = trace_rays(
        image,
        sources_mm,
        np.concatenate(flats),
        np.repeat(np.arange(len(flats)), counts),
        np.arange(starts[-1]),
        limits_mm,
    )
    return [depths[starts[s] : starts[s + 1]].reshape(shape) for s, shape in enumerate(shapes)]


def trace_rays(
    image: Image,
    sources_mm: Sequence[ArrayLike],
    points_mm: ArrayLike,
    ray_source: NDArray[np.int64],
    ray_point: NDArray[np.int64],
    limits_mm: Sequence[float] | None = None,
) -> NDArray[np.float64]:
    """Radiological depths (mm) of rays from ``sources_mm[ray_source[r]]`` to ``points_mm[ray_point[r]]``.

    The engines' entry point: points are shared between sources and not
    copied per ray. ``limits_mm`` as in :func:`radiological_depths`.
    """
    if not isinstance(image, Image):
        raise GeometryError(f"radiological_depth needs an rtwin Image; got {type(image).__name__}")
    sources = np.array([np.asarray(source, dtype=np.float64) for source in sources_mm])
    if sources.ndim != 2 or sources.shape[1:] != (3,) or not np.all(np.isfinite(sources)):
        raise GeometryError(f"source_mm must be 3 finite numbers (x, y, z); got {sources_mm!r}")
    points = np.ascontiguousarray(points_mm, dtype=np.float64)
    if points.ndim != 2 or points.shape[1:] != (3,) or not np.all(np.isfinite(points)):
        raise GeometryError(
            f"points_mm must be finite with shape (..., 3); got shape {points.shape}"
        )
    if np.any(image.values < 0):
        raise GeometryError("radiological_depth needs non-negative relative densities")
    limits = np.full(len(sources), np.inf) if limits_mm is None else np.asarray(limits_mm, float)
    return siddon_path_integrals(
        np.ascontiguousarray(image.values),
        np.ascontiguousarray(np.linalg.inv(image.grid.affine)[:3]),
        sources,
        np.ascontiguousarray(ray_source, dtype=np.int64),
        points,
        np.ascontiguousarray(ray_point, dtype=np.int64),
        limits,
    )
