"""gEUD (one implementation) and LKB NTCP: the probit identities, limits, EQD2 option, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm

from rtwin.errors import EvaluationError, RadiobiologyError
from rtwin.evaluation import DVH, Metric
from rtwin.radiobiology import LKBParameters, eqd2, geud, lkb_ntcp


def _organ() -> DVH:
    rng = np.random.default_rng(3)
    return DVH(
        name="Organ", doses_gy=rng.uniform(5.0, 70.0, 200), volumes_cc=rng.uniform(0.1, 1, 200)
    )


def _uniform(dose_gy: float) -> DVH:
    return DVH(name="Organ", doses_gy=[dose_gy], volumes_cc=[12.5])


# ---------------------------------------------------------------- gEUD
@pytest.mark.parametrize("a", [1.0, 2.0, 8.0, 1 / 0.12, -10.0])
def test_geud_is_the_evaluation_implementation(a):
    dvh = _organ()
    assert geud(dvh, a) == dvh.geud_gy(a) == Metric.parse(f"gEUD(a={a!r})").evaluate(dvh)
    # and it is the formula: (Σ v D^a / V)^(1/a)
    v = dvh.volumes_cc / dvh.volume_cc
    assert geud(dvh, a) == pytest.approx(np.sum(v * dvh.doses_gy**a) ** (1 / a), rel=1e-12)


def test_geud_errors_come_from_the_dvh():
    with pytest.raises(EvaluationError, match="non-zero"):
        geud(_organ(), 0.0)
    with pytest.raises(RadiobiologyError, match="needs a rtwin DVH"):
        geud([1.0, 2.0], 1.0)


# ---------------------------------------------------------------- LKB
@pytest.mark.parametrize("n", [0.05, 0.12, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("m", [0.05, 0.15, 0.4])
def test_ntcp_is_one_half_when_geud_equals_td50(n, m):
    parameters = LKBParameters(td50_gy=45.0, m=m, n=n)
    assert lkb_ntcp(_uniform(45.0), parameters) == pytest.approx(0.5, abs=1e-15)
    # a non-uniform DVH scaled so that its gEUD is TD50
    dvh = _organ()
    scale = 45.0 / geud(dvh, 1 / n)
    scaled = DVH(name="Organ", doses_gy=dvh.doses_gy * scale, volumes_cc=dvh.volumes_cc)
    assert lkb_ntcp(scaled, parameters) == pytest.approx(0.5, abs=1e-9)


def test_ntcp_matches_the_probit_computed_independently():
    dvh = _organ()
    parameters = LKBParameters(td50_gy=40.0, m=0.18, n=0.7, organ="lung", endpoint="pneumonitis")
    expected_geud = np.sum(dvh.volumes_cc / dvh.volume_cc * dvh.doses_gy ** (1 / 0.7)) ** 0.7
    t = (expected_geud - 40.0) / (0.18 * 40.0)
    assert lkb_ntcp(dvh, parameters) == pytest.approx(norm.cdf(t), rel=1e-12)
    assert parameters.ntcp(40.0 + 0.18 * 40.0) == pytest.approx(norm.cdf(1.0), rel=1e-14)


@given(
    td50=st.floats(min_value=10.0, max_value=80.0),
    m=st.floats(min_value=0.05, max_value=0.5),
    n=st.floats(min_value=0.05, max_value=1.0),
    factors=st.lists(st.floats(min_value=0.1, max_value=3.0), min_size=2, max_size=6),
)
def test_ntcp_increases_with_dose(td50, m, n, factors):
    dvh = _organ()
    parameters = LKBParameters(td50_gy=td50, m=m, n=n)
    values = [
        lkb_ntcp(
            DVH(name="Organ", doses_gy=dvh.doses_gy * f, volumes_cc=dvh.volumes_cc), parameters
        )
        for f in sorted(factors)
    ]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert np.all(np.diff(values) >= 0)


def test_small_m_makes_a_step_at_td50():
    steep = LKBParameters(td50_gy=50.0, m=1e-4, n=1.0)
    assert lkb_ntcp(_uniform(49.5), steep) < 1e-12
    assert lkb_ntcp(_uniform(50.5), steep) > 1 - 1e-12
    shallow = LKBParameters(td50_gy=50.0, m=0.5, n=1.0)
    assert 0.4 < lkb_ntcp(_uniform(49.5), shallow) < 0.5


def test_volume_parameter_limits():
    # n = 1: mean dose; small n: the maximum dominates
    dvh = DVH(name="Organ", doses_gy=[10.0, 60.0], volumes_cc=[9.0, 1.0])  # mean 15 Gy
    mean_model = LKBParameters(td50_gy=15.0, m=0.1, n=1.0)
    assert lkb_ntcp(dvh, mean_model) == pytest.approx(0.5)
    serial = LKBParameters(td50_gy=60.0, m=0.1, n=0.01)
    assert geud(dvh, serial.a) == pytest.approx(60.0 * 0.1**0.01, rel=1e-9)
    assert lkb_ntcp(dvh, serial) == pytest.approx(norm.cdf((60.0 * 0.1**0.01 - 60.0) / 6.0))


def test_eqd2_option():
    dvh = _organ()
    parameters = LKBParameters(td50_gy=55.0, m=0.15, n=0.3)
    converted = lkb_ntcp(dvh, parameters, n_fractions=5, alpha_beta_gy=3.0)
    by_hand = lkb_ntcp(eqd2(dvh, n_fractions=5, alpha_beta_gy=3.0), parameters)
    assert converted == by_hand
    assert converted > lkb_ntcp(dvh, parameters)  # 5 fractions of up to 14 Gy: EQD2 > physical
    # 2 Gy fractions: EQD2 is the physical dose, so the option changes nothing
    two_gy = _uniform(60.0)
    assert lkb_ntcp(two_gy, parameters, n_fractions=30, alpha_beta_gy=3.0) == lkb_ntcp(
        two_gy, parameters
    )


def test_lkb_errors():
    parameters = LKBParameters(td50_gy=50.0, m=0.1, n=0.5)
    with pytest.raises(RadiobiologyError, match="give both n_fractions and alpha_beta_gy"):
        lkb_ntcp(_organ(), parameters, n_fractions=5)
    with pytest.raises(RadiobiologyError, match="give both"):
        lkb_ntcp(_organ(), parameters, alpha_beta_gy=3.0)
    with pytest.raises(RadiobiologyError, match="n_fractions must be a positive integer"):
        lkb_ntcp(_organ(), parameters, n_fractions=0, alpha_beta_gy=3.0)
    with pytest.raises(RadiobiologyError, match="needs LKBParameters"):
        lkb_ntcp(_organ(), {"td50_gy": 50, "m": 0.1, "n": 0.5})
    with pytest.raises(RadiobiologyError, match="needs a rtwin DVH"):
        lkb_ntcp(np.ones(3), parameters)
    for keywords, name in (
        ({"td50_gy": 0.0, "m": 0.1, "n": 0.5}, "td50_gy"),
        ({"td50_gy": 50.0, "m": -0.1, "n": 0.5}, "slope parameter m"),
        ({"td50_gy": 50.0, "m": 0.1, "n": math.nan}, "volume parameter n"),
        ({"td50_gy": "50", "m": 0.1, "n": 0.5}, "td50_gy"),
    ):
        with pytest.raises(RadiobiologyError, match=name):
            LKBParameters(**keywords)
    with pytest.raises(RadiobiologyError, match="must be a str"):
        LKBParameters(td50_gy=50.0, m=0.1, n=0.5, source=None)
    with pytest.raises(RadiobiologyError, match="gEUD must be a finite dose"):
        parameters.ntcp(-1.0)
