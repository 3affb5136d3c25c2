"""PSTAR range–energy relation: table nodes, round trips, monotonicity, interpolation accuracy."""

from __future__ import annotations

import csv
import io
from importlib import resources

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.interpolate import CubicHermiteSpline

from rtwin.dose.proton import (
    PSTAR_ENERGY_RANGE_MEV,
    ProtonPhysicsError,
    csda_range_mm,
    energy_for_csda_range,
    mass_stopping_power_water,
)
from rtwin.dose.proton._range_energy import residual_energy_mev
from rtwin.errors import RtwinError


def _shipped_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    text = resources.files("rtwin.dose.proton").joinpath("data/pstar_water.csv").read_text()
    rows = list(
        csv.DictReader(
            io.StringIO("\n".join(line for line in text.splitlines() if not line.startswith("#")))
        )
    )
    energy = np.array([float(r["energy_MeV"]) for r in rows])
    range_g_cm2 = np.array([float(r["csda_range_g_cm2"]) for r in rows])
    stopping = np.array([float(r["total_mass_stopping_power_MeV_cm2_g"]) for r in rows])
    return energy, range_g_cm2, stopping


def test_shipped_table_names_its_source():
    text = resources.files("rtwin.dose.proton").joinpath("data/pstar_water.csv").read_text()
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert "PSTAR" in header and "ICRU" in header and "plastimatch" in header
    energy, _, _ = _shipped_table()
    assert energy[0] == 10.0 and energy[-1] == 300.0 and energy.size == 30


@pytest.mark.parametrize(
    ("energy_mev", "range_g_cm2"),
    # NIST PSTAR spot values quoted in shared/reference/proton_physics.md
    [(100.0, 7.718), (150.0, 15.77), (200.0, 25.96), (250.0, 37.94)],
)
def test_pstar_spot_values(energy_mev, range_g_cm2):
    assert float(csda_range_mm(energy_mev)) == pytest.approx(10.0 * range_g_cm2, rel=1e-12)


def test_every_table_node_is_reproduced():
    energy, range_g_cm2, stopping = _shipped_table()
    np.testing.assert_allclose(csda_range_mm(energy), 10.0 * range_g_cm2, rtol=1e-12)
    np.testing.assert_allclose(mass_stopping_power_water(energy), stopping, rtol=1e-12)
    np.testing.assert_allclose(energy_for_csda_range(10.0 * range_g_cm2), energy, rtol=1e-12)


def test_round_trip_on_a_dense_grid():
    energy = np.geomspace(*PSTAR_ENERGY_RANGE_MEV, 4001)
    np.testing.assert_allclose(energy_for_csda_range(csda_range_mm(energy)), energy, rtol=1e-11)
    ranges = np.geomspace(1.23, 514.5, 4001)
    np.testing.assert_allclose(csda_range_mm(energy_for_csda_range(ranges)), ranges, rtol=1e-11)


def test_strictly_monotone_and_fritsch_carlson():
    energy = np.geomspace(*PSTAR_ENERGY_RANGE_MEV, 20001)
    assert np.all(np.diff(csda_range_mm(energy)) > 0)
    assert np.all(mass_stopping_power_water(energy) > 0)
    # sufficient monotonicity condition of a cubic Hermite interpolant on every interval
    e, r, s = _shipped_table()
    slope = e / (r * s)
    secant = np.diff(np.log(r)) / np.diff(np.log(e))
    a, b = slope[:-1] / secant, slope[1:] / secant
    assert np.all(a > 0) and np.all(b > 0) and np.all(a**2 + b**2 <= 9.0)


def test_leave_one_out_interpolation_error_is_small():
    # predict each interior node from the others: an upper bound on the error between nodes
    e, r, s = _shipped_table()
    slope = e / (r * s)
    worst = 0.0
    for i in range(1, e.size - 1):
        keep = np.arange(e.size) != i
        spline = CubicHermiteSpline(np.log(e[keep]), np.log(r[keep]), slope[keep])
        worst = max(worst, abs(np.exp(spline(np.log(e[i]))) / r[i] - 1.0))
    assert worst < 6e-4  # documented: within 0.06 %


def test_range_and_stopping_power_columns_agree():
    # physics identity of the table itself: R(E2) - R(E1) = integral of dE/S (Simpson on nodes)
    e, r, s = _shipped_table()
    for low, high in [(30.0, 40.0), (70.0, 100.0), (100.0, 150.0), (200.0, 300.0)]:
        mask = (e >= low) & (e <= high)
        x, y = e[mask], 1.0 / s[mask]
        integral = np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2)  # trapezoid, convex 1/S
        difference = r[mask][-1] - r[mask][0]
        assert integral == pytest.approx(difference, rel=5e-3)


def test_bragg_kleeman_fit_within_two_percent_between_70_and_250_mev():
    # shared/reference/proton_physics.md: alpha = 0.0022, p = 1.77 lies within about +-2 %
    energy = np.linspace(70.0, 250.0, 181)
    bragg_kleeman_mm = 10.0 * 0.0022 * energy**1.77
    assert np.max(np.abs(bragg_kleeman_mm / csda_range_mm(energy) - 1.0)) < 0.02


def test_residual_energy_below_the_table_is_a_continuous_power_law():
    r1 = float(csda_range_mm(10.0))
    below, above = residual_energy_mev([r1 * (1 - 1e-12)]), residual_energy_mev([r1])
    assert float(below[0]) == pytest.approx(float(above[0]), rel=1e-9)
    assert float(residual_energy_mev([0.0])[0]) == 0.0
    values = residual_energy_mev(np.linspace(0.0, 20.0, 2001))
    assert np.all(np.diff(values) > 0)


def test_errors_name_value_range_and_fix():
    with pytest.raises(
        ProtonPhysicsError,
        match=r"energy_mev 5 MeV is outside the PSTAR table "
        r"\(10 to 300 MeV\); use an energy",
    ):
        csda_range_mm([100.0, 5.0])
    with pytest.raises(ProtonPhysicsError, match="non-finite"):
        csda_range_mm(np.nan)
    with pytest.raises(ProtonPhysicsError, match=r"range_mm 600 mm is outside the PSTAR table"):
        energy_for_csda_range(600.0)
    with pytest.raises(ProtonPhysicsError, match="must be a number"):
        mass_stopping_power_water("high")
    with pytest.raises(ProtonPhysicsError) as caught:
        csda_range_mm(301.0)
    assert isinstance(caught.value, RtwinError) and isinstance(caught.value, ValueError)


def test_shapes_are_kept_and_inputs_not_mutated():
    energy = np.array([[100.0, 150.0], [200.0, 250.0]])
    before = energy.copy()
    assert csda_range_mm(energy).shape == (2, 2)
    assert np.ndim(csda_range_mm(100.0)) == 0
    np.testing.assert_array_equal(energy, before)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=10.0, max_value=300.0, allow_nan=False))
def test_round_trip_property(energy):
    assert float(energy_for_csda_range(csda_range_mm(energy))) == pytest.approx(energy, rel=1e-11)
