"""HU calibration: default table equals the published nodes; interpolation; range policy; CSV."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from rtwin.errors import MaterialsError, RtwinWarning
from rtwin.materials import CalibrationCurve, HUCalibration, Quantity, default_calibration

#: table_id in ../shared/reference/hu_to_density.csv behind each default curve
_SOURCES = {
    Quantity.RELATIVE_ELECTRON_DENSITY: "matRad_default_current",
    Quantity.MASS_DENSITY: "GATE_Schneider2000_density",
    Quantity.STOPPING_POWER_RATIO: "matRad_default_current",
}


@pytest.mark.shared_data
@pytest.mark.parametrize("quantity", list(_SOURCES))
def test_default_nodes_are_the_published_ones(shared_reference, quantity):
    rows = [
        r
        for r in csv.DictReader(open(shared_reference / "hu_to_density.csv", encoding="utf-8"))
        if r["table_id"] == _SOURCES[quantity]
    ]
    curve = default_calibration().curve(quantity)
    np.testing.assert_array_equal(curve.hu, [float(r["hu"]) for r in rows])
    np.testing.assert_array_equal(curve.values, [float(r["value"]) for r in rows])
    assert curve.source


def test_interpolation_between_nodes_is_linear():
    calibration = default_calibration()
    # matRad default nodes (-45, 0.99) and (0, 1.0): the midpoint is the mean
    assert calibration.relative_electron_density([-22.5])[0] == pytest.approx(0.995)
    # Schneider 2000: the soft-tissue line hands over to the bone line between 100 and 101 HU
    assert calibration.mass_density([100.0, 101.0]).tolist() == [1.1199, 1.0762]


def test_default_spr_is_consistent_with_tissue_physics():
    """Bethe SPR of reference tissues at the HU the RED curve gives them (a physical check)."""
    from rtwin.materials import tissue

    calibration = default_calibration()
    red_curve = calibration.curve("relative_electron_density")
    for name, tolerance in (
        ("soft tissue (ICRU 44/46 male)", 0.02),
        ("adipose tissue", 0.03),
        ("cortical bone (ICRU 46 adult)", 0.06),
    ):
        material = tissue(name)
        hu = red_curve.inverse(material.relative_electron_density)
        spr = calibration.stopping_power_ratio([hu])[0]
        assert spr == pytest.approx(material.stopping_power_ratio, rel=tolerance), name


def test_out_of_range_clamps_with_warning_or_raises():
    calibration = default_calibration()
    with pytest.warns(RtwinWarning, match=r"2 voxel\(s\) lie outside .* \[-1024, 3000\] HU"):
        values = calibration.relative_electron_density([-3024.0, 0.0, 4000.0])
    assert values.tolist() == [0.001, 1.0, 2.505]
    strict = calibration.with_out_of_range("raise")
    with pytest.raises(MaterialsError, match="extend the calibration table"):
        strict.relative_electron_density([-3024.0])


def test_user_tables_wide_and_long(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text(
        "# my scanner\nhu,relative_electron_density,stopping_power_ratio\n"
        "-1000,0.0,0.0\n0,1.0,\n1000,1.6,1.55\n"
    )
    calibration = HUCalibration.from_csv(wide)
    assert calibration.name == "wide"
    assert calibration.relative_electron_density([500]).tolist() == [1.3]
    assert calibration.stopping_power_ratio([0]).tolist() == [
        0.775
    ]  # the empty cell skips that node
    with pytest.raises(MaterialsError, match="has no mass_density_g_cm3 curve"):
        calibration.mass_density([0])
    long = tmp_path / "long.csv"
    long.write_text(
        "quantity,hu,value,source\nmass_density_g_cm3,-1000,0.001,me\nmass_density_g_cm3,0,1.0,me\n"
    )
    assert HUCalibration.from_csv(long).mass_density([-500])[0] == pytest.approx(0.5005)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hu,red\n0,1\n1,2\n", "unknown quantity 'red'"),
        ("hu,relative_electron_density\n0,1\n0,2\n", "increase strictly"),
        ("hu,relative_electron_density\n0,1\nabc,2\n", "line 3: column 'hu' is not a number"),
        ("x,y\n1,2\n", "needs either columns"),
        ("hu,relative_electron_density\n0,1\n", "at least two"),
    ],
)
def test_bad_tables_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(MaterialsError, match=message):
        HUCalibration.from_csv(path)


def test_missing_file_is_a_materials_error(tmp_path):
    with pytest.raises(MaterialsError, match="cannot read calibration file"):
        HUCalibration.from_csv(tmp_path / "absent.csv")


def test_curve_inverse():
    curve = CalibrationCurve(
        hu=[-1000, 0, 1000], values=[0.0, 1.0, 1.5], quantity="relative_electron_density"
    )
    assert curve.inverse(1.25) == pytest.approx(500.0)
    assert curve(curve.inverse(0.3)) == pytest.approx(0.3)
    with pytest.raises(MaterialsError, match="outside the calibration's range"):
        curve.inverse(2.0)
