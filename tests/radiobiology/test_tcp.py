"""Poisson-LQ TCP: closed form for a uniform dose, DVH vs voxels, monotonicity, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtwin.anatomy import Structure
from rtwin.dose import Dose
from rtwin.errors import RadiobiologyError
from rtwin.evaluation import DVH
from rtwin.geometry import Grid
from rtwin.radiobiology import TCPParameters, poisson_tcp, poisson_tcp_voxels

PARAMETERS = TCPParameters(
    alpha_per_gy=0.3, beta_per_gy2=0.03, clonogens_per_cc=1e7, source="test values"
)


@given(
    dose=st.floats(min_value=0.0, max_value=100.0),
    volume=st.floats(min_value=0.01, max_value=500.0),
    n=st.integers(min_value=1, max_value=40),
    alpha=st.floats(min_value=0.05, max_value=0.5),
    beta=st.floats(min_value=0.0, max_value=0.1),
    density=st.floats(min_value=1e3, max_value=1e9),
)
def test_uniform_dose_matches_the_closed_form(dose, volume, n, alpha, beta, density):
    parameters = TCPParameters(alpha_per_gy=alpha, beta_per_gy2=beta, clonogens_per_cc=density)
    expected = math.exp(-density * volume * math.exp(-alpha * dose - beta * dose * dose / n))
    dvh = DVH(name="PTV", doses_gy=[dose], volumes_cc=[volume])
    assert poisson_tcp(dvh, parameters, n_fractions=n) == pytest.approx(
        expected, rel=1e-9, abs=1e-300
    )


def test_dvh_and_voxel_forms_agree_on_a_structure():
    grid = Grid.from_spacing((8, 10, 12), spacing_mm=(2.0, 2.5, 3.0), origin_mm=(-11, -11, -10))
    x = grid.voxel_centers_mm()[..., 0]
    dose = Dose(values=66.0 + 0.3 * x, grid=grid)
    ptv = Structure.from_function("PTV", grid, lambda x, y, z: x**2 + y**2 + z**2 < 80)
    dvh = DVH.compute(dose, ptv)
    voxel_cc = grid.voxel_volume_mm3 / 1000
    from_dvh = poisson_tcp(dvh, PARAMETERS, n_fractions=33)
    from_voxels = poisson_tcp_voxels(dose.values[ptv.mask], voxel_cc, PARAMETERS, n_fractions=33)
    assert 0.0 < from_dvh < 1.0
    assert from_voxels == pytest.approx(from_dvh, rel=1e-9)
    # the product over voxels of the single-voxel probabilities
    single = [
        poisson_tcp_voxels([d], voxel_cc, PARAMETERS, n_fractions=33) for d in dose.values[ptv.mask]
    ]
    assert from_voxels == pytest.approx(np.prod(single), rel=1e-9)


def test_tcp_rises_with_dose_and_falls_with_clonogens_and_fractions_matter():
    doses = np.linspace(40.0, 90.0, 26)
    tcps = [poisson_tcp_voxels([d], 50.0, PARAMETERS, n_fractions=35) for d in doses]
    assert np.all(np.diff(tcps) >= 0)
    assert tcps[0] < 0.01 and tcps[-1] > 0.99
    denser = TCPParameters(alpha_per_gy=0.3, beta_per_gy2=0.03, clonogens_per_cc=1e8)
    assert poisson_tcp_voxels([70.0], 50.0, denser, n_fractions=35) < poisson_tcp_voxels(
        [70.0], 50.0, PARAMETERS, n_fractions=35
    )
    # same total dose in fewer, larger fractions kills more cells (β > 0)
    assert poisson_tcp_voxels([60.0], 50.0, PARAMETERS, n_fractions=10) > poisson_tcp_voxels(
        [60.0], 50.0, PARAMETERS, n_fractions=30
    )
    linear = TCPParameters(alpha_per_gy=0.3, beta_per_gy2=0.0, clonogens_per_cc=1e7)
    assert linear.alpha_beta_gy == math.inf
    assert poisson_tcp_voxels([60.0], 50.0, linear, n_fractions=10) == poisson_tcp_voxels(
        [60.0], 50.0, linear, n_fractions=30
    )
    assert poisson_tcp_voxels([], 1.0, PARAMETERS, n_fractions=1) == 1.0


def test_tcp_errors():
    with pytest.raises(RadiobiologyError, match="needs TCPParameters"):
        poisson_tcp_voxels([60.0], 1.0, {"alpha": 0.3}, n_fractions=30)
    with pytest.raises(RadiobiologyError, match="needs a rtwin DVH"):
        poisson_tcp([60.0], PARAMETERS, n_fractions=30)
    with pytest.raises(RadiobiologyError, match="n_fractions"):
        poisson_tcp_voxels([60.0], 1.0, PARAMETERS, n_fractions=0)
    with pytest.raises(RadiobiologyError, match="matching shapes"):
        poisson_tcp_voxels([60.0, 61.0], [1.0, 1.0, 1.0], PARAMETERS, n_fractions=30)
    with pytest.raises(RadiobiologyError, match="doses_gy must be >= 0"):
        poisson_tcp_voxels([-60.0], 1.0, PARAMETERS, n_fractions=30)
    with pytest.raises(RadiobiologyError, match="volumes_cc must be finite"):
        poisson_tcp_voxels([60.0], np.nan, PARAMETERS, n_fractions=30)
    with pytest.raises(RadiobiologyError, match="negative doses"):
        poisson_tcp(
            DVH(name="PTV", doses_gy=[-1.0, 60.0], volumes_cc=[1, 1]), PARAMETERS, n_fractions=30
        )
    for keywords, name in (
        ({"alpha_per_gy": 0.0, "beta_per_gy2": 0.03, "clonogens_per_cc": 1e7}, "alpha_per_gy"),
        ({"alpha_per_gy": 0.3, "beta_per_gy2": -0.03, "clonogens_per_cc": 1e7}, "beta_per_gy2"),
        ({"alpha_per_gy": 0.3, "beta_per_gy2": "0.03", "clonogens_per_cc": 1e7}, "beta_per_gy2"),
        ({"alpha_per_gy": 0.3, "beta_per_gy2": 0.03, "clonogens_per_cc": 0.0}, "clonogens_per_cc"),
    ):
        with pytest.raises(RadiobiologyError, match=name):
            TCPParameters(**keywords)
