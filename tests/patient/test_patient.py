"""Patient: derived density images, validation, provenance and fingerprint."""

from __future__ import annotations

import numpy as np
import pytest

from rtwin.anatomy import Image, Structure, StructureSet
from rtwin.errors import GeometryError, MaterialsError
from rtwin.geometry import Grid
from rtwin.materials import default_calibration
from rtwin.patient import Patient, Provenance, hash_arrays


@pytest.fixture
def patient() -> Patient:
    grid = Grid.from_spacing((4, 5, 6), spacing_mm=2.0)
    hu = np.zeros(grid.shape)
    hu[:, :, :2] = -1000.0
    hu[:, :, 4:] = 1000.0
    body = Structure(name="Body", mask=hu > -500, grid=grid, role="external")
    return Patient(
        image=Image(values=hu, grid=grid, modality="CT"),
        structures=StructureSet([body]),
        provenance=Provenance(steps=("test",)),
    )


def test_derived_images_follow_the_calibration(patient):
    calibration = default_calibration()
    red = patient.relative_electron_density
    assert red.units == "1" and red.grid == patient.grid
    np.testing.assert_allclose(
        red.values[0, 0],
        calibration.relative_electron_density(patient.image.values[0, 0]),
        rtol=1e-6,
    )
    assert patient.mass_density.values[0, 0, 3] == pytest.approx(
        calibration.mass_density([0.0])[0], rel=1e-6
    )
    assert patient.stopping_power_ratio.values[0, 0, 5] == pytest.approx(
        calibration.stopping_power_ratio([1000.0])[0], rel=1e-6
    )


def test_fingerprint_tracks_content(patient):
    same = Patient(image=patient.image, structures=patient.structures)
    assert same.fingerprint == patient.fingerprint
    changed = Patient(
        image=patient.image.with_values(patient.image.values + 1), structures=patient.structures
    )
    assert changed.fingerprint != patient.fingerprint
    assert hash_arrays(np.zeros(3)) != hash_arrays(np.zeros(4))


def test_validation(patient):
    mr = patient.image.with_values(patient.image.values, modality="MR", units="a.u.")
    with pytest.raises(MaterialsError, match="synthetic CT"):
        Patient(image=mr, structures=patient.structures)
    other = StructureSet([patient.structures["Body"].resampled(patient.grid.with_spacing(4.0))])
    with pytest.raises(GeometryError, match="different grids"):
        Patient(image=patient.image, structures=other)
    with pytest.raises(GeometryError, match="unknown patient position 'XYZ'"):
        Patient(image=patient.image, structures=patient.structures, position="XYZ")  # type: ignore[arg-type]


def test_resampled_keeps_provenance(patient):
    coarse = patient.resampled(patient.grid.with_spacing(4.0))
    assert coarse.grid.spacing_mm.tolist() == [4.0, 4.0, 4.0]
    assert coarse.provenance.steps[0] == "test"
    assert coarse.provenance.steps[-1].startswith("resampled to")
    assert "Body" in coarse.structures


def test_fingerprint_sees_position_roles_and_calibration(patient):
    from dataclasses import replace

    base = patient.fingerprint
    assert replace(patient, position="FFP").fingerprint != base
    relabelled = patient.structures["Body"].with_role("organ_at_risk")
    assert patient.with_structures(StructureSet([relabelled])).fingerprint != base
    assert (
        patient.with_calibration(patient.calibration.with_out_of_range("raise")).fingerprint != base
    )
