"""The shipped generic 6 MV machine against BJR Supplement 25 and the laws it must obey."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from rtwin.machines import generic_6mv
from rtwin.machines._build_generic import build_generic_6mv

#: British Journal of Radiology Supplement 25 (1996), "Central axis depth dose data for use
#: in radiotherapy", Tables 5.2.1-5.5.1, 6 MV, SSD 100 cm, square fields; percent of D_max.
#: (field side cm, depth cm, PDD %). Read via the pymcc transcription (module
#: cyberknife_calibration); the same six numbers are in ../shared/reference/photon_pdd_6mv.csv.
BJR25_6MV = [
    (6.0, 10.0, 64.9),
    (6.0, 20.0, 36.4),
    (7.0, 10.0, 65.7),
    (7.0, 20.0, 37.2),
    (10.0, 10.0, 67.5),
    (10.0, 20.0, 39.3),
]


@pytest.fixture(scope="module")
def machine():
    return generic_6mv()


@pytest.mark.parametrize(("field_cm", "depth_cm", "pdd"), BJR25_6MV)
def test_pdd_within_one_point_of_bjr25(machine, field_cm, depth_cm, pdd):
    model = machine.central_axis_pdd(field_size_cm=field_cm, depths_cm=[depth_cm], ssd_cm=100.0)
    assert abs(model[0] - pdd) < 1.0


@pytest.mark.parametrize("field_cm", [5.0, 6.0, 7.0, 10.0, 20.0])
def test_depth_of_maximum_is_about_1_5_cm(machine, field_cm):
    # teaching-note value d_max ~ 1.5 cm for 6 MV (loose); acceptance band 1.2-1.8 cm
    assert 1.2 <= machine.depth_of_maximum_cm(field_size_cm=field_cm) <= 1.8


def test_depth_of_maximum_agrees_with_a_fine_scan(machine):
    depths = np.arange(0.5, 3.0, 0.0005)
    dose = machine.dose_in_water(field_size_cm=10, depths_cm=depths)
    assert machine.depth_of_maximum_cm(field_size_cm=10) == pytest.approx(
        depths[np.argmax(dose)], abs=0.002
    )


def test_pdd10_increases_with_field_size(machine):
    fields = np.arange(3.0, 30.01, 0.5)
    pdd10 = [machine.central_axis_pdd(field_size_cm=f, depths_cm=[10.0])[0] for f in fields]
    assert np.all(np.diff(pdd10) > 0.0)


def test_calibration_gives_1_gy_at_dmax_for_10x10_at_ssd_100(machine):
    dmax = machine.depth_of_maximum_cm(field_size_cm=10)
    dose = machine.dose_in_water(field_size_cm=10, depths_cm=dmax, ssd_cm=100)
    assert float(dose) == pytest.approx(1.0, rel=1e-6)
    # a weight is a fluence: the same field tiled by 2.5 mm bixels gives the same dose
    fine = machine.dose_in_water(
        field_size_cm=10, depths_cm=dmax, method="bixels", bixel_width_mm=2.5
    )
    assert float(fine) == pytest.approx(1.0, rel=1e-9)


def test_inverse_square_with_the_same_field_at_depth(machine):
    # Same physical field at depth d for SSD 90 and 100 cm: identical lateral (scatter)
    # conditions in the voxel's plane, so D(90)/D(100) = ((100 + d)/(90 + d))^2 exactly.
    for depth in (1.5, 5.0, 10.0, 20.0):
        field_90 = 10.0 * (100.0 + depth) / (90.0 + depth)
        ratio = machine.dose_in_water(
            field_size_cm=field_90, depths_cm=depth, ssd_cm=90.0
        ) / machine.dose_in_water(field_size_cm=10.0, depths_cm=depth, ssd_cm=100.0)
        assert float(ratio) == pytest.approx(((100.0 + depth) / (90.0 + depth)) ** 2, rel=1e-9)


def test_inverse_square_output_at_dmax_with_the_same_collimator(machine):
    # The clinical check: same collimator setting (10 x 10 at the isocentre), SSD 90 vs 100.
    # At d_max the dose ratio is ((100 + dmax)/(90 + dmax))^2 times a phantom-scatter factor
    # for the field at depth (9.15 vs 10.15 cm), which must stay within 1 %.
    dmax = machine.depth_of_maximum_cm(field_size_cm=10)
    ratio = machine.dose_in_water(
        field_size_cm=10, depths_cm=dmax, ssd_cm=90
    ) / machine.dose_in_water(field_size_cm=10, depths_cm=dmax, ssd_cm=100)
    inverse_square = ((100.0 + dmax) / (90.0 + dmax)) ** 2
    assert float(ratio) / inverse_square == pytest.approx(1.0, abs=0.01)
    assert float(ratio) / inverse_square < 1.0  # the smaller field scatters less


@pytest.mark.parametrize("depth_cm", [5.0, 10.0, 20.0])
def test_pdd_follows_the_mayneord_factor(machine, depth_cm):
    # Same 10 x 10 field at the surface: PDD(SSD 90) = PDD(SSD 100) * F, with
    # F = ((90 + dm)/(100 + dm))^2 ((100 + d)/(90 + d))^2 (Mayneord); scatter changes
    # neglected by F are below 1 % to 20 cm.
    dmax = machine.depth_of_maximum_cm(field_size_cm=10)
    pdd_100 = machine.central_axis_pdd(field_size_cm=10, depths_cm=[depth_cm], ssd_cm=100)[0]
    pdd_90 = machine.central_axis_pdd(field_size_cm=10 * 100 / 90, depths_cm=[depth_cm], ssd_cm=90)[
        0
    ]
    factor = ((90 + dmax) / (100 + dmax)) ** 2 * ((100 + depth_cm) / (90 + depth_cm)) ** 2
    assert pdd_90 == pytest.approx(pdd_100 * factor, rel=0.01)


@pytest.mark.parametrize("depth_cm", [1.5, 10.0, 20.0])
def test_10x10_profile_is_symmetric_and_half_dose_at_the_geometric_edge(machine, depth_cm):
    positions = np.linspace(0.0, 9.0, 37)
    right = machine.profile(field_size_cm=10, depth_cm=depth_cm, off_axis_cm=positions)
    left = machine.profile(field_size_cm=10, depth_cm=depth_cm, off_axis_cm=-positions)
    assert np.max(np.abs(right - left)) < 0.5
    assert right[0] == pytest.approx(100.0)
    edge = 5.0 * (100.0 + depth_cm) / 100.0  # the field edge projected to that depth
    half = machine.profile(field_size_cm=10, depth_cm=depth_cm, off_axis_cm=[edge])[0]
    assert 45.0 < half < 55.0


@pytest.mark.parametrize("field", [5.0, 10.0, (6.0, 12.0)])
def test_bixel_sum_equals_the_analytic_open_field(machine, field):
    depths = np.array([0.5, 1.5, 5.0, 10.0, 25.0])[:, None]
    x = np.array([0.0, 1.3, 2.4, 2.6, 3.2, 5.0, 8.0])[None, :]
    analytic = machine.dose_in_water(field_size_cm=field, depths_cm=depths, x_cm=x, y_cm=0.7)
    bixels = machine.dose_in_water(
        field_size_cm=field, depths_cm=depths, x_cm=x, y_cm=0.7, method="bixels"
    )
    assert np.max(np.abs(bixels / analytic - 1.0)) < 0.005


def test_rerunning_the_fit_reproduces_the_shipped_machine(machine):
    fit = build_generic_6mv()
    assert fit.converged
    assert fit.dmax_constraint_applied
    shipped = machine.parameters.as_dict()
    for name, value in fit.machine.parameters.as_dict().items():
        assert value == pytest.approx(shipped[name], rel=1e-3), name
    depths = [1.5, 5.0, 10.0, 20.0, 30.0]
    for field in (4.0, 10.0, 30.0):
        np.testing.assert_allclose(
            fit.machine.central_axis_pdd(field_size_cm=field, depths_cm=depths),
            machine.central_axis_pdd(field_size_cm=field, depths_cm=depths),
            atol=0.01,
        )


def test_every_parameter_names_its_source(machine):
    assert set(machine.sources) == set(machine.parameters.as_dict())
    assert all("BJR Supplement 25" in machine.sources[name] for name in ("attenuation_per_mm",))
    assert "matRad" in machine.sources["primary_sigma_mm"]


@pytest.mark.shared_data
def test_matches_the_shared_bjr25_table(machine, shared_reference):
    with open(shared_reference / "photon_pdd_6mv.csv", encoding="utf-8") as handle:
        rows = [
            row
            for row in csv.DictReader(handle)
            if row["energy_MV"] == "6"
            and row["quantity"] == "PDD"
            and row["machine_or_dataset"].startswith("BJR Supplement 25")
        ]
    assert len(rows) == 6
    for row in rows:
        model = machine.central_axis_pdd(
            field_size_cm=float(row["field_size_cm"]),
            depths_cm=[float(row["depth_cm"])],
            ssd_cm=float(row["ssd_cm"]),
        )[0]
        assert abs(model - float(row["value"])) < 1.0


def test_loose_sanity_against_teaching_notes(machine):
    # lixinzhan/MedPhys teaching notes (secondary, unsourced; 10 x 10 presumed): PDD(5) 86 %,
    # PDD(20) 40 %, TPR20,10 0.67. Loose bands only: these are not primary data.
    pdd5, pdd10, pdd20 = machine.central_axis_pdd(field_size_cm=10, depths_cm=[5.0, 10.0, 20.0])
    assert abs(pdd5 - 86.0) < 2.0
    assert abs(pdd20 - 40.0) < 2.0
    tpr_20_10 = 1.2661 * pdd20 / pdd10 - 0.0595  # IAEA TRS-398 relation
    assert abs(tpr_20_10 - 0.67) < 0.02
