"""Procedural phantoms: contracts, geometry against analytic values, HU, CORT TG-119."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

import rtwin
from rtwin.errors import GeometryError, MaterialsError
from rtwin.materials import CLASS_PATTERNS, default_calibration, tissue
from rtwin.phantoms import Slab, cshape, head_neck, prostate, slab, slab_material, water_box

# Coarse voxels keep the whole module fast; the default sizes are exercised where they matter.
BUILDERS = {
    "water_box": lambda **kw: water_box(size_mm=80, **{"voxel_mm": 5.0, **kw}),
    "slab": lambda **kw: slab(
        slabs=[Slab(material="lung", depth_mm=20.0, thickness_mm=40.0)],
        depth_mm=100,
        width_mm=60,
        **{"voxel_mm": 5.0, **kw},
    ),
    "cshape": lambda **kw: cshape(**{"voxel_mm": 6.0, **kw}),
    "prostate": lambda **kw: prostate(**{"voxel_mm": 6.0, **kw}),
    "head_neck": lambda **kw: head_neck(**{"voxel_mm": 5.0, **kw}),
}

EXPECTED_STRUCTURES = {
    "water_box": {"Body": "external", "Target": "target"},
    "slab": {"Body": "external", "Slab1_lung": "other"},
    "cshape": {"BODY": "external", "Core": "organ_at_risk", "OuterTarget": "target"},
    "prostate": {
        "Body": "external",
        "PTV": "target",
        "Rectum": "organ_at_risk",
        "Bladder": "organ_at_risk",
        "FemoralHead_L": "organ_at_risk",
        "FemoralHead_R": "organ_at_risk",
        "PelvicBones": "other",
    },
    "head_neck": {
        "Body": "external",
        "PTV": "target",
        "SpinalCord": "organ_at_risk",
        "Parotid_L": "organ_at_risk",
        "Parotid_R": "organ_at_risk",
        "Vertebrae": "other",
        "Airway": "other",
        "Mandible": "organ_at_risk",
    },
}


# ---------------------------------------------------------------------------- independent values
# Expected relative electron densities and CT numbers computed here from published data, not
# from rtwin.materials: a change in rtwin's tissue table, its electron-density code or its
# calibration shows up as a failure.
#: IUPAC standard atomic weights (conventional values, CIAAW 2021), g/mol.
ATOMIC_WEIGHT = {
    "H": 1.008,
    "C": 12.011,
    "N": 14.007,
    "O": 15.999,
    "Na": 22.990,
    "Mg": 24.305,
    "P": 30.974,
    "S": 32.06,
    "Cl": 35.45,
    "K": 39.098,
    "Ca": 40.078,
}
ATOMIC_NUMBER = {"H": 1, "C": 6, "N": 7, "O": 8, "Na": 11, "Mg": 12, "P": 15, "S": 16}
ATOMIC_NUMBER |= {"Cl": 17, "K": 19, "Ca": 20}
#: (density g/cm3, elemental mass fractions). Soft tissue (adult male) and cortical bone
#: (adult): ICRU Report 46 (1992); lung: the ICRP lung composition of the NIST tables
#: (Geant4's G4_LUNG_ICRP) at the inflated-lung density of slab studies, 0.26 g/cm3.
SOFT_TISSUE_ICRU46_MALE = (
    1.03,
    {
        "H": 0.105,
        "C": 0.256,
        "N": 0.027,
        "O": 0.602,
        "Na": 0.001,
        "P": 0.002,
        "S": 0.003,
        "Cl": 0.002,
        "K": 0.002,
    },
)
CORTICAL_BONE_ICRU46 = (
    1.92,
    {
        "H": 0.034,
        "C": 0.155,
        "N": 0.042,
        "O": 0.435,
        "Na": 0.001,
        "Mg": 0.002,
        "P": 0.103,
        "S": 0.003,
        "Ca": 0.225,
    },
)
LUNG_ICRP_INFLATED = (
    0.26,
    {
        "H": 0.105,
        "C": 0.083,
        "N": 0.023,
        "O": 0.779,
        "Na": 0.002,
        "P": 0.001,
        "S": 0.002,
        "Cl": 0.003,
        "K": 0.002,
    },
)
#: matRad_default.hlut (HU, relative electron density), the nodes rtwin's default calibration
#: cites, written out here; the phantoms paint the CT number whose RED is the tissue's.
MATRAD_HLUT = (
    (-1024, 0.001),
    (-999, 0.001),
    (-90, 0.95),
    (-45, 0.99),
    (0, 1.0),
    (100, 1.095),
    (350, 1.199),
    (3000, 2.505),
)


def _electrons_per_gram(fractions: dict[str, float]) -> float:
    """Mol electrons per gram: sum of w_i Z_i / A_i."""
    assert sum(fractions.values()) == pytest.approx(1.0, abs=1e-9)
    return sum(w * ATOMIC_NUMBER[e] / ATOMIC_WEIGHT[e] for e, w in fractions.items())


WATER_ELECTRONS_PER_CM3 = 10.0 / (2 * ATOMIC_WEIGHT["H"] + ATOMIC_WEIGHT["O"])  # H2O, 1 g/cm3


def _red(material: tuple[float, dict[str, float]]) -> float:
    """Relative electron density: electrons per cm3 relative to water's."""
    density, fractions = material
    return density * _electrons_per_gram(fractions) / WATER_ELECTRONS_PER_CM3


def _hu_of_red(red: float) -> float:
    """The CT number the HLUT maps to ``red`` (its RED is increasing above -999 HU)."""
    hu, values = np.array(MATRAD_HLUT[1:], dtype=float).T
    return float(np.interp(red, values, hu))


def test_independent_reference_values_are_sane():
    # Water by its own composition is 1; denser, calcium-rich bone is near 1.78 (ICRU 46).
    water = (1.0, {"H": 2 * 1.008 / 18.015, "O": 15.999 / 18.015})
    assert _red(water) == pytest.approx(1.0, abs=1e-4)
    assert _hu_of_red(1.0) == 0.0
    assert 1.7 < _red(CORTICAL_BONE_ICRU46) < 1.85


@pytest.fixture(scope="module")
def built() -> dict[str, rtwin.Patient]:
    return {name: build() for name, build in BUILDERS.items()}


def voxel_points(patient: rtwin.Patient, name: str) -> np.ndarray:
    k, j, i = np.nonzero(patient.structures[name].mask)
    return patient.grid.index_to_patient(np.column_stack([i, j, k]))


# ---------------------------------------------------------------------------- contracts
@pytest.mark.parametrize("name", BUILDERS)
def test_structures_names_roles_and_colors(built, name):
    patient = built[name]
    assert {n: s.role.value for n, s in patient.structures.items()} == EXPECTED_STRUCTURES[name]
    assert next(iter(patient.structures)) == patient.structures.external.name
    assert all(s.color is not None for s in patient.structures.values())
    assert patient.position.value == "HFS"
    assert patient.image.modality.value == "CT"


@pytest.mark.parametrize("name", BUILDERS)
def test_patient_id_and_provenance_name_the_parameters(built, name):
    patient = built[name]
    assert patient.patient_id == "phantom-" + name.replace("_", "-")
    (step,) = patient.provenance.steps
    assert f"rtwin.phantoms.{name}(" in step and "voxel_mm=" in step


@pytest.mark.parametrize("name", BUILDERS)
def test_structures_lie_inside_the_body(built, name):
    patient = built[name]
    body = patient.structures.external.mask
    for structure in patient.structures.values():
        assert not structure.is_empty
        assert not np.any(structure.mask & ~body), structure.name


@pytest.mark.parametrize("name", BUILDERS)
def test_phantoms_are_deterministic(built, name):
    assert BUILDERS[name]().fingerprint == built[name].fingerprint


@pytest.mark.parametrize("name", ["cshape", "prostate", "head_neck"])
def test_anatomical_grids_hold_air_around_the_body_and_are_centred(built, name):
    patient = built[name]
    values = patient.image.values
    assert values[:, 0, :].max() == -1000.0 and values[:, -1, :].max() == -1000.0
    assert values[:, :, 0].max() == -1000.0 and values[:, :, -1].max() == -1000.0
    assert np.all(np.abs(patient.grid.center_mm) <= patient.grid.spacing_mm)


def test_default_voxel_sizes_and_grids():
    patient = rtwin.phantoms.cshape()
    np.testing.assert_allclose(patient.grid.spacing_mm, [3.0, 3.0, 2.5])
    assert rtwin.phantoms.water_box(size_mm=60, voxel_mm=5).grid.shape == (12, 12, 12)


# ---------------------------------------------------------------------------- voxel size
@pytest.mark.parametrize("voxel", [(4.0, 5.0, 6.0), (2.0, 3.0, 2.5)])
def test_anisotropic_voxels_keep_the_geometry(voxel):
    patient = prostate(voxel_mm=voxel)
    np.testing.assert_allclose(patient.grid.spacing_mm, voxel)
    assert patient.grid.is_axis_aligned
    # Body: ellipse 360 x 240 mm across the whole grid length.
    length = patient.grid.shape[0] * voxel[2]
    analytic = math.pi * 180.0 * 120.0 * length / 1000.0
    assert patient.structures["Body"].volume_cc == pytest.approx(analytic, rel=0.01)
    # Femoral heads: spheres of radius 24 mm.
    head = 4.0 / 3.0 * math.pi * 24.0**3 / 1000.0
    assert patient.structures["FemoralHead_L"].volume_cc == pytest.approx(head, rel=0.06)


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), (1.0, 2.0), "2 mm", True])
def test_bad_voxel_size_raises_geometry_error_naming_it(name, bad):
    with pytest.raises(GeometryError, match="voxel_mm"):
        BUILDERS[name](voxel_mm=bad)


def test_voxel_size_too_small_is_refused_before_allocating():
    with pytest.raises(GeometryError, match="voxel_mm.*larger"):
        prostate(voxel_mm=0.1)


def test_voxels_too_coarse_for_a_structure_raise():
    with pytest.raises(GeometryError, match="Target.*smaller voxels"):
        water_box(size_mm=20, voxel_mm=20, target_radius_mm=2.0)


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda: water_box(size_mm=-5), "size_mm"),
        (lambda: water_box(size_mm=(60, 60)), "size_mm"),
        (lambda: water_box(size_mm=60, target_radius_mm=40), "target_radius_mm"),
        (lambda: water_box(target_radius_mm=0), "target_radius_mm"),
        (lambda: water_box(air_margin_mm=-1), "air_margin_mm"),
        (lambda: water_box(target_shape="cylinder"), "target_shape"),
        (lambda: slab(width_mm=(1, 2, 3)), "width_mm"),
        (lambda: slab(depth_mm=0), "depth_mm"),
        (lambda: cshape(core_radius_mm=20), "core_radius_mm"),
        (lambda: cshape(target_opening_mm=50), "target_opening_mm"),
        (lambda: cshape(body_size_mm=(60, 60, 60)), "body_size_mm"),
        (lambda: prostate(ptv_margin_mm=-2), "ptv_margin_mm"),
        (lambda: prostate(body_size_mm=(200, 150)), "body_size_mm"),
        (lambda: head_neck(length_mm=50), "length_mm"),
    ],
)
def test_bad_geometry_raises_geometry_error_naming_the_parameter(call, parameter):
    with pytest.raises(GeometryError, match=parameter):
        call()


def test_arguments_are_not_mutated():
    voxel = np.array([5.0, 5.0, 5.0])
    layers = [Slab(material="bone", depth_mm=60.0, thickness_mm=10.0)]
    layers.append(Slab(material="lung", depth_mm=20.0, thickness_mm=20.0))
    slab(slabs=layers, depth_mm=100, width_mm=50, voxel_mm=voxel)
    assert [s.material for s in layers] == ["bone", "lung"]
    np.testing.assert_array_equal(voxel, [5.0, 5.0, 5.0])
    assert voxel.flags.writeable


# ---------------------------------------------------------------------------- water box
@pytest.mark.parametrize("voxel", [1.0, 2.0, 2.5, 3.0, (1.0, 1.0, 3.0), (3.0, 3.0, 2.5)])
def test_water_box_sphere_volume_matches_analytic(voxel):
    # The voxelized 20 mm sphere is within 1.5 % of 4/3 pi r^3 on voxels up to 2.5 mm and
    # within 3 % on 3 mm voxels (centred on a voxel corner, the worst case measured).
    target = water_box(size_mm=60, voxel_mm=voxel).structures["Target"]
    tolerance = 0.03 if max(np.atleast_1d(voxel)) >= 3.0 else 0.015
    assert target.volume_cc == pytest.approx(4 / 3 * math.pi * 20.0**3 / 1000.0, rel=tolerance)
    np.testing.assert_allclose(target.centroid_mm, 0.0, atol=1e-9)


def test_water_box_cube_target_and_body_are_exact_on_aligned_voxels():
    patient = water_box(size_mm=(80, 60, 100), voxel_mm=(2.0, 2.5, 5.0), target_shape="cube")
    assert patient.structures["Target"].volume_cc == pytest.approx(64.0, abs=1e-9)
    assert patient.structures["Body"].volume_cc == pytest.approx(480.0, abs=1e-9)
    assert patient.grid.shape == (20, 24, 40)


def test_water_box_is_water_in_air():
    patient = water_box(size_mm=60, voxel_mm=5, air_margin_mm=10)
    assert patient.grid.shape == (16, 16, 16)
    body = patient.structures["Body"].mask
    assert np.all(patient.image.values[body] == 0.0)
    assert np.all(patient.image.values[~body] == -1000.0)
    assert float(patient.relative_electron_density.values.max()) == 1.0


# ---------------------------------------------------------------------------- slab
def test_slab_radiological_path_length_is_exact_on_voxel_aligned_slabs():
    layers = [
        Slab(material="lung", depth_mm=30.0, thickness_mm=50.0),
        Slab(material="bone", depth_mm=100.0, thickness_mm=10.0),
    ]
    voxel = (4.0, 2.5, 5.0)
    patient = slab(
        slabs=layers, depth_mm=200.0, width_mm=(40, 50), voxel_mm=voxel, air_margin_mm=10
    )
    red = patient.relative_electron_density.values.astype(np.float64)
    path_mm = red.sum(axis=1) * voxel[1]  # along y (depth), every (z, x) column
    lung, bone = _red(LUNG_ICRP_INFLATED), _red(CORTICAL_BONE_ICRU46)
    air = dict(MATRAD_HLUT)[-999]  # the HLUT's air (-1000 HU lies on its flat first segment)
    expected = 50.0 * lung + 10.0 * bone + (200.0 - 60.0) * 1.0 + 2 * 10.0 * air
    inside = patient.structures["Body"].mask.any(axis=1)
    np.testing.assert_allclose(path_mm[inside], expected, rtol=1e-4)
    # Every voxel is one material: no partial volumes; slab voxel counts are exact.
    np.testing.assert_allclose(
        np.unique(patient.image.values),
        sorted([-1000.0, _hu_of_red(lung), 0.0, _hu_of_red(bone)]),
        rtol=1e-4,
    )
    for name, expected_red in (("Slab1_lung", lung), ("Slab2_bone", bone)):
        np.testing.assert_allclose(
            red[patient.structures[name].mask], expected_red, rtol=1e-4, err_msg=name
        )
    assert patient.structures["Slab1_lung"].volume_cc == pytest.approx(40 * 50 * 50 / 1000)
    assert patient.structures["Slab2_bone"].volume_cc == pytest.approx(40 * 50 * 10 / 1000)


def test_slab_geometry_depth_axis_is_y_from_the_anterior_surface():
    patient = slab(
        slabs=[Slab(material="lung", depth_mm=20, thickness_mm=30)],
        depth_mm=100,
        width_mm=50,
        voxel_mm=5,
    )
    points = voxel_points(patient, "Slab1_lung")
    surface = -50.0  # y = -depth_mm / 2
    assert points[:, 1].min() - 2.5 == pytest.approx(surface + 20.0)
    assert points[:, 1].max() + 2.5 == pytest.approx(surface + 50.0)
    assert np.ptp(points[:, 0]) + 5 == pytest.approx(50.0)
    body = voxel_points(patient, "Body")
    assert body[:, 1].min() - 2.5 == pytest.approx(surface)


def test_slab_unaligned_boundaries_use_partial_volumes():
    layers = [Slab(material="lung", depth_mm=31.0, thickness_mm=47.0)]
    patient = slab(slabs=layers, depth_mm=100.0, width_mm=20, voxel_mm=5.0)
    red = patient.relative_electron_density.values.astype(np.float64)
    lung = _red(LUNG_ICRP_INFLATED)
    expected = 47.0 * lung + 53.0
    np.testing.assert_allclose(red.sum(axis=1) * 5.0, expected, rtol=0.01)


def test_slab_materials_hu_and_density_from_the_calibration():
    calibration = default_calibration()
    lung = slab_material("lung")
    assert lung.density_g_cm3 == LUNG_ICRP_INFLATED[0]
    assert lung.relative_electron_density == pytest.approx(_red(LUNG_ICRP_INFLATED), rel=1e-4)
    # Schneider's HU -> mass density curve (another curve than the HLUT) gives the density
    # back at the lung's CT number, within its 0.01 g/cm3 scatter.
    lung_hu = _hu_of_red(_red(LUNG_ICRP_INFLATED))
    assert calibration.mass_density([lung_hu])[0] == pytest.approx(0.26, abs=0.01)
    bone = slab_material("bone")
    assert bone == tissue("cortical bone (ICRU 46 adult)")
    assert bone.density_g_cm3 == CORTICAL_BONE_ICRU46[0]
    assert bone.relative_electron_density == pytest.approx(_red(CORTICAL_BONE_ICRU46), rel=1e-4)
    assert slab_material("water").relative_electron_density == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(MaterialsError, match="'water', 'lung', 'bone'"):
        slab_material("steel")


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            [
                Slab(material="lung", depth_mm=10, thickness_mm=50),
                Slab(material="bone", depth_mm=40, thickness_mm=5),
            ],
            "overlap",
        ),
        ([Slab(material="lung", depth_mm=80, thickness_mm=50)], "beyond the phantom's depth_mm"),
        ([("lung", 10.0, 20.0)], "Slab objects"),
    ],
)
def test_slab_bad_layers_raise(layers, message):
    with pytest.raises(GeometryError, match=message):
        slab(slabs=layers, depth_mm=100, width_mm=50, voxel_mm=5)


def test_slab_spec_validation():
    with pytest.raises(GeometryError, match="thickness_mm"):
        Slab(material="lung", depth_mm=10, thickness_mm=0)
    with pytest.raises(GeometryError, match="depth_mm"):
        Slab(material="lung", depth_mm=-1, thickness_mm=10)
    with pytest.raises(MaterialsError, match="cork"):
        Slab(material="cork", depth_mm=0, thickness_mm=10)


# ---------------------------------------------------------------------------- C-shape
# Measured from CORT TG119.mat (matRad import, sha256 f4e34ffa...; 3 x 3 x 2.5 mm voxels):
# voxel counts of the structures' index lists, median HU in BODY, closest voxel centres.
CORT_VOXEL_MM3 = 3.0 * 3.0 * 2.5
CORT_VOXELS = {"BODY": 601_736, "Core": 1_320, "OuterTarget": 7_458}
CORT_CORE_VOXELS_PER_SLICE = 33
CORT_TARGET_VOXELS_PER_FULL_SLICE = 236.5
CORT_BODY_MEDIAN_HU = 37.0
CORT_CORE_TARGET_MIN_DISTANCE_MM = 6.0


@pytest.fixture(scope="module")
def tg119() -> rtwin.Patient:
    return cshape()


def test_cshape_volumes_match_the_cort_phantom(tg119):
    for name, voxels in CORT_VOXELS.items():
        cort_cc = voxels * CORT_VOXEL_MM3 / 1000.0
        assert tg119.structures[name].volume_cc == pytest.approx(cort_cc, rel=0.04), name
    core_per_slice = tg119.structures["Core"].mask.sum(axis=(1, 2))
    assert set(core_per_slice[core_per_slice > 0]) == {CORT_CORE_VOXELS_PER_SLICE}
    assert np.count_nonzero(core_per_slice) * 2.5 == 100.0
    target_per_slice = tg119.structures["OuterTarget"].mask.sum(axis=(1, 2))
    full = target_per_slice[target_per_slice > 0]
    assert np.count_nonzero(full) * 2.5 == 80.0
    assert full.mean() == pytest.approx(CORT_TARGET_VOXELS_PER_FULL_SLICE, rel=0.02)


def test_cshape_core_target_gap_and_hu(tg119):
    from scipy.spatial import cKDTree

    core, target = voxel_points(tg119, "Core"), voxel_points(tg119, "OuterTarget")
    gap = cKDTree(core).query(target)[0].min()
    assert gap == pytest.approx(CORT_CORE_TARGET_MIN_DISTANCE_MM)
    body = tg119.structures["BODY"].mask
    assert np.median(tg119.image.values[body]) == CORT_BODY_MEDIAN_HU
    assert tg119.image.values.min() == -1000.0


def test_cshape_opens_posteriorly(tg119):
    target = voxel_points(tg119, "OuterTarget")
    # Posterior is +y: nothing of the C beyond the opening plane, and the C's bulk is anterior.
    assert target[:, 1].max() < 7.4 + 1.5 + 1e-9
    assert tg119.structures["OuterTarget"].centroid_mm[1] < -10.0
    # The core's posterior side faces the opening: no target voxel straight behind the core.
    behind = (np.abs(target[:, 0]) < 12.0) & (target[:, 1] > 0.0)
    assert not behind.any()
    in_front = (np.abs(target[:, 0]) < 12.0) & (target[:, 1] < -15.0)
    assert in_front.any()
    # Left-right symmetric about the core axis within one voxel.
    assert abs(target[:, 0].mean()) < 3.0


def test_cshape_body_hu_must_be_a_ct_number():
    with pytest.raises(MaterialsError, match="body_hu"):
        cshape(voxel_mm=6.0, body_hu=float("nan"))


def test_doctest_contract_of_the_package():
    assert sorted(rtwin.phantoms.cshape(voxel_mm=6.0).structures) == ["BODY", "Core", "OuterTarget"]


@pytest.mark.shared_data
def test_cshape_matches_the_cort_file(shared_data: Path, tg119):
    scipy_io = pytest.importorskip("scipy.io")
    path = shared_data / "cort" / "TG119.mat"
    if not path.is_file():
        pytest.skip("CORT TG119.mat is not present")
    contents = scipy_io.loadmat(path, variable_names=["ct", "cst"])
    ct, cst = contents["ct"][0, 0], contents["cst"]
    hu = ct["cubeHU"][0, 0]  # a 1x1 cell; (Ny, Nx, Nz)
    x, y = ct["x"].ravel().astype(float), ct["y"].ravel().astype(float)
    resolution = ct["resolution"][0, 0]
    voxel_mm3 = float(np.prod([float(resolution[a][0, 0]) for a in ("x", "y", "z")]))
    masks = {}
    for row in range(cst.shape[0]):
        indices = cst[row, 3][0, 0].ravel().astype(np.int64) - 1
        mask = np.zeros(hu.size, dtype=bool)
        mask[indices] = True
        masks[str(cst[row, 1][0])] = mask.reshape(hu.shape, order="F")
    assert set(masks) == set(tg119.structures)
    for name, mask in masks.items():
        file_cc = mask.sum() * voxel_mm3 / 1000.0
        assert tg119.structures[name].volume_cc == pytest.approx(file_cc, rel=0.04), name
    assert np.median(hu[masks["BODY"]]) == pytest.approx(tg119.image.values.max(), abs=0.5)
    # Same layout relative to the core axis: target centroid ~15 mm anterior (-y) of it.
    yy, xx = np.meshgrid(y, x, indexing="ij")
    core_axis = np.array([xx[masks["Core"][:, :, 64]].mean(), yy[masks["Core"][:, :, 64]].mean()])
    target = masks["OuterTarget"]
    file_offset = (
        np.array(
            [
                np.broadcast_to(xx[..., None], hu.shape)[target].mean(),
                np.broadcast_to(yy[..., None], hu.shape)[target].mean(),
            ]
        )
        - core_axis
    )
    phantom_offset = tg119.structures["OuterTarget"].centroid_mm[:2]
    np.testing.assert_allclose(phantom_offset, file_offset, atol=1.5)


# ---------------------------------------------------------------------------- prostate
def test_prostate_anatomy_and_hu(built):
    patient = built["prostate"]
    s = patient.structures
    ptv = s["PTV"].centroid_mm
    assert s["Rectum"].centroid_mm[1] > ptv[1] + 20  # posterior
    assert s["Bladder"].centroid_mm[2] > ptv[2] + 30  # superior
    assert s["Bladder"].centroid_mm[1] < ptv[1]  # anterior
    assert s["FemoralHead_L"].centroid_mm[0] > 60 and s["FemoralHead_R"].centroid_mm[0] < -60
    for name in ("FemoralHead_L", "FemoralHead_R", "PelvicBones"):
        assert re.search(CLASS_PATTERNS["bone"], name, flags=re.IGNORECASE), name
    values = patient.image.values
    assert values.min() == -1000.0
    assert 250 < values[s["FemoralHead_L"].mask].mean() < 800  # trabecular inside a cortex
    assert values.max() > 1000
    # Soft tissue: the voxels' RED through the calibration is ICRU 46 soft tissue's, and
    # their CT number the one the HLUT gives that RED.
    soft = _red(SOFT_TISSUE_ICRU46_MALE)
    red = patient.relative_electron_density.values
    assert np.median(red[s["PTV"].mask]) == pytest.approx(soft, rel=1e-4)
    assert np.median(values[s["PTV"].mask]) == pytest.approx(_hu_of_red(soft), abs=0.05)
    assert np.median(values[s["Bladder"].mask]) == 0.0  # urine as water
    assert s["PTV"].volume_cc == pytest.approx(4 / 3 * math.pi * 29 * 24 * 27 / 1000, rel=0.06)


def test_prostate_options(built):
    without = prostate(voxel_mm=6.0, pelvic_bones=False, ptv_margin_mm=0.0)
    assert "PelvicBones" not in without.structures
    assert without.structures["PTV"].volume_cc < built["prostate"].structures["PTV"].volume_cc / 2


def test_prostate_synthetic_ct_classes_femoral_heads_as_bone(built):
    patient = built["prostate"]
    mr = patient.image.with_values(np.full(patient.grid.shape, 100.0), modality="MR", units="a.u.")
    synthetic = rtwin.materials.synthetic_ct(mr, patient.structures)
    assert synthetic.values[patient.structures["FemoralHead_L"].mask].min() > 1000
    assert float(synthetic.values.min()) == -1000.0


# ---------------------------------------------------------------------------- head and neck
def test_head_neck_cord_inside_the_vertebrae_and_organ_sides():
    patient = head_neck(voxel_mm=2.5)
    s = patient.structures
    cord = voxel_points(patient, "SpinalCord")
    bone = voxel_points(patient, "Vertebrae")
    centre = cord.mean(axis=0)
    # Bone in front of, behind and on both sides of the cord, within 15 mm in-plane.
    for direction in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        offset = (bone[:, :2] - centre[:2]) @ np.asarray(direction, dtype=float)
        across = np.abs((bone[:, :2] - centre[:2]) @ np.asarray(direction[::-1], dtype=float))
        assert np.any((offset > 5) & (offset < 15) & (across < 3)), direction
    assert not np.any(s["SpinalCord"].mask & s["Vertebrae"].mask)
    assert not np.any(s["SpinalCord"].mask & s["PTV"].mask)
    assert s["Parotid_L"].centroid_mm[0] > 30 and s["Parotid_R"].centroid_mm[0] < -30
    assert s["Vertebrae"].centroid_mm[1] > s["PTV"].centroid_mm[1]  # spine posterior
    values = patient.image.values
    assert values[s["Airway"].mask].min() == -1000.0
    assert 300 < values[s["Vertebrae"].mask].mean() < 1100
    soft = _red(SOFT_TISSUE_ICRU46_MALE)
    red = patient.relative_electron_density.values
    assert np.median(red[s["Parotid_L"].mask]) == pytest.approx(soft, rel=1e-4)
    assert np.median(values[s["Parotid_L"].mask]) == pytest.approx(_hu_of_red(soft), abs=0.05)
    assert values.min() == -1000.0


def test_head_neck_without_mandible(built):
    assert "Mandible" not in head_neck(voxel_mm=5.0, mandible=False).structures
    assert "Mandible" in built["head_neck"].structures
