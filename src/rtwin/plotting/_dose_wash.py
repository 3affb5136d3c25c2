"""Dose colour wash on a plane through the patient, over the CT, with structure contours."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.anatomy import Image, Structure, StructureRole
from rtwin.dose import Dose
from rtwin.errors import EvaluationError
from rtwin.geometry import Grid
from rtwin.plotting._style import check_names, cycle_color, rgb

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_dose_wash"]

#: (horizontal axis, vertical axis, fixed axis, labels, vertical axis points down) per plane.
#: LPS: x grows to the patient's left, y posteriorly, z superiorly. Axial slices are shown
#: from the feet (patient's right on the left, anterior at the top), coronal from the front,
#: sagittal from the patient's right (anterior on the left).
_PLANES = {
    "axial": (0, 1, 2, "x (mm), patient right → left", "y (mm), posterior → anterior", True),
    "coronal": (0, 2, 1, "x (mm), patient right → left", "z (mm), inferior → superior", False),
    "sagittal": (1, 2, 0, "y (mm), anterior → posterior", "z (mm), inferior → superior", False),
}
_AXIS_NAMES = ("x", "y", "z")
_DEFAULT_ROLES = (StructureRole.TARGET, StructureRole.ORGAN_AT_RISK, StructureRole.EXTERNAL)
#: Soft-tissue CT window (level 40 HU, width 400 HU).
_CT_WINDOW_HU = (-160.0, 240.0)
_MAX_POINTS_PER_AXIS = 700


def plot_dose_wash(
    dose: Dose,
    structures: Mapping[str, Structure] | None = None,
    *,
    plane: str | Sequence[str] = "axial",
    through: str | ArrayLike | None = None,
    image: Image | None = None,
    structure_names: Sequence[str] | None = None,
    dose_range_gy: tuple[float, float] | None = None,
    opacity: float = 0.5,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """A dose colour wash on one or more planes, over the image, with structure contours.

    Parameters
    ----------
    dose
        The dose (any grid; interpolated as :meth:`~rtwin.dose.Dose.at`).
    structures
        Structures to outline (a :class:`~rtwin.anatomy.StructureSet` or a
        mapping name → structure), each drawn in its own ``color``.
    plane
        ``"axial"``, ``"coronal"``, ``"sagittal"``, or a list of them for
        one panel each (a shared colour bar).
    through
        Where the planes cross: a structure name (its centroid), a point
        ``(x, y, z)`` in mm, or by default the centroid of the first
        target (role ``target``), else the hottest dose voxel.
    image
        Background image (the patient's CT, ``patient.image``), shown in a
        soft-tissue window (level 40 HU, width 400 HU) for CT. Without it
        the background is white.
    structure_names
        Structures to outline; by default every target, organ at risk and
        the body outline.
    dose_range_gy
        ``(lowest, highest)`` dose of the colour scale; doses below the
        lowest are not coloured. By default 10 % of the maximum dose up to
        the maximum.
    opacity
        Opacity of the colour wash (0-1).
    title
        Figure title; by default the dose's description (the plan name)
        when it has one.
    figsize
        Inches; by default about 5 inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per plane (in patient millimetres, equal aspect, the
        anatomical direction in each axis label), a colour bar labelled
        "Dose (Gy)", and a legend of the outlined structures.

    Raises
    ------
    EvaluationError
        Unknown plane or structure name, a point outside the grids, or
        inputs of the wrong type.

    Notes
    -----
    Views follow the radiological convention: axial slices are seen from
    the feet (the patient's right on the left of the image, anterior at
    the top), coronal ones from the front, sagittal ones from the
    patient's right (anterior on the left). The plane is sampled in
    patient coordinates at the image's (or structures', or dose's)
    in-plane voxel size, so any pair of grids, oblique ones included,
    lines up. Structure outlines are the contour of the mask sampled on
    that plane (nearest voxel).

    Examples
    --------
    >>> import numpy as np, rtwin
    >>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5)
    >>> dose = rtwin.dose.Dose(values=np.full(patient.grid.shape, 2.0), grid=patient.grid)
    >>> figure = rtwin.plotting.plot_dose_wash(dose, patient.structures, image=patient.image,
    ...                                        plane=["axial", "sagittal"])
    >>> [axes.get_xlabel() for axes in figure.axes[:2]]
    ['x (mm), patient right → left', 'y (mm), anterior → posterior']
    >>> figure.axes[-1].get_ylabel()
    'Dose (Gy)'
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if not isinstance(dose, Dose):
        raise EvaluationError(f"plot_dose_wash needs a rtwin Dose; got {type(dose).__name__}")
    items = _check_structures(structures)
    if image is not None and not isinstance(image, Image):
        raise EvaluationError(
            f"image must be a rtwin Image (e.g. patient.image); got {type(image).__name__}"
        )
    planes = _check_planes(plane)
    point, where = _crossing(through, dose, items)
    names = _outlined(items, structure_names)
    low, high = _dose_range(dose_range_gy, dose)
    if not 0.0 <= float(opacity) <= 1.0:
        raise EvaluationError(f"opacity must be within 0-1; got {opacity!r}")
    reference = (
        image.grid if image is not None else next(iter(items.values())).grid if items else dose.grid
    )

    n = len(planes)
    figure = Figure(figsize=figsize or (4.6 * n + 1.4, 5.4), layout="constrained")
    grid = figure.subplots(1, n, squeeze=False)[0]
    colors = {
        name: rgb(items[name].color) or cycle_color(index) for index, name in enumerate(names)
    }
    drawn: dict[str, Any] = {}
    wash = None
    for axes, name in zip(grid, planes, strict=True):
        wash = _draw_plane(
            axes,
            name,
            point,
            where,
            reference,
            dose,
            image,
            items,
            names,
            colors,
            drawn,
            (low, high),
            float(opacity),
        )
    colorbar = figure.colorbar(wash, ax=list(grid), shrink=0.85, pad=0.02)
    colorbar.set_label("Dose (Gy)")
    if drawn:
        handles = [Line2D([], [], color=colors[name], linewidth=2.0, label=name) for name in drawn]
        figure.legend(
            handles=handles, loc="outside lower center", ncols=min(len(handles), 6), frameon=False
        )
    text = title if title is not None else dose.description
    if text:
        figure.suptitle(text)
    return figure


def _check_structures(structures: Mapping[str, Structure] | None) -> dict[str, Structure]:
    if structures is None:
        return {}
    if not isinstance(structures, Mapping):
        raise EvaluationError(
            "structures must be a StructureSet or a mapping of names to structures; got "
            f"{type(structures).__name__}"
        )
    for name, structure in structures.items():
        if not isinstance(structure, Structure):
            raise EvaluationError(
                f"structures[{name!r}] must be a rtwin Structure; got {type(structure).__name__}"
            )
    return dict(structures.items())


def _check_planes(plane: str | Sequence[str]) -> tuple[str, ...]:
    planes = (plane,) if isinstance(plane, str) else tuple(plane)
    if not planes:
        raise EvaluationError(f"plane: give at least one of {list(_PLANES)}")
    for name in planes:
        if name not in _PLANES:
            raise EvaluationError(f"unknown plane {name!r}; use one of {list(_PLANES)}")
    return planes


def _crossing(
    through: str | ArrayLike | None, dose: Dose, structures: dict[str, Structure]
) -> tuple[NDArray[np.float64], str]:
    """The point the planes pass through, and how to say so in a title."""
    if isinstance(through, str):
        if through not in structures:
            raise EvaluationError(
                f"through={through!r} is not one of the structures; available: "
                f"{', '.join(repr(n) for n in structures) or '(none: pass structures)'}"
            )
        if structures[through].is_empty:
            raise EvaluationError(f"through={through!r}: the structure is empty")
        return structures[through].centroid_mm, f"through {through}"
    if through is None:
        for name, structure in structures.items():
            if structure.role is StructureRole.TARGET and not structure.is_empty:
                return structure.centroid_mm, f"through {name}"
        k, j, i = np.unravel_index(int(np.argmax(dose.values)), dose.grid.shape)
        return dose.grid.index_to_patient(np.array([i, j, k], dtype=np.float64)), (
            "through the dose maximum"
        )
    point = np.asarray(through, dtype=np.float64)
    if point.shape != (3,) or not np.all(np.isfinite(point)):
        raise EvaluationError(
            f"through must be a structure name or a point (x, y, z) in mm; got {through!r}"
        )
    return point, "at"


def _outlined(structures: dict[str, Structure], names: Sequence[str] | None) -> tuple[str, ...]:
    if names is None:
        return tuple(
            name
            for name, structure in structures.items()
            if structure.role in _DEFAULT_ROLES and not structure.is_empty
        )
    return check_names(names, tuple(structures), "structure_names")


def _dose_range(dose_range_gy: tuple[float, float] | None, dose: Dose) -> tuple[float, float]:
    if dose_range_gy is None:
        high = dose.max_gy if dose.max_gy > 0 else 1.0
        return 0.1 * high, high
    try:
        low, high = (float(v) for v in dose_range_gy)
    except (TypeError, ValueError):
        raise EvaluationError(
            f"dose_range_gy must be (lowest, highest) in Gy; got {dose_range_gy!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high) and 0.0 <= low < high):
        raise EvaluationError(
            f"dose_range_gy must be two finite doses with 0 <= lowest < highest; got "
            f"{dose_range_gy!r}"
        )
    return low, high


def _plane_points(
    plane: str, point: NDArray[np.float64], reference: Grid
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Sample coordinates along the plane's two axes and the patient points ``(nv, nu, 3)``."""
    u_axis, v_axis, fixed, *_ = _PLANES[plane]
    size = np.asarray(reference.size_xyz, dtype=np.float64)
    corners = np.array(
        [
            [a, b, c]
            for a in (-0.5, size[0] - 0.5)
            for b in (-0.5, size[1] - 0.5)
            for c in (-0.5, size[2] - 0.5)
        ]
    )
    extent = reference.index_to_patient(corners)
    low, high = extent.min(axis=0), extent.max(axis=0)
    if not low[fixed] <= point[fixed] <= high[fixed]:
        raise EvaluationError(
            f"the {plane} plane at {_AXIS_NAMES[fixed]} = {point[fixed]:.1f} mm misses the grid, "
            f"which spans {low[fixed]:.1f} to {high[fixed]:.1f} mm along {_AXIS_NAMES[fixed]}"
        )
    step = float(reference.spacing_mm.min())
    coordinates = []
    for axis in (u_axis, v_axis):
        count = int(min(max(math.ceil((high[axis] - low[axis]) / step), 2), _MAX_POINTS_PER_AXIS))
        width = (high[axis] - low[axis]) / count
        coordinates.append(low[axis] + width * (np.arange(count) + 0.5))
    u, v = coordinates
    points = np.empty((v.size, u.size, 3))
    points[..., u_axis] = u[np.newaxis, :]
    points[..., v_axis] = v[:, np.newaxis]
    points[..., fixed] = point[fixed]
    return u, v, points


def _sample(
    values: NDArray[Any], grid: Grid, points: NDArray[np.float64], order: int, fill: float
) -> NDArray[np.float64]:
    from scipy import ndimage

    index = grid.patient_to_index(points.reshape(-1, 3))[:, ::-1].T  # (k, j, i) rows
    sampled = ndimage.map_coordinates(
        np.asarray(values, dtype=np.float64), index, order=order, mode="constant", cval=fill
    )
    return sampled.reshape(points.shape[:-1])


def _draw_plane(
    axes: Axes,
    plane: str,
    point: NDArray[np.float64],
    where: str,
    reference: Grid,
    dose: Dose,
    image: Image | None,
    structures: dict[str, Structure],
    names: tuple[str, ...],
    colors: dict[str, Any],
    drawn: dict[str, Any],
    dose_range: tuple[float, float],
    opacity: float,
) -> Any:
    _, _, fixed, u_label, v_label, downward = _PLANES[plane]
    u, v, points = _plane_points(plane, point, reference)
    half_u, half_v = (u[1] - u[0]) / 2, (v[1] - v[0]) / 2
    extent = (u[0] - half_u, u[-1] + half_u, v[0] - half_v, v[-1] + half_v)
    if image is not None:
        ct = image.modality.value == "CT"
        fill = -1000.0 if ct else 0.0
        pixels = _sample(image.values, image.grid, points, 1, fill)
        low, high = (
            _CT_WINDOW_HU if ct else tuple(np.percentile(image.values, (1.0, 99.0)).tolist())
        )
        axes.imshow(
            pixels,
            cmap="gray",
            vmin=low,
            vmax=high,
            extent=extent,
            origin="lower",
            interpolation="bilinear",
        )
    else:
        axes.set_facecolor("white")
    dose_values = dose.at(points)
    masked = np.ma.masked_less(dose_values, dose_range[0])
    wash = axes.imshow(
        masked,
        cmap="turbo",
        vmin=dose_range[0],
        vmax=dose_range[1],
        alpha=opacity,
        extent=extent,
        origin="lower",
        interpolation="bilinear",
    )
    for name in names:
        structure = structures[name]
        mask = _sample(structure.mask.astype(np.float64), structure.grid, points, 0, 0.0)
        if mask.max() < 0.5:
            continue
        axes.contour(u, v, mask, levels=[0.5], colors=[colors[name]], linewidths=1.4)
        drawn.setdefault(name, colors[name])
    axes.set_xlim(extent[0], extent[1])
    if downward:
        axes.set_ylim(extent[3], extent[2])
    else:
        axes.set_ylim(extent[2], extent[3])
    axes.set_aspect("equal")
    axes.set_xlabel(u_label)
    axes.set_ylabel(v_label)
    position = f"{_AXIS_NAMES[fixed]} = {point[fixed]:.1f} mm"
    label = f"({position})" if where != "at" else position
    axes.set_title(f"{plane.capitalize()} plane {where} {label}")
    return wash
