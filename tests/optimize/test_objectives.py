"""Objectives: gradients vs finite differences, hand-computed values, goals met, messages."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rtwin
from rtwin.errors import OptimizationError
from rtwin.optimize import (
    GEUD,
    MaxDose,
    MaxDVH,
    MeanDose,
    MinDose,
    MinDVH,
    Objective,
    SquaredDeviation,
    SquaredOverdose,
    SquaredUnderdose,
)

# Random doses are uniform in [30, 70] Gy; every objective below is active there
# (its penalty is non-zero), so the gradient check tests the non-trivial branch.
ACTIVE = [
    SquaredDeviation("PTV", dose_gy=50.0, weight=3.0),
    SquaredOverdose("OAR", dose_gy=50.0, weight=2.0),
    SquaredUnderdose("PTV", dose_gy=50.0, weight=2.0),
    MaxDose("OAR", dose_gy=60.0, weight=0.5),
    MinDose("PTV", dose_gy=40.0, weight=0.5),
    MeanDose("OAR", dose_gy=40.0, weight=2.0),
    MaxDVH("OAR", dose_gy=45.0, volume_fraction=0.3, weight=4.0),
    MinDVH("PTV", dose_gy=55.0, volume_fraction=0.8, weight=4.0),
    GEUD("OAR", dose_gy=45.0, a=8.0, weight=2.0),
    GEUD("OAR", dose_gy=30.0, a=0.5, weight=2.0),
    GEUD("PTV", dose_gy=55.0, a=-10.0, weight=2.0),
]
IDS = [f"{type(o).__name__}-{getattr(o, 'a', '')}" for o in ACTIVE]


def _thresholds(objective: Objective) -> list[float]:
    return [objective.dose_gy]  # type: ignore[attr-defined]


def _doses_away_from_kinks(
    rng: np.random.Generator, n: int, thresholds: list[float], gap: float = 1e-3
) -> np.ndarray:
    """Uniform doses in [30, 70] Gy, no two within ``gap`` and none within ``gap`` of a threshold.

    DVH objectives switch sets when two voxels swap ranks or a voxel crosses
    the dose level; away from those points every objective is smooth.
    """
    while True:
        dose = rng.uniform(30.0, 70.0, n)
        points = np.sort(np.concatenate([dose, thresholds]))
        if np.diff(points).min() > gap:
            return dose


def _central_differences(objective, dose, volumes, step=1e-5):
    gradient = np.empty_like(dose)
    for i in range(dose.size):
        up, down = dose.copy(), dose.copy()
        up[i] += step
        down[i] -= step
        gradient[i] = (objective.value(up, volumes) - objective.value(down, volumes)) / (2 * step)
    return gradient


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("with_volumes", [False, True], ids=["equal", "volumes"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("objective", ACTIVE, ids=IDS)
def test_gradient_matches_central_differences(objective, seed, with_volumes):
    rng = np.random.default_rng(seed)
    n = 25
    dose = _doses_away_from_kinks(rng, n, _thresholds(objective))
    volumes = None
    if with_volumes:
        volumes = rng.uniform(0.2, 1.0, n)
        volumes[rng.integers(n)] = 0.0  # a voxel of the grid that misses the structure
    value, gradient = objective.value_and_gradient(dose, volumes)
    assert value > 0.0  # the active branch
    numeric = _central_differences(objective, dose, volumes)
    scale = np.abs(numeric).max()
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-6 * scale)


@given(seed=st.integers(0, 10_000), n=st.integers(1, 40), with_volumes=st.booleans())
@settings(max_examples=40, deadline=None)
def test_value_gradient_and_value_and_gradient_agree(seed, n, with_volumes):
    rng = np.random.default_rng(seed)
    dose = rng.uniform(0.0, 80.0, n)
    volumes = rng.uniform(0.0, 2.0, n) if with_volumes else None
    if volumes is not None:
        volumes[0] += 0.1  # a positive total
    before = dose.copy()
    for objective in ACTIVE:
        value, gradient = objective.value_and_gradient(dose, volumes)
        assert isinstance(value, float) and value >= 0.0
        assert gradient.dtype == np.float64 and gradient.shape == dose.shape
        assert np.all(np.isfinite(gradient))
        assert objective.value(dose, volumes) == value
        np.testing.assert_array_equal(objective.gradient(dose, volumes), gradient)
    np.testing.assert_array_equal(dose, before)  # arguments are never changed


@given(seed=st.integers(0, 10_000), factor=st.floats(1e-3, 1e3))
@settings(max_examples=30, deadline=None)
def test_only_relative_volumes_matter(seed, factor):
    rng = np.random.default_rng(seed)
    dose = rng.uniform(30.0, 70.0, 12)
    volumes = rng.uniform(0.1, 1.0, 12)
    for objective in ACTIVE:
        value, gradient = objective.value_and_gradient(dose, volumes)
        scaled_value, scaled_gradient = objective.value_and_gradient(dose, factor * volumes)
        assert scaled_value == pytest.approx(value, rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(scaled_gradient, gradient, rtol=1e-9, atol=1e-12)
        # equal volumes are the same as no volumes
        equal = objective.value_and_gradient(dose, np.full(12, factor))
        assert equal[0] == pytest.approx(objective.value(dose), rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(equal[1], objective.gradient(dose), rtol=1e-9, atol=1e-12)


def test_objective_values_do_not_grow_with_the_number_of_voxels():
    """Averaged objectives: the same dose pattern repeated gives the same value (as matRad).

    Ten voxels, so that the DVH volume fractions (0.3, 0.8) are whole voxels.
    """
    dose = np.array([45.5, 52.0, 58.0, 61.0, 38.0, 66.0, 49.0, 57.0, 63.0, 42.0])
    for objective in ACTIVE:
        if isinstance(objective, MaxDose | MinDose):
            continue  # a soft maximum, not an average (documented)
        assert objective.value(np.tile(dose, 7)) == pytest.approx(objective.value(dose))


# --------------------------------------------------------------------------- hand-computed
def test_squared_deviation_by_hand():
    objective = SquaredDeviation("PTV", dose_gy=50.0, weight=2.0)
    # volume fractions 1/4, 3/4: 2 · (¼ · 2² + ¾ · 2²) = 8; gradient 2 · 2 · (¼ · −2, ¾ · 2)
    value, gradient = objective.value_and_gradient([48.0, 52.0], [1.0, 3.0])
    assert value == pytest.approx(8.0)
    np.testing.assert_allclose(gradient, [-2.0, 6.0])


def test_squared_overdose_and_underdose_by_hand():
    over = SquaredOverdose("OAR", dose_gy=50.0, weight=3.0)
    # 3 · (0 + 5² + 10²) / 3 = 125; gradient 2 · 3 / 3 · (0, 5, 10)
    value, gradient = over.value_and_gradient([40.0, 55.0, 60.0])
    assert value == pytest.approx(125.0)
    np.testing.assert_allclose(gradient, [0.0, 10.0, 20.0])
    under = SquaredUnderdose("PTV", dose_gy=50.0)
    # fractions ½, ¼, ¼: ½ · 5² = 12.5; gradient 2 · ½ · (−5) on the cold voxel
    value, gradient = under.value_and_gradient([45.0, 50.0, 55.0], [2.0, 1.0, 1.0])
    assert value == pytest.approx(12.5)
    np.testing.assert_allclose(gradient, [-5.0, 0.0, 0.0])


def test_max_and_min_dose_by_hand():
    assert MaxDose.exponent == MinDose.exponent == 8
    objective = MaxDose("OAR", dose_gy=50.0)
    # overdoses (0, 2, 4): f = (2⁸ + 4⁸)^(2/8) = 65792^(1/4) ≈ 16.0156, just above 4² = 16
    value, gradient = objective.value_and_gradient([50.0, 52.0, 54.0])
    assert value == pytest.approx(65792.0**0.25, rel=1e-12)
    # ∂f/∂dᵢ = 2 (Σ eᵖ)^(2/p − 1) eᵢ^(p−1) = 2 · 65792^(−3/4) · eᵢ⁷
    np.testing.assert_allclose(gradient, 2 * 65792.0**-0.75 * np.array([0.0, 2.0**7, 4.0**7]))
    # partial voxel: u = v / max v = (1, ½), both 3 Gy over: ((1 + ½) · 3⁸)^(1/4) = 1.5^(1/4) · 9
    assert objective.value([53.0, 53.0], [1.0, 0.5]) == pytest.approx(1.5**0.25 * 9.0)
    # one voxel over: exactly the squared overdose of the maximum
    assert objective.value([20.0, 53.0, 49.0]) == pytest.approx(9.0)
    minimum = MinDose("PTV", dose_gy=50.0, weight=2.0)
    # underdoses (4, 0, 1): 2 · (4⁸ + 1)^(1/4); gradient −2 · 2 · (4⁸ + 1)^(−3/4) · (4⁷, 0, 1)
    value, gradient = minimum.value_and_gradient([46.0, 55.0, 49.0])
    assert value == pytest.approx(2 * (4.0**8 + 1) ** 0.25)
    np.testing.assert_allclose(gradient, -4 * (4.0**8 + 1) ** -0.75 * np.array([4.0**7, 0, 1]))


@given(
    dose=st.lists(st.floats(0.0, 100.0), min_size=1, max_size=30),
    limit=st.floats(0.0, 100.0),
    weight=st.floats(0.1, 10.0),
)
@settings(max_examples=60, deadline=None)
def test_max_dose_bounds_the_squared_overdose_of_the_maximum(dose, limit, weight):
    dose = np.array(dose)
    value = MaxDose("OAR", dose_gy=limit, weight=weight).value(dose)
    worst = max(dose.max() - limit, 0.0)
    n_over = int(np.count_nonzero(dose > limit))
    assert value >= weight * worst**2 * (1 - 1e-12)
    assert value <= weight * n_over ** (2 / 8) * worst**2 * (1 + 1e-12)


def test_mean_dose_by_hand():
    objective = MeanDose("OAR", dose_gy=30.0, weight=2.0)
    # fractions ¼, ¼, ½: mean = 5 + 7.5 + 20 = 32.5; f = 2 · 2.5² = 12.5
    value, gradient = objective.value_and_gradient([20.0, 30.0, 40.0], [1.0, 1.0, 2.0])
    assert value == pytest.approx(12.5)
    np.testing.assert_allclose(gradient, 2 * 2 * 2.5 * np.array([0.25, 0.25, 0.5]))
    # one-sided: a mean below the limit costs nothing (matRad's two-sided form would not be 0)
    assert objective.value([10.0, 20.0]) == 0.0


def test_max_dvh_by_hand():
    dose = [70.0, 65.0, 62.0, 50.0, 40.0]
    # 40 % of 5 voxels = 2 may exceed 60 Gy: 70 and 65 are allowed, 62 must come down
    objective = MaxDVH("OAR", dose_gy=60.0, volume_fraction=0.4, weight=1.0)
    value, gradient = objective.value_and_gradient(dose)
    assert value == pytest.approx(2.0**2 / 5)
    np.testing.assert_allclose(gradient, [0, 0, 2 * 2.0 / 5, 0, 0])
    # 60 % may exceed: 3 voxels do, the goal is met
    assert MaxDVH("OAR", dose_gy=60.0, volume_fraction=0.6).value(dose) == 0.0
    # volumes (½, 1, 1, 1, 1), total 4.5, allowed 1.8: cumulative ½, 1½, 2½ → 62 Gy penalized
    value = objective.value(dose, [0.5, 1, 1, 1, 1])
    assert value == pytest.approx(2.0**2 / 4.5)
    # all of the volume may exceed 60 Gy: always met
    assert MaxDVH("OAR", dose_gy=60.0, volume_fraction=1.0).value(dose) == 0.0


def test_min_dvh_by_hand():
    dose = [55.0, 52.0, 48.0, 45.0, 30.0]
    # 80 % = 4 voxels must reach 50 Gy; 2 do; 48 and 45 are required, 30 is not
    objective = MinDVH("PTV", dose_gy=50.0, volume_fraction=0.8)
    value, gradient = objective.value_and_gradient(dose)
    assert value == pytest.approx((2.0**2 + 5.0**2) / 5)  # 5.8
    np.testing.assert_allclose(gradient, [0, 0, 2 * -2.0 / 5, 2 * -5.0 / 5, 0])
    # 40 % must reach 50 Gy: 2 of 5 do
    assert MinDVH("PTV", dose_gy=50.0, volume_fraction=0.4).value(dose) == 0.0
    # volumes (1, 1, 1, 1, 3), total 7, required 5.6: 48 starts at 2, 45 at 3, 30 at 4 < 5.6
    value = objective.value(dose, [1, 1, 1, 1, 3])
    assert value == pytest.approx((2.0**2 + 5.0**2 + 3 * 20.0**2) / 7)


def test_geud_by_hand():
    # a = −1: gEUD = ((1/25 + 1/100) / 2)⁻¹ = 40 Gy; below 50 Gy: f = (40 − 50)² = 100
    objective = GEUD("PTV", dose_gy=50.0, a=-1.0)
    value, gradient = objective.value_and_gradient([25.0, 100.0])
    assert value == pytest.approx(100.0)
    # ∂f/∂dᵢ = 2 (gEUD − D) vᵢ (dᵢ / gEUD)^(a−1) = 2 · (−10) · ½ · (40 / dᵢ)²
    np.testing.assert_allclose(gradient, [-10 * (40 / 25) ** 2, -10 * (40 / 100) ** 2])
    # a = 2, fractions ¼, ¾: gEUD = √(¼ · 10² + ¾ · 30²) = √700; above 20 Gy
    value = GEUD("OAR", dose_gy=20.0, a=2.0).value([10.0, 30.0], [1.0, 3.0])
    assert value == pytest.approx((math.sqrt(700.0) - 20.0) ** 2)


@given(
    dose=st.lists(st.floats(0.5, 80.0), min_size=1, max_size=30),
    weight=st.floats(0.1, 10.0),
)
@settings(max_examples=60, deadline=None)
def test_geud_identities(dose, weight):
    dose = np.array(dose)

    def geud(a):  # with D = 0 and a > 0 the value is w · gEUD²
        return math.sqrt(GEUD("OAR", dose_gy=0.0, a=a, weight=weight).value(dose) / weight)

    assert geud(1.0) == pytest.approx(dose.mean(), rel=1e-9)
    assert geud(500.0) == pytest.approx(dose.max(), rel=0.01)
    assert geud(500.0) <= dose.max() * (1 + 1e-9)
    # a large negative a approaches the minimum: D above it, f = w (gEUD − D)²
    limit = 100.0
    low = GEUD("PTV", dose_gy=limit, a=-500.0, weight=weight).value(dose)
    assert limit - math.sqrt(low / weight) == pytest.approx(dose.min(), rel=0.01)


def test_geud_is_safe_for_large_a_and_zero_dose():
    dose = np.array([0.0, 1e-3, 20.0, 70.0])
    for a in (-80.0, -1.0, 0.3, 1.0, 3.0, 150.0):
        value, gradient = GEUD("X", dose_gy=10.0, a=a).value_and_gradient(dose)
        assert math.isfinite(value) and np.all(np.isfinite(gradient))
    # a cold target voxel (zero dose) is pushed up, not ignored
    _, gradient = GEUD("PTV", dose_gy=50.0, a=-10.0).value_and_gradient(dose)
    assert gradient[0] < 0.0
    # no dose at all in an organ at risk: nothing to penalize
    value, gradient = GEUD("OAR", dose_gy=0.0, a=4.0).value_and_gradient(np.zeros(3))
    assert value == 0.0 and not gradient.any()


# --------------------------------------------------------------------------- goals met
_volumes = st.lists(st.integers(0, 4), min_size=1, max_size=25)
_fraction = st.sampled_from([0.1, 0.25, 0.3, 0.5, 0.75, 0.9, 0.95, 1.0])


@given(data=st.data(), level=st.integers(30, 70), fraction=_fraction)
@settings(max_examples=100, deadline=None)
def test_values_are_zero_exactly_when_the_goal_is_met(data, level, fraction):
    volumes = np.array(data.draw(_volumes), dtype=float)
    volumes[0] += 1.0  # a positive total
    # doses on a 1 Gy lattice so that "at the level" happens
    dose = np.array(
        data.draw(st.lists(st.integers(20, 80), min_size=volumes.size, max_size=volumes.size)),
        dtype=float,
    )
    counted = volumes > 0
    total = volumes.sum()
    mean = float(volumes @ dose) / total
    above = volumes[dose > level].sum() / total
    at_or_above = volumes[dose >= level].sum() / total
    tolerance = 1e-9
    goals = {
        SquaredDeviation("S", dose_gy=level): bool(np.all(dose[counted] == level)),
        SquaredOverdose("S", dose_gy=level): bool(dose[counted].max() <= level),
        SquaredUnderdose("S", dose_gy=level): bool(dose[counted].min() >= level),
        MaxDose("S", dose_gy=level): bool(dose[counted].max() <= level),
        MinDose("S", dose_gy=level): bool(dose[counted].min() >= level),
        MeanDose("S", dose_gy=level): mean <= level,
        MaxDVH("S", dose_gy=level, volume_fraction=fraction): above <= fraction + tolerance,
        MinDVH("S", dose_gy=level, volume_fraction=fraction): at_or_above >= fraction - tolerance,
    }
    for objective, met in goals.items():
        value = objective.value(dose, volumes)
        assert (value == 0.0) == met, (str(objective), value)
        if met:
            assert not objective.gradient(dose, volumes).any()


def test_min_dvh_of_the_whole_volume_is_the_squared_underdose():
    rng = np.random.default_rng(5)
    dose, volumes = rng.uniform(30, 70, 50), rng.uniform(0, 1, 50)
    whole = MinDVH("PTV", dose_gy=55.0, volume_fraction=1.0, weight=3.0)
    under = SquaredUnderdose("PTV", dose_gy=55.0, weight=3.0)
    assert whole.value(dose, volumes) == pytest.approx(under.value(dose, volumes))
    np.testing.assert_allclose(whole.gradient(dose, volumes), under.gradient(dose, volumes))


def test_geud_side_follows_the_sign_of_a():
    dose = [40.0, 60.0]  # gEUD between 40 and 60 Gy for any a
    assert GEUD("OAR", dose_gy=30.0, a=4.0).value(dose) > 0.0  # above an upper limit
    assert GEUD("OAR", dose_gy=70.0, a=4.0).value(dose) == 0.0
    assert GEUD("PTV", dose_gy=70.0, a=-4.0).value(dose) > 0.0  # below a lower limit
    assert GEUD("PTV", dose_gy=30.0, a=-4.0).value(dose) == 0.0


# --------------------------------------------------------------------------- contracts
def test_construction_is_positional_structure_then_keywords():
    objective = SquaredDeviation("PTV", dose_gy=50.0, weight=1000.0)
    assert (objective.structure, objective.dose_gy, objective.weight) == ("PTV", 50.0, 1000.0)
    assert SquaredOverdose("Core", dose_gy=25).weight == 1.0
    with pytest.raises(TypeError):
        SquaredDeviation("PTV", 50.0)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        objective.weight = 2.0  # type: ignore[misc]
    assert dataclasses.replace(objective, weight=5.0).weight == 5.0
    # numbers are stored as float; equal objectives are equal and hashable
    assert type(SquaredDeviation("PTV", dose_gy=np.float32(50)).dose_gy) is float
    assert len({objective, SquaredDeviation("PTV", dose_gy=50, weight=1000)}) == 1
    assert all(isinstance(o, Objective) for o in ACTIVE)


def test_descriptions():
    assert str(SquaredDeviation("PTV", dose_gy=50.0, weight=1000.0)) == (
        "PTV: squared deviation from 50 Gy (weight 1000)"
    )
    assert SquaredOverdose("Core", dose_gy=25.0, weight=300.0).describe() == (
        "Core: squared overdose above 25 Gy (weight 300)"
    )
    assert str(MaxDVH("Rectum", dose_gy=60.0, volume_fraction=0.2)) == (
        "Rectum: at most 20 % of the volume above 60 Gy (weight 1)"
    )
    assert str(MinDVH("PTV", dose_gy=47.5, volume_fraction=0.95)) == (
        "PTV: at least 95 % of the volume at or above 47.5 Gy (weight 1)"
    )
    assert (
        str(GEUD("PTV", dose_gy=50.0, a=-10.0)) == "PTV: gEUD (a = -10) at least 50 Gy (weight 1)"
    )
    for objective in ACTIVE:
        assert str(objective).startswith(f"{objective.structure}: ")


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda: SquaredDeviation("PTV", dose_gy=50.0, weight=0.0),
            r"weight must be .* > 0; got 0\.0",
        ),
        (lambda: SquaredDeviation("PTV", dose_gy=50.0, weight=-2.0), r"weight=1\.0"),
        (lambda: SquaredOverdose("Core", dose_gy=math.inf), r"Core.*dose_gy .*got inf"),
        (
            lambda: MaxDose("Cord", dose_gy=-1.0),
            r"dose_gy must be a finite dose in Gy >= 0; got -1",
        ),
        (lambda: MeanDose("P", dose_gy=math.nan), "dose_gy"),
        (lambda: MaxDVH("R", dose_gy=60, volume_fraction=0.0), r"volume_fraction .*\(0, 1\]"),
        (lambda: MinDVH("P", dose_gy=60, volume_fraction=95.0), "volume_fraction=0.95"),
        (lambda: GEUD("Cord", dose_gy=20.0, a=0.0), r"a must be a finite non-zero number; got 0"),
        (lambda: GEUD("Cord", dose_gy=20.0, a=math.inf), "a must be"),
        (lambda: SquaredDeviation("PTV", dose_gy="50"), r"dose_gy .*got '50'"),  # type: ignore[arg-type]
        (lambda: SquaredDeviation("PTV", dose_gy=50, weight=True), "weight"),
        (lambda: SquaredDeviation("", dose_gy=50.0), "structure must be a non-empty"),
        (lambda: SquaredDeviation(None, dose_gy=50.0), "structure"),  # type: ignore[arg-type]
    ],
)
def test_invalid_parameters_raise_with_the_field_and_the_fix(build, match):
    with pytest.raises(OptimizationError, match=match):
        build()


def test_invalid_arrays_raise_naming_the_structure():
    objective = SquaredDeviation("PTV", dose_gy=50.0)
    with pytest.raises(OptimizationError, match=r"on structure 'PTV': the structure has no voxels"):
        objective.value(np.array([]))
    with pytest.raises(OptimizationError, match=r"'Core'.*empty"):
        MaxDVH("Core", dose_gy=1, volume_fraction=0.5).value_and_gradient([])
    with pytest.raises(OptimizationError, match=r"1-D .*got shape \(2, 2\)"):
        objective.value(np.ones((2, 2)))
    with pytest.raises(OptimizationError, match="NaN or infinite"):
        objective.gradient([1.0, np.nan])
    with pytest.raises(OptimizationError, match=r"volumes must have the shape of dose \(2,\)"):
        objective.value([1.0, 2.0], [1.0])
    with pytest.raises(OptimizationError, match=">= 0"):
        objective.value([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(OptimizationError, match="sum to zero"):
        objective.value([1.0, 2.0], [0.0, 0.0])
    assert issubclass(OptimizationError, ValueError)


def test_public_face():
    assert set(rtwin.optimize.__all__) >= {
        "Objective",
        "SquaredDeviation",
        "SquaredOverdose",
        "SquaredUnderdose",
        "MaxDose",
        "MinDose",
        "MeanDose",
        "MinDVH",
        "MaxDVH",
        "GEUD",
    }
    assert "optimize" in dir(rtwin)
