"""The TG-119-like C-shape phantom, with dimensions measured from the CORT TG119 phantom."""

from __future__ import annotations

import math

from numpy.typing import ArrayLike

from rtwin.errors import GeometryError, MaterialsError
from rtwin.materials import HUCalibration
from rtwin.patient import Patient
from rtwin.phantoms._common import (
    Region,
    build_patient,
    describe_call,
    make_grid,
    non_negative_number,
    positive_number,
    positive_vector,
)
from rtwin.phantoms._shapes import Box, Difference, EllipticCylinder, Intersection, Plane

__all__ = ["cshape"]

#: Measured from CORT TG119.mat (see :func:`cshape`), in mm / HU.
_BODY_SIZE_MM = (299.7, 151.5, 298.6)
_BODY_HU = 37.0
_CORE_RADIUS_MM = 9.72
_CORE_LENGTH_MM = 100.0
_TARGET_INNER_RADIUS_MM = 15.0
_TARGET_OUTER_RADIUS_MM = 37.0
_TARGET_OPENING_MM = 7.4
_TARGET_LENGTH_MM = 80.0
#: Voxel faces lie this fraction of a voxel below the core axis in x and y (as in the CORT CT).
_GRID_OFFSET = 0.318


def cshape(
    *,
    voxel_mm: ArrayLike = (3.0, 3.0, 2.5),
    body_size_mm: ArrayLike = _BODY_SIZE_MM,
    body_hu: float = _BODY_HU,
    core_radius_mm: float = _CORE_RADIUS_MM,
    core_length_mm: float = _CORE_LENGTH_MM,
    target_inner_radius_mm: float = _TARGET_INNER_RADIUS_MM,
    target_outer_radius_mm: float = _TARGET_OUTER_RADIUS_MM,
    target_opening_mm: float = _TARGET_OPENING_MM,
    target_length_mm: float = _TARGET_LENGTH_MM,
    air_margin_mm: float = 30.0,
    calibration: HUCalibration | None = None,
) -> Patient:
    """The AAPM TG-119 C-shape phantom: a C-shaped target around a cylindrical core.

    A box of solid water in air holds a cylindrical organ at risk (``Core``)
    along z and a C-shaped target (``OuterTarget``) wrapped around it, open
    posteriorly (+y). Names and dimensions follow the TG-119 phantom of the
    CORT dataset, so TG-119 goals written for that file ("OuterTarget D95%
    >= 50 Gy", "Core D10% <= 25 Gy") apply to this phantom as they are.

    Parameters
    ----------
    voxel_mm
        Voxel size along ``(x, y, z)`` in mm, or one number; the default is
        the CORT file's 3 × 3 × 2.5 mm.
    body_size_mm
        Edge lengths of the solid-water box along ``(x, y, z)``.
    body_hu
        CT number of the solid water (the CORT scan's median inside BODY).
    core_radius_mm, core_length_mm
        The core cylinder (axis along z through x = y = 0, centred on z = 0).
    target_inner_radius_mm, target_outer_radius_mm
        Radii of the annulus the C is cut from (same axis as the core).
    target_opening_mm
        The C is the annulus with everything posterior of the plane
        ``y = target_opening_mm`` removed (distance posterior of the core axis).
    target_length_mm
        Length of the C along z, centred on z = 0.
    air_margin_mm
        Air around the box inside the grid, in mm on each side.
    calibration
        CT calibration stored with the patient (default calibration when
        omitted); ``body_hu`` is used as given.

    Returns
    -------
    Patient
        ``patient_id`` ``"phantom-cshape"``, structures ``BODY`` (external),
        ``Core`` (organ at risk) and ``OuterTarget`` (target).

    Raises
    ------
    GeometryError
        Non-positive sizes, a core that touches the target
        (``core_radius_mm >= target_inner_radius_mm``), radii out of order, an
        opening plane outside the annulus, structures longer than the body,
        or a grid too large.
    MaterialsError
        ``body_hu`` not a CT number in [−1000, 3000].

    Notes
    -----
    **Measured dimensions.** The defaults were measured from the CORT
    TG-119 phantom (``TG119.mat``, CORT dataset, Craft et al., GigaScience
    3:37, 2014, doi:10.1186/2047-217X-3-37; the matRad import, sha256
    ``f4e34ffa…``; 3 × 3 × 2.5 mm voxels) by reading the structures' voxel
    index lists into masks:

    * ``BODY``: 601,736 voxels = 13,539 cm³, a box. Mean chord length of
      the mask along each axis over lines at least 3 voxels inside its
      outline: 299.7 (x) × 151.5 (y) × 298.6 (z) mm (product 13,558 cm³,
      +0.1 %). Median CT number inside BODY +37 HU (solid water as
      scanned; the interior median is +39 HU). The scan also shows a
      ≈ 6 × 6 mm air channel along z at the core's centre from the inferior
      face to z ≈ 0 (an ion-chamber bore, 226 voxels below −300 HU); the
      phantom leaves it out (solid core).
    * ``Core``: 1,320 voxels = 29.7 cm³, 40 slices × 33 voxels; 297 mm² per
      slice, the area of a circle of radius 9.72 mm (TG-119 nominal 10 mm);
      100 mm long.
    * ``OuterTarget``: 7,458 voxels = 167.8 cm³. Annulus of outer radius
      37 mm and inner radius 15 mm around the core axis (voxel rows give
      35.5–38.5 and 13.5–16.5 mm); its full slices hold 236.5 voxels on
      average (2,128.5 mm²), which a cut 7.4 mm posterior of the core axis
      reproduces (the last target voxel row lies 5–8 mm posterior). It
      spans 80 mm in z (31 full slices plus two partial end slices, the
      TG-119 nominal 8 cm).
    * Closest core and target voxel centres: 6.0 mm (nominal gap 5 mm =
      15 − 10 mm).

    In the file the structures sit a few mm off its origin: core axis at
    (−1.5, −1.5) mm (voxel centroid), target centre z = 0.1 mm, core centre
    z = 1.25 mm, box centroid (−1.8, −1.0, −1.9) mm. Here the core axis is
    the z axis and core, target and box are all centred on z = 0.

    **Sampling.** The grid is placed on the phantom as the CORT CT is on
    its structures: voxel faces 0.318 voxel below the core axis in x and y
    (in the file the core's voxel centroid lies 0.545 mm from the nearest
    voxel centre, i.e. its axis 0.955 mm above a voxel face), and slice
    faces on z = 0, so 2.5 mm slices end the core and the target on slice
    faces. A round structure of 3–4 voxels radius is sensitive to this: with
    the axis on a voxel corner instead, the 9.72 mm core has 32 voxels per
    slice instead of 33 and the target 6 % fewer.

    With the defaults the voxelized structures compare with the file's as
    follows: BODY 611,582 voxels = 13,761 cm³ (file 601,736 = 13,539 cm³,
    +1.6 %: its 151.5 mm becomes 51 rows of 3 mm); Core 1,320 voxels =
    29.7 cm³ (identical: 40 slices × 33); OuterTarget 7,712 voxels =
    173.5 cm³ (file 7,458 = 167.8 cm³, +3.4 %: its full slices agree within
    2 % — 241 against 236.5 voxels — and its two end slices are mostly
    empty). Closest core and target voxel centres: 6.0 mm, as in the file.
    Other voxel sizes give other counts (6 mm voxels: Core 27.6 cm³,
    OuterTarget 179 cm³).

    Examples
    --------
    >>> import rtwin
    >>> patient = rtwin.phantoms.cshape(voxel_mm=6.0)
    >>> sorted(patient.structures)
    ['BODY', 'Core', 'OuterTarget']
    >>> patient.structures["OuterTarget"].role.value
    'target'
    """
    voxel = positive_vector(voxel_mm, "voxel_mm")
    body = positive_vector(body_size_mm, "body_size_mm")
    core_radius = positive_number(core_radius_mm, "core_radius_mm")
    core_length = positive_number(core_length_mm, "core_length_mm")
    inner = positive_number(target_inner_radius_mm, "target_inner_radius_mm")
    outer = positive_number(target_outer_radius_mm, "target_outer_radius_mm")
    target_length = positive_number(target_length_mm, "target_length_mm")
    margin = non_negative_number(air_margin_mm, "air_margin_mm")
    try:
        hu = float(body_hu)
    except (TypeError, ValueError):
        hu = math.nan
    if not -1000.0 <= hu <= 3000.0:
        raise MaterialsError(f"body_hu must be a CT number in [-1000, 3000]; got {body_hu!r}")
    opening = float(target_opening_mm)
    if not core_radius < inner < outer:
        raise GeometryError(
            "the C-shape needs core_radius_mm < target_inner_radius_mm < target_outer_radius_mm; "
            f"got {core_radius:g}, {inner:g}, {outer:g}"
        )
    if not -inner < opening < outer:
        raise GeometryError(
            f"target_opening_mm={target_opening_mm!r} must lie inside the annulus, between "
            f"{-inner:g} and {outer:g} mm, or the target would be a full ring or empty"
        )
    if outer > min(body[0], body[1]) / 2 or max(core_length, target_length) > body[2]:
        raise GeometryError(
            f"the core and target must fit in the body (body_size_mm={body}); got "
            f"target_outer_radius_mm={outer:g}, core_length_mm={core_length:g}, "
            f"target_length_mm={target_length:g}"
        )
    half = [b / 2 + margin for b in body]
    # Voxel faces _GRID_OFFSET voxels below the core axis in x and y, as in the CORT CT; faces
    # on z = 0 so that the core and target ends fall on slice faces at 2.5 mm.
    anchor = (-_GRID_OFFSET * voxel[0], -_GRID_OFFSET * voxel[1], 0.0)
    grid = make_grid([-h for h in half], half, voxel, anchor_mm=anchor)
    core = Intersection(
        (
            EllipticCylinder((0.0, 0.0), (core_radius, core_radius)),
            Box((0.0, 0.0, 0.0), (float("inf"), float("inf"), core_length / 2)),
        )
    )
    target = Intersection(
        (
            Difference(
                EllipticCylinder((0.0, 0.0), (outer, outer)),
                EllipticCylinder((0.0, 0.0), (inner, inner)),
            ),
            Plane(axis=1, position_mm=opening, keep="below"),
            Box((0.0, 0.0, 0.0), (float("inf"), float("inf"), target_length / 2)),
        )
    )
    parameters = {
        "voxel_mm": voxel,
        "body_size_mm": body,
        "body_hu": hu,
        "core_radius_mm": core_radius,
        "core_length_mm": core_length,
        "target_inner_radius_mm": inner,
        "target_outer_radius_mm": outer,
        "target_opening_mm": opening,
        "target_length_mm": target_length,
        "air_margin_mm": margin,
    }
    return build_patient(
        regions=[
            Region(
                Box((0.0, 0.0, 0.0), tuple(b / 2 for b in body)),
                "BODY",
                "external",
                (170, 120, 90),
                hu=hu,
            ),
            Region(core, "Core", "organ_at_risk", (40, 160, 40)),
            Region(target, "OuterTarget", "target", (230, 40, 40)),
        ],
        grid=grid,
        patient_id="phantom-cshape",
        description="procedural TG-119 C-shape phantom",
        step=(
            f"built procedurally by {describe_call('cshape', parameters)}: dimensions measured "
            "from the CORT TG119 phantom (matRad TG119.mat, sha256 "
            "f4e34fface3a9dc2ce21106c65921d590fabd72eaff9d78845c92d00ffb42c74)"
        ),
        calibration=calibration,
    )
