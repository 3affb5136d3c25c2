"""Tissues: electron densities from composition, Bethe stopping power vs PSTAR, synthetic CT."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from rtwin.anatomy import Image, Structure, StructureSet
from rtwin.errors import MaterialsError
from rtwin.geometry import Grid
from rtwin.materials import default_calibration, synthetic_ct, tissue, tissues


def test_water_is_the_reference():
    water = tissue("water (liquid)")
    assert water.relative_electron_density == pytest.approx(1.0, abs=1e-12)
    assert water.stopping_power_ratio == pytest.approx(1.0, abs=1e-12)


def test_same_composition_scales_with_density():
    # physical law: electron density is proportional to mass density for one composition
    inhale, exhale = tissue("lung inhale"), tissue("lung exhale")
    ratio = inhale.relative_electron_density / exhale.relative_electron_density
    assert ratio == pytest.approx(0.217 / 0.508, rel=1e-12)


def test_spr_over_red_follows_mean_excitation_energy():
    # lower I than water (78 eV) stops more per electron, higher I less
    adipose, bone = tissue("adipose tissue"), tissue("cortical bone (ICRU 46 adult)")
    assert adipose.stopping_power_ratio / adipose.relative_electron_density > 1.0
    assert bone.stopping_power_ratio / bone.relative_electron_density < 1.0


@pytest.mark.shared_data
def test_bethe_stopping_power_of_water_matches_pstar(shared_reference):
    water = tissue("water (liquid)")
    rows = list(
        csv.DictReader(open(shared_reference / "proton_csda_range_water.csv", encoding="utf-8"))
    )
    checked = 0
    for row in rows:
        energy = float(row["energy_MeV"])
        if 50 <= energy <= 250:
            pstar = float(row["total_mass_stopping_power_MeV_cm2_g"])
            assert water.mass_stopping_power(energy) == pytest.approx(pstar, rel=0.01), energy
            checked += 1
    assert checked >= 5


def test_unknown_tissue_lists_names():
    with pytest.raises(MaterialsError, match="unknown tissue 'bone'.*'cortical bone"):
        tissue("bone")
    assert "liver" in tissues()


def _mr_and_structures():
    grid = Grid.from_spacing((10, 20, 20), spacing_mm=2.0, origin_mm=(-19, -19, -9))
    body = Structure.from_function(
        "Body", grid, lambda x, y, z: x**2 + y**2 <= 15**2, role="external"
    )
    femur = Structure.from_function(
        "Femur_L", grid, lambda x, y, z: (x - 5) ** 2 + y**2 <= 3**2, role="organ_at_risk"
    )
    lung = Structure.from_function(
        "Lung", grid, lambda x, y, z: (x + 6) ** 2 + y**2 <= 4**2, role="organ_at_risk"
    )
    mr = Image(
        values=np.random.default_rng(0).uniform(0, 500, grid.shape), grid=grid, modality="MR"
    )
    return mr, StructureSet([body, femur, lung])


def test_synthetic_ct_assigns_bulk_densities():
    mr, structures = _mr_and_structures()
    sct = synthetic_ct(mr, structures)
    red = default_calibration().relative_electron_density(sct.values)
    assert sct.modality.value == "CT"
    assert np.all(sct.values[~structures["Body"].mask] == -1000)
    body_only = structures["Body"].mask & ~structures["Femur_L"].mask & ~structures["Lung"].mask
    np.testing.assert_allclose(
        red[body_only], tissue("soft tissue (ICRU 44/46 male)").relative_electron_density, rtol=1e-5
    )
    np.testing.assert_allclose(
        red[structures["Femur_L"].mask],
        tissue("cortical bone (ICRU 46 adult)").relative_electron_density,
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        red[structures["Lung"].mask], tissue("lung inhale").relative_electron_density, rtol=1e-4
    )


def test_synthetic_ct_user_assignments_and_errors():
    mr, structures = _mr_and_structures()
    sct = synthetic_ct(mr, structures, {"Femur_L": "trabecular bone"})
    red = default_calibration().relative_electron_density(sct.values[structures["Femur_L"].mask])
    np.testing.assert_allclose(red, tissue("trabecular bone").relative_electron_density, rtol=1e-5)
    with pytest.raises(MaterialsError, match="'Kidney' is neither a structure"):
        synthetic_ct(mr, structures, {"Kidney": "liver"})
    with pytest.raises(MaterialsError, match="unknown tissue"):
        synthetic_ct(mr, structures, {"Body": "jelly"})
    with pytest.raises(MaterialsError, match="role 'external'"):
        synthetic_ct(mr, structures.without("Body"))


def test_synthetic_ct_airway_is_air():
    mr, structures = _mr_and_structures()
    grid = structures.grid
    airway = Structure.from_function(
        "Airway", grid, lambda x, y, z: (x) ** 2 + (y - 8) ** 2 <= 2**2
    )
    sct = synthetic_ct(mr, structures.with_structures(airway))
    assert np.all(sct.values[airway.mask] == -1000.0)


def test_targets_are_never_classed_by_name():
    mr, structures = _mr_and_structures()
    grid = structures.grid
    ptv = Structure.from_function(
        "PTV_Pelvis", grid, lambda x, y, z: (x + 1) ** 2 + (y + 8) ** 2 <= 3**2, role="target"
    )
    sct = synthetic_ct(mr, structures.with_structures(ptv))
    soft = (
        default_calibration()
        .curve("relative_electron_density")
        .inverse(tissue("soft tissue (ICRU 44/46 male)").relative_electron_density)
    )
    np.testing.assert_allclose(
        sct.values[ptv.mask & ~structures["Femur_L"].mask & ~structures["Lung"].mask],
        soft,
        atol=1e-3,
    )


def test_reference_data_cannot_be_changed():
    water = tissue("water (liquid)")
    with pytest.raises(TypeError):
        water.mass_fractions["H"] = 0.0  # type: ignore[index]
    calibration = default_calibration()
    with pytest.raises(TypeError):
        calibration.curves["x"] = None  # type: ignore[index]
    with pytest.raises(ValueError):
        calibration.curve("relative_electron_density").hu.flags.writeable = True
    with pytest.raises(MaterialsError, match="unknown calibration quantity 'bogus'"):
        calibration.curve("bogus")
