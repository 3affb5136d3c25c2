"""Procedural solids and their voxelization with partial volumes.

Each solid is a frozen dataclass with a ``distance(x, y, z)`` method that
returns a *signed distance bound*: negative inside, positive outside, zero
on the surface, and never larger in magnitude than the true distance to the
surface (a 1-Lipschitz function). Spheres, capsules and planes give the
exact distance, boxes the exact one inside; ellipsoids, elliptic cylinders
and boolean combinations give a bound. The
bound is all :func:`volume_fraction` needs: a voxel whose centre is farther
than half the voxel diagonal from the surface lies wholly inside or outside,
so only voxels near the surface are supersampled.

Coordinates are patient millimetres (DICOM LPS). The methods broadcast, so a
solid that does not depend on z (an infinite cylinder) returns an array
without a z extent and is voxelized once for all slices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Box",
    "Capsule",
    "Difference",
    "Ellipsoid",
    "EllipticCylinder",
    "Intersection",
    "Plane",
    "Shape",
    "Union",
    "volume_fraction",
    "volume_fractions",
]

Array = NDArray[np.float64]

#: Sub-samples per axis in a voxel near a surface (odd, so a fraction is never exactly 1/2).
_SUBSAMPLES = 5
#: Voxels per axis in a block of the coarse pass.
_BLOCK = 4
#: Voxels supersampled at once (bounds the memory to about 25 MB per coordinate array).
_CHUNK_VOXELS = 20_000


class Shape(Protocol):
    """A solid: ``distance(x, y, z)`` is a signed distance bound (negative inside)."""

    def distance(self, x: Array, y: Array, z: Array) -> Array: ...


@dataclass(frozen=True, slots=True)
class Plane:
    """The half-space where coordinate ``axis`` (0 = x, 1 = y, 2 = z) is below or above ``position_mm``."""

    axis: int
    position_mm: float
    keep: str  # "below" or "above"

    def distance(self, x: Array, y: Array, z: Array) -> Array:
        coordinate = (x, y, z)[self.axis]
        if self.keep == "below":
            return coordinate - self.position_mm
        return self.position_mm - coordinate


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box; a half size of ``math.inf`` makes it unbounded along that axis."""

    center_mm: tuple[float, float, float]
    half_size_mm: tuple[float, float, float]

    def distance(self, x: Array, y: Array, z: Array) -> Array:
        result: Array | None = None
        for coordinate, center, half in zip(
            (x, y, z), self.center_mm, self.half_size_mm, strict=True
        ):
            if math.isinf(half):
                continue
            term = np.abs(coordinate - center) - half
            result = term if result is None else np.maximum(result, term)
        if result is None:
            return np.full((1, 1, 1), -np.inf)
        return result


@dataclass(frozen=True, slots=True)
class Ellipsoid:
    """An axis-aligned ellipsoid (a sphere when the semi-axes are equal)."""

    center_mm: tuple[float, float, float]
    semi_axes_mm: tuple[float, float, float]

    def distance(self, x: Array, y: Array, z: Array) -> Array:
        (cx, cy, cz), (a, b, c) = self.center_mm, self.semi_axes_mm
        q = np.sqrt(((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 + ((z - cz) / c) ** 2)
        # q is Lipschitz with constant 1/min(a, b, c): scaling by min(a, b, c) gives a bound.
        return (q - 1.0) * min(a, b, c)


@dataclass(frozen=True, slots=True)
class EllipticCylinder:
    """An elliptic cylinder along z (a circular one when the semi-axes are equal), unbounded in z."""

    center_mm: tuple[float, float]
    semi_axes_mm: tuple[float, float]

    def distance(self, x: Array, y: Array, z: Array) -> Array:
        (cx, cy), (a, b) = self.center_mm, self.semi_axes_mm
        q = np.sqrt(((x - cx) / a) ** 2 + ((y - cy) / b) ** 2)
        return (q - 1.0) * min(a, b)


@dataclass(frozen=True, slots=True)
class Capsule:
    """All points within ``radius_mm`` of the segment from ``start_mm`` to ``end_mm`` (exact distance)."""

    start_mm: tuple[float, float, float]
    end_mm: tuple[float, float, float]
    radius_mm: float

    def distance(self, x: Array, y: Array, z: Array) -> Array:
        start = np.asarray(self.start_mm, dtype=np.float64)
        axis = np.asarray(self.end_mm, dtype=np.float64) - start
        length2 = float(axis @ axis)
        px, py, pz = x - start[0], y - start[1], z - start[2]
        t = np.clip((px * axis[0] + py * axis[1] + pz * axis[2]) / length2, 0.0, 1.0)
        return (
            np.sqrt((px - t * axis[0]) ** 2 + (py - t * axis[1]) ** 2 + (pz - t * axis[2]) ** 2)
            - self.radius_mm
        )


@dataclass(frozen=True, slots=True)
class Intersection:
    """Points inside every one of ``shapes``."""

    shapes: tuple[Shape, ...]

    def distance(self, x: Array, y: Array, z: Array) -> Array:
        result = self.shapes[0].distance(x, y, z)
        for shape in self.shapes[1:]:
            result = np.maximum(result, shape.distance(x, y, z))
        return result


@dataclass(frozen=True, slots=True)
class Union:
    """Points inside any one of ``shapes``."""

    shapes: tuple[Shape, ...]

    def distance(self, x: Array, y: Array, z: Array) -> Array:
        result = self.shapes[0].distance(x, y, z)
        for shape in self.shapes[1:]:
            result = np.minimum(result, shape.distance(x, y, z))
        return result


@dataclass(frozen=True, slots=True)
class Difference:
    """Points inside ``shape`` but not inside ``minus``."""

    shape: Shape
    minus: Shape

    def distance(self, x: Array, y: Array, z: Array) -> Array:
        return np.maximum(self.shape.distance(x, y, z), -self.minus.distance(x, y, z))


def volume_fraction(
    shape: Shape,
    axes_mm: tuple[Array, Array, Array],
    spacing_mm: tuple[float, float, float],
) -> Array:
    """Fraction of each voxel's volume inside ``shape``; see :func:`volume_fractions`."""
    return volume_fractions(shape, axes_mm, spacing_mm, (0.0,))[0]


def volume_fractions(
    shape: Shape,
    axes_mm: tuple[Array, Array, Array],
    spacing_mm: tuple[float, float, float],
    insets_mm: tuple[float, ...],
) -> list[Array]:
    """Fractions of each voxel's volume inside ``shape`` shrunk by each inset.

    Parameters
    ----------
    shape
        The solid.
    axes_mm
        Voxel-centre coordinates along x, y and z (1-D; an axis-aligned grid).
    spacing_mm
        Voxel size along x, y and z.
    insets_mm
        Non-negative depths: for each, the region counted is where the
        distance bound is ≤ −inset (0 is the solid itself; the difference
        of two is a layer under the surface, e.g. a cortical shell).

    Returns
    -------
    list of numpy.ndarray
        One array of fractions in [0, 1] per inset, shape ``(nz, ny, nx)``
        or broadcastable to it (an axis the solid does not depend on has
        length 1).

    Notes
    -----
    The distance bound is evaluated coarse to fine: first at the centres of
    blocks of 4 × 4 × 4 voxels (a block farther from a level set than its
    half diagonal lies wholly on one side), then at the voxel centres of
    the remaining blocks, and voxels within half their diagonal of a level
    set are sampled at ``5 × 5 × 5`` points on a regular sub-grid (a point
    on the surface counts as inside). No sub-sample lies on a voxel face,
    so a plane on voxel faces gives exact 0 or 1.
    """
    axes = [np.asarray(a, dtype=np.float64) for a in axes_mm]
    levels = [float(inset) for inset in insets_mm]
    deepest = max(levels)
    # Coarse level: one point per block of _BLOCK voxels along each axis.
    coarse = []
    for axis in axes:
        starts = np.arange(0, axis.size, _BLOCK)
        counts = np.diff(np.append(starts, axis.size))
        coarse.append(np.add.reduceat(axis, starts) / counts)
    coarse_distance = _distance_on_axes(shape, coarse)
    # Axes the solid ignores (an infinite cylinder's z) stay length 1 in the result.
    probe = _distance_on_axes(shape, [np.zeros(2), np.zeros(2), np.zeros(2)])
    varies = [probe.shape[2 - a] > 1 for a in range(3)]
    out_shape = tuple(axes[2 - d].size if varies[2 - d] else 1 for d in range(3))
    block_half = 0.5 * math.sqrt(sum((_BLOCK * spacing_mm[a]) ** 2 for a in range(3) if varies[a]))
    voxel_half = 0.5 * math.sqrt(sum(spacing_mm[a] ** 2 for a in range(3) if varies[a]))

    def refine(block_values: NDArray[np.bool_]) -> NDArray[np.bool_]:
        fine = block_values
        for d in range(3):
            if varies[2 - d]:
                fine = np.repeat(fine, _BLOCK, axis=d)[
                    (slice(None),) * d + (slice(0, out_shape[d]),)
                ]
        return fine

    inside_all = refine(coarse_distance <= -deepest - block_half).astype(np.float64)
    fractions = [inside_all.copy() for _ in levels]
    candidates = np.nonzero(
        refine((coarse_distance > -deepest - block_half) & (coarse_distance < block_half))
    )
    if candidates[0].size == 0:
        return fractions
    centers = [axis if varies[a] else axis[:1] for a, axis in enumerate(axes)]
    k, j, i = candidates
    distance = np.broadcast_to(shape.distance(centers[0][i], centers[1][j], centers[2][k]), i.shape)
    near = np.zeros(distance.shape, dtype=bool)
    for fraction, level in zip(fractions, levels, strict=True):
        fraction[k, j, i] = distance <= -level
        near |= np.abs(distance + level) < voxel_half * (1.0 + 1e-9)
    k, j, i = k[near], j[near], i[near]
    if k.size == 0:
        return fractions
    offsets = (np.arange(_SUBSAMPLES) + 0.5) / _SUBSAMPLES - 0.5
    sub_z, sub_y, sub_x = np.meshgrid(
        offsets * spacing_mm[2], offsets * spacing_mm[1], offsets * spacing_mm[0], indexing="ij"
    )
    sub_x, sub_y, sub_z = sub_x.ravel(), sub_y.ravel(), sub_z.ravel()
    for start in range(0, k.size, _CHUNK_VOXELS):
        chunk = slice(start, start + _CHUNK_VOXELS)
        px = centers[0][i[chunk]][:, None] + sub_x[None, :]
        py = centers[1][j[chunk]][:, None] + sub_y[None, :]
        pz = centers[2][k[chunk]][:, None] + sub_z[None, :]
        sub_distance = np.broadcast_to(shape.distance(px, py, pz), px.shape)
        for fraction, level in zip(fractions, levels, strict=True):
            fraction[k[chunk], j[chunk], i[chunk]] = (sub_distance <= -level).mean(axis=1)
    return fractions


def _distance_on_axes(shape: Shape, axes: list[Array]) -> Array:
    """The distance bound on the grid spanned by 1-D x, y, z axes, as a 3-D array."""
    x, y, z = axes
    distance = np.asarray(
        shape.distance(x[None, None, :], y[None, :, None], z[:, None, None]), dtype=np.float64
    )
    return distance.reshape((1,) * (3 - distance.ndim) + distance.shape)
