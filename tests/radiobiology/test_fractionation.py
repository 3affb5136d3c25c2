"""BED and EQD2: identities, monotonicity, round trips, Dose and DVH forms, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtwin.anatomy import Structure
from rtwin.dose import Dose
from rtwin.errors import RadiobiologyError
from rtwin.evaluation import DVH
from rtwin.geometry import Grid
from rtwin.radiobiology import bed, eqd2, physical_dose_from_bed, physical_dose_from_eqd2

fractions = st.integers(min_value=1, max_value=45)
alpha_betas = st.floats(min_value=0.5, max_value=20.0)
doses = st.lists(st.floats(min_value=0.0, max_value=120.0), min_size=1, max_size=20)


# ---------------------------------------------------------------- values by hand
@pytest.mark.parametrize(
    ("total", "n", "alpha_beta", "expected_bed", "expected_eqd2"),
    [
        (60.0, 30, 10.0, 72.0, 60.0),  # 30 x 2 Gy
        (60.0, 30, 3.0, 100.0, 60.0),
        (40.0, 5, 3.0, 40.0 * (1 + 8 / 3), 88.0),  # 5 x 8 Gy
        (8.0, 1, 10.0, 14.4, 12.0),
        (0.0, 3, 2.0, 0.0, 0.0),
    ],
)
def test_values_by_hand(total, n, alpha_beta, expected_bed, expected_eqd2):
    assert bed(total, n_fractions=n, alpha_beta_gy=alpha_beta) == pytest.approx(expected_bed)
    assert eqd2(total, n_fractions=n, alpha_beta_gy=alpha_beta) == pytest.approx(expected_eqd2)
    # EQD2 = BED / (1 + 2 / (α/β))
    assert expected_eqd2 == pytest.approx(expected_bed / (1 + 2 / alpha_beta))


@given(n=fractions, alpha_beta=alpha_betas)
def test_eqd2_of_2_gy_fractions_is_the_physical_dose(n, alpha_beta):
    total = 2.0 * n
    assert eqd2(total, n_fractions=n, alpha_beta_gy=alpha_beta) == total
    assert bed(total, n_fractions=n, alpha_beta_gy=alpha_beta) == pytest.approx(
        total * (1 + 2 / alpha_beta)
    )


@given(values=doses, n=fractions, alpha_beta=alpha_betas)
def test_bed_and_eqd2_increase_with_dose(values, n, alpha_beta):
    ordered = np.sort(np.array(values))
    for convert in (bed, eqd2):
        converted = convert(ordered, n_fractions=n, alpha_beta_gy=alpha_beta)
        assert np.all(np.diff(converted) >= 0)
    # BED is never below the physical dose; EQD2 is below it exactly when d < 2 Gy
    assert np.all(bed(ordered, n_fractions=n, alpha_beta_gy=alpha_beta) >= ordered)
    converted = eqd2(ordered, n_fractions=n, alpha_beta_gy=alpha_beta)
    small = ordered / n < 2.0
    assert np.all(converted[small] <= ordered[small])
    assert np.all(converted[~small] >= ordered[~small])


@given(values=doses, alpha_beta=alpha_betas)
def test_more_fractions_lower_bed(values, alpha_beta):
    array = np.array(values)
    few = bed(array, n_fractions=3, alpha_beta_gy=alpha_beta)
    many = bed(array, n_fractions=30, alpha_beta_gy=alpha_beta)
    assert np.all(many <= few)


@given(values=doses, n=fractions, alpha_beta=alpha_betas)
@settings(max_examples=60)
def test_round_trips(values, n, alpha_beta):
    array = np.array(values)
    back = physical_dose_from_bed(
        bed(array, n_fractions=n, alpha_beta_gy=alpha_beta), n_fractions=n, alpha_beta_gy=alpha_beta
    )
    np.testing.assert_allclose(back, array, rtol=1e-12, atol=1e-12)
    back = physical_dose_from_eqd2(
        eqd2(array, n_fractions=n, alpha_beta_gy=alpha_beta),
        n_fractions=n,
        alpha_beta_gy=alpha_beta,
    )
    np.testing.assert_allclose(back, array, rtol=1e-12, atol=1e-12)


def test_isoeffective_hypofractionation():
    # 78 Gy in 2 Gy fractions, α/β = 1.5: the 5-fraction dose with the same EQD2
    total = physical_dose_from_eqd2(78.0, n_fractions=5, alpha_beta_gy=1.5)
    assert eqd2(total, n_fractions=5, alpha_beta_gy=1.5) == pytest.approx(78.0)
    # d solves d² + 1.5 d = 78 (2 + 1.5) / 5
    assert (total / 5) ** 2 + 1.5 * (total / 5) == pytest.approx(3.5 * 78.0 / 5)
    assert total / 5 == pytest.approx((-1.5 + np.sqrt(1.5**2 + 4 * 54.6)) / 2)


# ---------------------------------------------------------------- kinds of input
def test_scalars_arrays_and_shapes():
    assert isinstance(bed(2, n_fractions=1, alpha_beta_gy=2), float)
    array = np.arange(24.0).reshape(2, 3, 4)
    out = eqd2(array, n_fractions=4, alpha_beta_gy=3.0)
    assert out.shape == (2, 3, 4) and out.dtype == np.float64
    np.testing.assert_allclose(out, array * (array / 4 + 3.0) / 5.0)
    assert eqd2([1.0, 2.0], n_fractions=1.0, alpha_beta_gy=2).tolist() == [0.75, 2.0]


def _grid_dose() -> tuple[Dose, Structure]:
    grid = Grid.from_spacing((6, 8, 10), spacing_mm=(2.0, 3.0, 4.0), origin_mm=(-9, -10.5, -10))
    x = grid.voxel_centers_mm()[..., 0]
    dose = Dose(values=30.0 + 2.0 * x, grid=grid, description="plan A")
    organ = Structure.from_function("Organ", grid, lambda x, y, z: x**2 + y**2 < 64)
    return dose, organ


def test_dose_in_dose_out():
    dose, _ = _grid_dose()
    before = dose.values.copy()
    converted = eqd2(dose, n_fractions=5, alpha_beta_gy=3.0)
    assert isinstance(converted, Dose)
    assert converted.grid == dose.grid
    assert converted.values.dtype == np.float32
    assert not converted.values.flags.writeable
    assert converted.description == "EQD2 (α/β = 3 Gy, 5 fractions) of plan A"
    d = before.astype(np.float64)
    np.testing.assert_allclose(converted.values, d * (d / 5 + 3) / 5, rtol=1e-6)
    np.testing.assert_array_equal(dose.values, before)  # argument untouched
    back = physical_dose_from_eqd2(converted, n_fractions=5, alpha_beta_gy=3.0)
    np.testing.assert_allclose(back.values, before, rtol=1e-6)
    assert bed(dose, n_fractions=1, alpha_beta_gy=2).description.startswith(
        "BED (α/β = 2 Gy, 1 fraction)"
    )


def test_dvh_in_dvh_out_and_agrees_with_voxelwise_conversion():
    dose, organ = _grid_dose()
    dvh = DVH.compute(dose, organ)
    converted = eqd2(dvh, n_fractions=5, alpha_beta_gy=3.0)
    assert isinstance(converted, DVH)
    assert converted.name == "Organ"
    np.testing.assert_array_equal(converted.volumes_cc, dvh.volumes_cc)
    np.testing.assert_allclose(converted.doses_gy, dvh.doses_gy * (dvh.doses_gy / 5 + 3) / 5)
    # Same grid: converting the voxel doses first gives the same DVH (up to float32).
    voxelwise = DVH.compute(eqd2(dose, n_fractions=5, alpha_beta_gy=3.0), organ)
    np.testing.assert_allclose(voxelwise.doses_gy, converted.doses_gy, rtol=2e-7)
    assert voxelwise.mean_gy == pytest.approx(converted.mean_gy, rel=1e-6)
    # 2 Gy-equivalent course of a DVH: its own EQD2
    two_gy = DVH(name="x", doses_gy=[40.0], volumes_cc=[3.0])
    assert eqd2(two_gy, n_fractions=20, alpha_beta_gy=3.0).mean_gy == 40.0


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("n", [0, -3, 2.5, True, "5", None, float("nan")])
def test_bad_fraction_numbers(n):
    with pytest.raises(RadiobiologyError, match="n_fractions must be a positive integer"):
        bed(10.0, n_fractions=n, alpha_beta_gy=3.0)


@pytest.mark.parametrize("alpha_beta", [0, -1.0, float("inf"), float("nan"), "3", None])
def test_bad_alpha_beta(alpha_beta):
    with pytest.raises(RadiobiologyError, match="alpha_beta_gy"):
        eqd2(10.0, n_fractions=5, alpha_beta_gy=alpha_beta)


def test_negative_or_non_finite_doses():
    with pytest.raises(RadiobiologyError, match=r"must be >= 0 Gy .* lowest is -1 Gy"):
        bed([3.0, -1.0], n_fractions=5, alpha_beta_gy=3.0)
    with pytest.raises(RadiobiologyError, match="finite"):
        eqd2([np.inf], n_fractions=5, alpha_beta_gy=3.0)
    with pytest.raises(RadiobiologyError, match="DVH 'Organ'"):
        eqd2(
            DVH(name="Organ", doses_gy=[-2.0, 5.0], volumes_cc=[1, 1]),
            n_fractions=5,
            alpha_beta_gy=3,
        )
    with pytest.raises(RadiobiologyError, match="numbers in Gy"):
        bed("high", n_fractions=5, alpha_beta_gy=3.0)
    with pytest.raises(RadiobiologyError, match="BED values"):
        physical_dose_from_bed(-1.0, n_fractions=5, alpha_beta_gy=3.0)
    assert issubclass(RadiobiologyError, ValueError)
