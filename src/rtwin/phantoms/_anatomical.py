"""Anatomy-like phantoms: a male pelvis with the prostate, and a neck."""

from __future__ import annotations

from numpy.typing import ArrayLike

from rtwin.errors import GeometryError
from rtwin.materials import HUCalibration, default_calibration, tissue
from rtwin.patient import Patient
from rtwin.phantoms._common import (
    Region,
    build_patient,
    describe_call,
    hu_of,
    make_grid,
    non_negative_number,
    positive_number,
    positive_vector,
)
from rtwin.phantoms._shapes import (
    Box,
    Capsule,
    Difference,
    Ellipsoid,
    EllipticCylinder,
    Intersection,
    Plane,
    Shape,
    Union,
)

__all__ = ["head_neck", "prostate"]

_INF = float("inf")
#: Thickness of the cortical layer painted on bones (mm); the inside is trabecular bone.
_CORTEX_MM = 2.0

_COLORS = {
    "Body": (170, 120, 90),
    "PTV": (230, 40, 40),
    "Rectum": (140, 90, 40),
    "Bladder": (240, 200, 40),
    "FemoralHead_L": (120, 200, 120),
    "FemoralHead_R": (80, 160, 200),
    "PelvicBones": (240, 230, 170),
    "SpinalCord": (240, 240, 40),
    "Parotid_L": (60, 200, 200),
    "Parotid_R": (200, 60, 200),
    "Vertebrae": (240, 230, 170),
    "Mandible": (220, 200, 150),
    "Airway": (120, 120, 255),
}


def _tissue_hu(calibration: HUCalibration) -> dict[str, float]:
    names = {
        "fat": "adipose tissue",
        "soft": "soft tissue (ICRU 44/46 male)",
        "muscle": "skeletal muscle",
        "water": "water (liquid)",
        "trabecular": "trabecular bone",
        "cortical": "cortical bone (ICRU 46 adult)",
    }
    return {key: hu_of(tissue(name), calibration) for key, name in names.items()}


def _bone(shape: Shape, name: str | None, role: str, hu: dict[str, float]) -> list[Region]:
    """A bone: trabecular bone inside a cortical shell ``_CORTEX_MM`` thick."""
    return [
        Region(
            shape,
            name,
            role,
            _COLORS.get(name or ""),
            hu=hu["trabecular"],
            shell_hu=hu["cortical"],
            shell_mm=_CORTEX_MM,
        )
    ]


def prostate(
    *,
    voxel_mm: ArrayLike = 3.0,
    body_size_mm: ArrayLike = (360.0, 240.0),
    length_mm: float = 180.0,
    ptv_margin_mm: float = 7.0,
    pelvic_bones: bool = True,
    air_margin_mm: float = 30.0,
    calibration: HUCalibration | None = None,
) -> Patient:
    """A male pelvis for prostate planning: PTV, rectum, bladder, femoral heads, pelvic bones.

    An elliptic body along z (fat under the skin, soft tissue inside) with
    the prostate at the origin, its PTV, the rectum behind it, the bladder
    above and in front of it, the two femoral heads at its sides and,
    optionally, simplified pelvic bones. Dimensions are approximate
    adult-male values (see Notes); the phantom is for testing planning
    workflows, not anatomy.

    Parameters
    ----------
    voxel_mm
        Voxel size along ``(x, y, z)`` in mm, or one number.
    body_size_mm
        Width (x, left–right) and thickness (y, anterior–posterior) of the
        elliptic body outline in mm.
    length_mm
        Extent along z (superior–inferior); the body fills it end to end, as
        in a CT scan that covers part of a patient.
    ptv_margin_mm
        Margin from the prostate to the PTV in mm (the PTV is the prostate
        ellipsoid with each semi-axis grown by the margin).
    pelvic_bones
        Add the structure ``PelvicBones``: acetabula, pubic symphysis and
        rami, ischia, sacrum–coccyx and the proximal femora below the heads.
    air_margin_mm
        Air around the body in x and y inside the grid, in mm on each side.
    calibration
        Turns each tissue's relative electron density into the HU written in
        the image, and is stored with the patient (default calibration when
        omitted).

    Returns
    -------
    Patient
        ``patient_id`` ``"phantom-prostate"``, HFS, structures ``Body``
        (external), ``PTV`` (target), ``Rectum``, ``Bladder``,
        ``FemoralHead_L``, ``FemoralHead_R`` (organs at risk) and, with
        ``pelvic_bones``, ``PelvicBones`` (other).

    Raises
    ------
    GeometryError
        Non-positive sizes, a body too small for the organs, or a grid too
        large.

    Notes
    -----
    Geometry (mm, LPS: +x patient left, +y posterior, +z superior; the
    prostate centre is the origin):

    * body: elliptic cylinder 360 × 240 (default), 20 mm subcutaneous fat;
    * prostate: ellipsoid semi-axes 22 × 17 × 20 (≈ 31 cm³; adult prostates
      are typically 20–40 cm³); PTV: semi-axes + ``ptv_margin_mm``
      (≈ 79 cm³ at 7 mm);
    * rectum: solid elliptic tube, semi-axes 17 × 14, centre y = +32 (its
      anterior wall 1 mm behind the prostate), z from −50 to +60
      (≈ 82 cm³);
    * bladder: ellipsoid semi-axes 40 × 32 × 30 at (0, −12, +48) (≈ 161 cm³,
      a moderately full bladder), its base overlapping the PTV;
    * femoral heads: spheres of radius 24 at (±90, 0, +5) (hip-joint centres
      180 mm apart); ``FemoralHead_L`` at +x;
    * pelvic bones: capsules and shells of 8–12 mm radius (pubic symphysis
      60 mm anterior, rami, ischia, sacrum–coccyx behind the rectum,
      acetabular domes, femoral necks and shafts).

    HU (default calibration; each the HU whose relative electron density
    (RED) equals the tissue's, computed from its ICRU/ICRP composition):
    fat (adipose tissue) −88.7, soft tissue (ICRU 44/46 male) +24.4, bladder
    (urine as water) 0, bone: trabecular bone +182.8 inside a 2 mm cortex of
    cortical bone (ICRU 46) +1530.1, air −1000 outside the body. Voxels on a
    boundary hold the volume-weighted mean HU (partial volume), so femoral
    heads average about +500 HU at 3 mm voxels.

    Examples
    --------
    >>> import rtwin
    >>> patient = rtwin.phantoms.prostate(voxel_mm=6.0)
    >>> list(patient.structures)[:4]
    ['Body', 'PTV', 'Rectum', 'Bladder']
    >>> float(patient.image.values.min())
    -1000.0
    """
    voxel = positive_vector(voxel_mm, "voxel_mm")
    width, thickness = positive_vector(body_size_mm, "body_size_mm", size=2, axes="(x, y)")
    length = positive_number(length_mm, "length_mm")
    margin = non_negative_number(ptv_margin_mm, "ptv_margin_mm")
    air = non_negative_number(air_margin_mm, "air_margin_mm")
    if width < 300.0 or thickness < 200.0 or length < 160.0:
        raise GeometryError(
            f"the pelvis needs body_size_mm of at least (300, 200) and length_mm >= 160 to hold "
            f"the organs and femora; got body_size_mm=({width:g}, {thickness:g}), "
            f"length_mm={length:g}"
        )
    if margin > 20.0:
        raise GeometryError(f"ptv_margin_mm must be at most 20 mm; got {ptv_margin_mm!r}")
    calibration = default_calibration() if calibration is None else calibration
    hu = _tissue_hu(calibration)
    a, b, half_z = width / 2, thickness / 2, length / 2
    grid = make_grid([-a - air, -b - air, -half_z], [a + air, b + air, half_z], voxel, (0, 0, 0))
    # The body fills the grid along z (a scan of part of a patient): no end faces.
    body = EllipticCylinder((0.0, 0.0), (a, b))
    inner = EllipticCylinder((0.0, 0.0), (a - 20.0, b - 20.0))
    prostate_axes = (22.0, 17.0, 20.0)
    ptv = Ellipsoid((0.0, 0.0, 0.0), tuple(s + margin for s in prostate_axes))  # type: ignore[arg-type]
    rectum = Intersection(
        (EllipticCylinder((0.0, 32.0), (17.0, 14.0)), Box((0.0, 0.0, 5.0), (_INF, _INF, 55.0)))
    )
    bladder = Ellipsoid((0.0, -12.0, 48.0), (40.0, 32.0, 30.0))
    heads = {
        side: Ellipsoid((sign * 90.0, 0.0, 5.0), (24.0, 24.0, 24.0))
        for side, sign in (("L", 1.0), ("R", -1.0))
    }
    regions = [
        Region(body, "Body", "external", _COLORS["Body"], hu=hu["fat"]),
        Region(inner, hu=hu["soft"]),
        Region(ptv, "PTV", "target", _COLORS["PTV"]),
        Region(rectum, "Rectum", "organ_at_risk", _COLORS["Rectum"], hu=hu["soft"]),
        Region(bladder, "Bladder", "organ_at_risk", _COLORS["Bladder"], hu=hu["water"]),
    ]
    for side in ("L", "R"):
        regions += _bone(heads[side], f"FemoralHead_{side}", "organ_at_risk", hu)
    if pelvic_bones:
        bones = Intersection((Difference(_pelvic_bones(), Union((heads["L"], heads["R"]))), body))
        regions += _bone(bones, "PelvicBones", "other", hu)
    parameters = {
        "voxel_mm": voxel,
        "body_size_mm": (width, thickness),
        "length_mm": length,
        "ptv_margin_mm": margin,
        "pelvic_bones": bool(pelvic_bones),
        "air_margin_mm": air,
    }
    return build_patient(
        regions=regions,
        grid=grid,
        patient_id="phantom-prostate",
        description="procedural prostate (male pelvis) phantom",
        step=(
            f"built procedurally by {describe_call('prostate', parameters)}: approximate adult "
            "male pelvis, prostate centre at the origin"
        ),
        calibration=calibration,
        structure_order=[
            "Body",
            "PTV",
            "Rectum",
            "Bladder",
            "FemoralHead_L",
            "FemoralHead_R",
            *(["PelvicBones"] if pelvic_bones else []),
        ],
    )


def _pelvic_bones() -> Shape:
    """Simplified pelvic bones and proximal femora (both sides), in mm around the prostate."""
    parts: list[Shape] = [
        # pubic symphysis, anterior to the prostate
        Capsule((-18.0, -62.0, -2.0), (18.0, -62.0, -2.0), 11.0),
        # sacrum and coccyx, behind the rectum, rising superiorly
        Capsule((0.0, 72.0, -25.0), (0.0, 98.0, 85.0), 11.0),
        Box((0.0, 92.0, 75.0), (45.0, 10.0, 15.0)),
    ]
    for sign in (1.0, -1.0):
        hip = (sign * 90.0, 0.0, 5.0)
        parts += [
            # superior pubic ramus: symphysis to the acetabulum
            Capsule((sign * 18.0, -62.0, 2.0), (sign * 72.0, -22.0, 12.0), 9.0),
            # inferior ramus to the ischial tuberosity
            Capsule((sign * 18.0, -62.0, -8.0), (sign * 55.0, 28.0, -32.0), 8.0),
            Capsule((sign * 55.0, 28.0, -32.0), (sign * 68.0, 20.0, 15.0), 10.0),
            # acetabular dome over the femoral head
            Intersection(
                (
                    Difference(
                        Ellipsoid(hip, (34.0, 34.0, 34.0)), Ellipsoid(hip, (27.0, 27.0, 27.0))
                    ),
                    Plane(axis=2, position_mm=hip[2] - 4.0, keep="above"),
                    Plane(axis=0, position_mm=sign * 68.0, keep="above" if sign > 0 else "below"),
                )
            ),
            # ilium rising from the acetabulum
            Capsule((sign * 85.0, 5.0, 35.0), (sign * 110.0, 35.0, 90.0), 10.0),
            # femoral neck and shaft
            Capsule(hip, (sign * 122.0, 5.0, -35.0), 13.0),
            Capsule((sign * 122.0, 5.0, -35.0), (sign * 118.0, 5.0, -120.0), 13.0),
        ]
    return Union(tuple(parts))


def head_neck(
    *,
    voxel_mm: ArrayLike = 2.5,
    body_size_mm: ArrayLike = (150.0, 130.0),
    length_mm: float = 160.0,
    mandible: bool = True,
    air_margin_mm: float = 30.0,
    calibration: HUCalibration | None = None,
) -> Patient:
    """A neck for head-and-neck planning: PTV, spinal cord in the vertebrae, parotids.

    An elliptic neck along z (fat under the skin, soft tissue inside) with
    the airway in front of the cervical spine, the spinal cord in its canal
    inside the vertebrae, a PTV anterior to the spine and around the airway,
    both parotid glands superior-lateral, and optionally the mandible.
    Dimensions are approximate adult values (see Notes).

    Parameters
    ----------
    voxel_mm
        Voxel size along ``(x, y, z)`` in mm, or one number.
    body_size_mm
        Width (x) and thickness (y) of the elliptic neck outline in mm.
    length_mm
        Extent along z; the neck fills it end to end.
    mandible
        Add the structure ``Mandible`` (organ at risk): a bone arch
        anterior-superior, at the level of the parotids.
    air_margin_mm
        Air around the neck in x and y inside the grid, in mm on each side.
    calibration
        Turns each tissue's relative electron density into HU and is stored
        with the patient (default calibration when omitted).

    Returns
    -------
    Patient
        ``patient_id`` ``"phantom-head-neck"``, HFS, structures ``Body``
        (external), ``PTV`` (target), ``SpinalCord``, ``Parotid_L``,
        ``Parotid_R`` (organs at risk), ``Vertebrae``, ``Airway`` (other)
        and, with ``mandible``, ``Mandible`` (organ at risk).

    Raises
    ------
    GeometryError
        Non-positive sizes, a neck too small for the organs, or a grid too
        large.

    Notes
    -----
    Geometry (mm, LPS: +x patient left, +y posterior, +z superior; the PTV
    centre is on the z = 0 plane):

    * neck: elliptic cylinder 150 × 130 (default), 6 mm subcutaneous fat;
    * airway: elliptic tube semi-axes 9 × 7 at y = −25 (air, −1000 HU);
    * vertebrae: vertebral body (elliptic, semi-axes 14 × 11 at y = +8),
      an arch of outer radius 13 mm around the spinal canal (radius 7.5 mm
      at y = +30) and a spinous process to y = +55, along the whole neck;
    * spinal cord: elliptic, semi-axes 5.5 × 4 at y = +30 (cervical cord
      ≈ 11 × 8 mm), in the canal;
    * PTV: ellipsoid semi-axes 40 × 28 × 35 at (0, −12, 0) minus the
      airway (≈ 152 cm³); it reaches y = +16, 10 mm in front of the cord;
    * parotids: ellipsoids semi-axes 12 × 19 × 22 at (±50, +5, +50)
      (≈ 21 cm³ each; ``Parotid_L`` at +x);
    * mandible: elliptic arch (outer semi-axes 48 × 50, 8 mm thick) in
      front of y = −18, z from 38 to 62.

    HU (default calibration; the HU whose relative electron density equals
    the tissue's): fat −88.7, soft tissue +24.4 (also the cord, canal and
    parotids), trabecular bone +182.8 inside a 2 mm cortex of cortical bone
    +1530.1, air −1000 in the airway and outside the neck; voxels on a
    boundary hold the volume-weighted mean HU.

    Examples
    --------
    >>> import rtwin
    >>> patient = rtwin.phantoms.head_neck(voxel_mm=5.0)
    >>> patient.structures["SpinalCord"].role.value
    'organ_at_risk'
    >>> bool(patient.structures["Parotid_L"].centroid_mm[0] > 0)  # patient left is +x
    True
    """
    voxel = positive_vector(voxel_mm, "voxel_mm")
    width, thickness = positive_vector(body_size_mm, "body_size_mm", size=2, axes="(x, y)")
    length = positive_number(length_mm, "length_mm")
    air = non_negative_number(air_margin_mm, "air_margin_mm")
    if width < 140.0 or thickness < 125.0 or length < 150.0:
        raise GeometryError(
            f"the neck needs body_size_mm of at least (140, 125) and length_mm >= 150 to hold "
            f"the organs; got body_size_mm=({width:g}, {thickness:g}), length_mm={length:g}"
        )
    calibration = default_calibration() if calibration is None else calibration
    hu = _tissue_hu(calibration)
    a, b, half_z = width / 2, thickness / 2, length / 2
    grid = make_grid([-a - air, -b - air, -half_z], [a + air, b + air, half_z], voxel, (0, 0, 0))
    # The neck, airway, spine and cord fill the grid along z: no end faces.
    body = EllipticCylinder((0.0, 0.0), (a, b))
    inner = EllipticCylinder((0.0, 0.0), (a - 6.0, b - 6.0))
    airway = EllipticCylinder((0.0, -25.0), (9.0, 7.0))
    canal = EllipticCylinder((0.0, 30.0), (7.5, 7.5))
    vertebrae = Difference(
        Union(
            (
                EllipticCylinder((0.0, 8.0), (14.0, 11.0)),
                EllipticCylinder((0.0, 30.0), (13.0, 13.0)),
                Box((0.0, 47.5, 0.0), (3.5, 7.5, _INF)),
            )
        ),
        canal,
    )
    cord = EllipticCylinder((0.0, 30.0), (5.5, 4.0))
    ptv = Difference(Ellipsoid((0.0, -12.0, 0.0), (40.0, 28.0, 35.0)), airway)
    parotids = {
        side: Ellipsoid((sign * 50.0, 5.0, 50.0), (12.0, 19.0, 22.0))
        for side, sign in (("L", 1.0), ("R", -1.0))
    }
    regions = [
        Region(body, "Body", "external", _COLORS["Body"], hu=hu["fat"]),
        Region(inner, hu=hu["soft"]),
        Region(ptv, "PTV", "target", _COLORS["PTV"]),
        Region(cord, "SpinalCord", "organ_at_risk", _COLORS["SpinalCord"]),
        Region(parotids["L"], "Parotid_L", "organ_at_risk", _COLORS["Parotid_L"]),
        Region(parotids["R"], "Parotid_R", "organ_at_risk", _COLORS["Parotid_R"]),
        *_bone(vertebrae, "Vertebrae", "other", hu),
        Region(airway, "Airway", "other", _COLORS["Airway"], hu=-1000.0),
    ]
    if mandible:
        arch = Intersection(
            (
                Difference(
                    EllipticCylinder((0.0, -5.0), (48.0, 50.0)),
                    EllipticCylinder((0.0, -5.0), (40.0, 42.0)),
                ),
                Plane(axis=1, position_mm=-18.0, keep="below"),
                Box((0.0, 0.0, 50.0), (_INF, _INF, 12.0)),
            )
        )
        regions += _bone(arch, "Mandible", "organ_at_risk", hu)
    parameters = {
        "voxel_mm": voxel,
        "body_size_mm": (width, thickness),
        "length_mm": length,
        "mandible": bool(mandible),
        "air_margin_mm": air,
    }
    return build_patient(
        regions=regions,
        grid=grid,
        patient_id="phantom-head-neck",
        description="procedural head-and-neck phantom",
        step=(
            f"built procedurally by {describe_call('head_neck', parameters)}: approximate adult "
            "neck, PTV centre on z = 0"
        ),
        calibration=calibration,
    )
