"""Shared machinery of the procedural phantoms: validation, grids, tissues, assembly."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.anatomy import Image, Structure, StructureRole, StructureSet
from rtwin.errors import GeometryError
from rtwin.geometry import Grid
from rtwin.materials import HUCalibration, Quantity, Tissue, default_calibration, tissue
from rtwin.patient import Patient, Provenance
from rtwin.phantoms._shapes import Shape, volume_fraction, volume_fractions

__all__ = [
    "AIR_HU",
    "Region",
    "build_patient",
    "describe_call",
    "hu_of",
    "inflated_lung",
    "make_grid",
    "non_negative_number",
    "positive_number",
    "positive_vector",
]

#: CT number of air by definition of the Hounsfield scale.
AIR_HU = -1000.0
#: Largest grid a phantom builds (about 200 MB of float32 HU); a guard against typos such as 0.01 mm.
_MAX_VOXELS = 50_000_000
#: Density of inflated lung used in slab-phantom heterogeneity studies (g/cm³).
INFLATED_LUNG_DENSITY_G_CM3 = 0.26


def _as_floats(value: object, name: str, size: int, example: str) -> NDArray[np.float64]:
    array: NDArray[np.float64] | None = None
    if not isinstance(value, bool | str | bytes):
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
    if array is not None and array.ndim == 0:
        array = np.repeat(array, size)
    if array is None or array.shape != (size,) or not np.all(np.isfinite(array)):
        raise GeometryError(f"{name} must be {example}; got {value!r}")
    return array


def positive_vector(
    value: ArrayLike, name: str, *, size: int = 3, axes: str = "(x, y, z)"
) -> tuple[float, ...]:
    """``value`` as ``size`` positive finite millimetres (a scalar is repeated)."""
    example = f"a positive number of mm or {size} of them {axes}"
    array = _as_floats(value, name, size, example)
    if np.any(array <= 0):
        raise GeometryError(f"{name} must be {example}; got {value!r} (zero or negative)")
    return tuple(float(v) for v in array)


def positive_number(value: object, name: str) -> float:
    """``value`` as one positive finite number of millimetres."""
    array = _as_floats(value, name, 1, "one positive number of mm")
    if array[0] <= 0:
        raise GeometryError(f"{name} must be one positive number of mm; got {value!r}")
    return float(array[0])


def non_negative_number(value: object, name: str) -> float:
    """``value`` as one finite number of millimetres ≥ 0."""
    array = _as_floats(value, name, 1, "one number of mm >= 0")
    if array[0] < 0:
        raise GeometryError(f"{name} must be one number of mm >= 0; got {value!r}")
    return float(array[0])


def make_grid(
    lower_mm: Sequence[float],
    upper_mm: Sequence[float],
    spacing_mm: Sequence[float],
    anchor_mm: Sequence[float],
) -> Grid:
    """The smallest axis-aligned grid covering ``[lower, upper]`` with voxel faces on ``anchor + k·spacing``.

    Anchoring puts chosen planes (a phantom's surface, the core axis) exactly
    on voxel faces, so structures whose faces lie a whole number of voxels
    from the anchor are voxelized without partial volumes.
    """
    counts, origin = [], []
    for low, high, step, anchor in zip(lower_mm, upper_mm, spacing_mm, anchor_mm, strict=True):
        first = math.floor((low - anchor) / step + 1e-9)
        last = math.ceil((high - anchor) / step - 1e-9)
        counts.append(max(last - first, 1))
        origin.append(anchor + (first + 0.5) * step)
    n_voxels = math.prod(counts)
    if n_voxels > _MAX_VOXELS:
        raise GeometryError(
            f"voxel_mm={tuple(spacing_mm)} gives a grid of {counts[0]} x {counts[1]} x {counts[2]} = "
            f"{n_voxels:,} voxels, more than the {_MAX_VOXELS:,} a phantom may hold; use a larger "
            "voxel_mm (1 mm or more for the anatomical phantoms)"
        )
    nx, ny, nz = counts
    return Grid.from_spacing((nz, ny, nx), spacing_mm=tuple(spacing_mm), origin_mm=tuple(origin))


def inflated_lung() -> Tissue:
    """ICRP lung composition at the inflated-lung density 0.26 g/cm³."""
    congested = tissue("lung (ICRP, congested density)")
    return replace(
        congested,
        name=f"lung (ICRP composition, inflated, {INFLATED_LUNG_DENSITY_G_CM3} g/cm3)",
        density_g_cm3=INFLATED_LUNG_DENSITY_G_CM3,
        source=(
            f"{congested.source}; density scaled from {congested.density_g_cm3} to "
            f"{INFLATED_LUNG_DENSITY_G_CM3} g/cm3 (inflated lung of slab heterogeneity studies)"
        ),
    )


def hu_of(material: Tissue, calibration: HUCalibration) -> float:
    """The CT number that ``calibration`` maps to ``material``'s relative electron density."""
    curve = calibration.curve(Quantity.RELATIVE_ELECTRON_DENSITY)
    return curve.inverse(material.relative_electron_density)


@dataclass(frozen=True, slots=True)
class Region:
    """One solid of a phantom: a structure, a painted material, or both.

    ``name`` is None for material-only regions (a fat layer); ``hu`` is None
    for structure-only regions (a PTV). Regions are painted in order, each
    voxel's HU mixed by the fraction of its volume inside the solid. With
    ``shell_hu``, the layer ``shell_mm`` under the surface is painted with
    it instead (a cortical bone shell around trabecular bone).
    """

    shape: Shape
    name: str | None = None
    role: StructureRole | str = StructureRole.OTHER
    color: tuple[int, int, int] | None = None
    hu: float | None = None
    shell_hu: float | None = None
    shell_mm: float = 0.0


def build_patient(
    *,
    regions: Sequence[Region],
    grid: Grid,
    patient_id: str,
    description: str,
    step: str,
    calibration: HUCalibration | None,
    structure_order: Sequence[str] | None = None,
) -> Patient:
    """Voxelize ``regions`` on ``grid`` and assemble the :class:`~rtwin.patient.Patient`.

    A voxel belongs to a structure when at least half its volume does. The
    image is air outside every region; inside, each region with a ``hu``
    replaces the value so far by its HU in proportion to the voxel's volume
    fraction (a partial-volume CT).

    Raises
    ------
    GeometryError
        A structure holds no voxel (the voxels are too coarse for it).
    """
    axes = grid.axis_coordinates_mm()
    spacing = tuple(float(s) for s in grid.spacing_mm)
    values = np.full(grid.shape, AIR_HU)
    structures: dict[str, Structure] = {}
    for region in regions:
        if region.shell_hu is None:
            fraction = volume_fraction(region.shape, axes, spacing)  # type: ignore[arg-type]
            if region.hu is not None:
                values += fraction * (region.hu - values)
        else:
            fraction, core = volume_fractions(
                region.shape,
                axes,  # type: ignore[arg-type]
                spacing,  # type: ignore[arg-type]
                (0.0, region.shell_mm),
            )
            inner_hu = region.shell_hu if region.hu is None else region.hu
            # The voxel's part outside the solid keeps its value; the shell and the core
            # (volume fractions fraction - core and core) take theirs.
            values = (
                (1.0 - fraction) * values + (fraction - core) * region.shell_hu + core * inner_hu
            )
        if region.name is not None:
            mask = np.broadcast_to(fraction >= 0.5, grid.shape)
            if not mask.any():
                raise GeometryError(
                    f"phantom {patient_id!r}: structure {region.name!r} holds no voxel at "
                    f"voxel_mm={spacing}; use smaller voxels"
                )
            structures[region.name] = Structure(
                name=region.name, mask=mask, grid=grid, role=region.role, color=region.color
            )
    order = list(structure_order) if structure_order is not None else list(structures)
    calibration = default_calibration() if calibration is None else calibration
    image = Image(values=values, grid=grid, modality="CT", description=description)
    return Patient(
        image=image,
        structures=StructureSet(structures[name] for name in order),
        calibration=calibration,
        patient_id=patient_id,
        position="HFS",
        provenance=Provenance(steps=(step,)),
    )


def describe_call(function: str, parameters: dict[str, object]) -> str:
    """``"rtwin.phantoms.name(a=1, b=(2.0, 3.0))"`` for a provenance step."""
    text = ", ".join(f"{key}={value!r}" for key, value in parameters.items())
    return f"rtwin.phantoms.{function}({text})"
