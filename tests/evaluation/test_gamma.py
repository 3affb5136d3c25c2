"""Gamma index: kernel vs a brute-force twin, analytic cases, errors, and the ENT reference case."""

from __future__ import annotations

import gzip
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from rtwin.dose import Dose
from rtwin.errors import EvaluationError
from rtwin.evaluation import GammaResult, gamma
from rtwin.evaluation._gamma import _search_offsets
from rtwin.evaluation._kernels import window_bounds
from rtwin.geometry import Grid

# ---------------------------------------------------------------------------- the numpy twin


def lattice_offsets_mm(step_mm: float, radius_mm: float) -> np.ndarray:
    """Every point of the cubic lattice of spacing ``step_mm`` within ``radius_mm`` (brute force)."""
    n = int(radius_mm / step_mm) + 1
    points = [
        (a * step_mm, b * step_mm, c * step_mm)
        for a in range(-n, n + 1)
        for b in range(-n, n + 1)
        for c in range(-n, n + 1)
        if a * a + b * b + c * c <= (radius_mm / step_mm) ** 2 + 1e-9
    ]
    return np.array(points, dtype=np.float64)


def naive_gamma(
    reference: Dose,
    evaluated: Dose,
    offsets_mm: np.ndarray,
    *,
    dose_percent: float,
    distance_mm: float,
    local: bool = False,
    lower_cutoff_percent: float = 10.0,
    max_gamma: float = 2.0,
) -> np.ndarray:
    """Gamma by the definition: every search point of every voxel, scipy's linear interpolation."""
    normalization = float(reference.values.max())
    cutoff = lower_cutoff_percent / 100.0 * normalization
    upper = np.array(evaluated.grid.size_xyz, dtype=np.float64) - 1.0
    values = evaluated.values.astype(np.float64)
    out = np.full(reference.grid.shape, np.nan)
    centres = reference.grid.voxel_centers_mm()
    for k, j, i in np.ndindex(reference.grid.shape):
        dose = float(reference.values[k, j, i])
        if dose < cutoff or (local and dose <= 0):
            continue
        points = centres[k, j, i] + offsets_mm
        index = evaluated.grid.patient_to_index(points)
        inside = np.all((index >= -1e-9) & (index <= upper + 1e-9), axis=1)
        if not inside.any():
            continue
        index = np.clip(index[inside], 0.0, upper)
        sampled = ndimage.map_coordinates(values, index[:, ::-1].T, order=1, mode="nearest")
        tolerance = dose_percent / 100.0 * (dose if local else normalization)
        squared = (
            np.sum(offsets_mm[inside] ** 2, axis=1) / distance_mm**2
            + ((sampled - dose) / tolerance) ** 2
        )
        out[k, j, i] = math.sqrt(min(squared.min(), max_gamma**2))
    return out


def naive_window_bounds(values: np.ndarray, width: int) -> np.ndarray:
    """Least and greatest of every ``values[k:k+w, j:j+w, i:i+w]`` window, one at a time."""
    out = np.empty((*values.shape, 2), dtype=np.float32)
    for k, j, i in np.ndindex(values.shape):
        window = values[k : k + width, j : j + width, i : i + width]
        out[k, j, i] = window.min(), window.max()
    return out


def _random_dose(rng: np.random.Generator, grid: Grid, smooth: bool) -> Dose:
    values = rng.uniform(0.0, 10.0, grid.shape)
    if smooth:
        values = ndimage.gaussian_filter(values, 1.0) * 3.0
    return Dose(values=values, grid=grid)


def _oblique(angle_deg: float) -> np.ndarray:
    angle = math.radians(angle_deg)
    return np.array(
        [
            [math.cos(angle), -math.sin(angle), 0.0],
            [math.sin(angle), math.cos(angle), 0.0],
            [0.0, 0.0, 1.0],
        ]
    )


SAME = Grid.from_spacing((5, 6, 7), spacing_mm=(2.0, 2.5, 3.0), origin_mm=(-7.0, -6.0, -6.0))
CASES = {
    "same grid": (SAME, SAME),
    "shifted finer": (
        SAME,
        Grid.from_spacing((8, 9, 11), spacing_mm=1.7, origin_mm=(-8.2, -7.1, -6.3)),
    ),
    "oblique": (
        SAME,
        Grid.from_spacing(
            (6, 7, 7),
            spacing_mm=(2.2, 2.0, 2.4),
            origin_mm=(-5.0, -9.0, -7.0),
            direction=_oblique(20),
        ),
    ),
    "evaluated smaller": (
        SAME,
        Grid.from_spacing((3, 3, 4), spacing_mm=2.0, origin_mm=(-2.0, -2.0, -1.0)),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("local", [False, True])
@pytest.mark.parametrize("smooth", [False, True])
def test_kernel_matches_the_numpy_twin(case, local, smooth):
    reference_grid, evaluated_grid = CASES[case]
    rng = np.random.default_rng([list(CASES).index(case), local, smooth])
    reference = _random_dose(rng, reference_grid, smooth)
    evaluated = _random_dose(rng, evaluated_grid, smooth)
    settings_ = dict(
        dose_percent=8.0, distance_mm=3.0, local=local, lower_cutoff_percent=20.0, max_gamma=2.5
    )
    result = gamma(reference, evaluated, search_step_mm=0.75, **settings_)
    expected = naive_gamma(reference, evaluated, lattice_offsets_mm(0.75, 7.5), **settings_)
    np.testing.assert_array_equal(np.isnan(result.values), np.isnan(expected))
    np.testing.assert_allclose(result.values, expected, rtol=1e-6, atol=1e-9)
    assert result.n_evaluated == np.count_nonzero(~np.isnan(expected))
    below_cutoff = reference.values < 0.2 * reference.values.max()
    if case == "evaluated smaller":  # some voxels have no search point inside the evaluated grid
        assert np.count_nonzero(np.isnan(expected)) > np.count_nonzero(below_cutoff)
    else:
        assert 0 < result.n_passed < result.n_evaluated  # both branches exercised


@pytest.mark.parametrize("width", [2, 3])
@pytest.mark.parametrize("shape", [(5, 6, 7), (1, 3, 2), (4, 1, 5)])
def test_window_bounds_match_the_numpy_twin(shape, width):
    values = np.random.default_rng(width).uniform(0.0, 70.0, shape).astype(np.float32)
    np.testing.assert_array_equal(window_bounds(values, width), naive_window_bounds(values, width))


def test_kernel_matches_the_twin_on_pymedphys_shells():
    rng = np.random.default_rng(5)
    reference_grid, evaluated_grid = CASES["shifted finer"]
    reference = _random_dose(rng, reference_grid, smooth=True)
    evaluated = _random_dose(rng, evaluated_grid, smooth=True)
    result = gamma(reference, evaluated, search_step_mm=0.6, search_pattern="shells")
    offsets = _search_offsets("shells", step_mm=0.6, radius_mm=6.0)
    expected = naive_gamma(reference, evaluated, offsets, dose_percent=3.0, distance_mm=3.0)
    np.testing.assert_allclose(result.values, expected, rtol=1e-6, atol=1e-9)


def test_the_lattice_is_the_brute_force_lattice():
    got = _search_offsets("lattice", step_mm=0.3, radius_mm=6.0)
    expected = lattice_offsets_mm(0.3, 6.0)
    assert len(got) == len(expected) == 33401
    np.testing.assert_allclose(
        got[np.lexsort(got.T)], expected[np.lexsort(expected.T)], rtol=0, atol=1e-12
    )


def test_shells_are_pymedphys_spheres_with_gaps_no_larger_than_the_step():
    step = 0.3
    offsets = _search_offsets("shells", step_mm=step, radius_mm=6.0)
    radii = np.linalg.norm(offsets, axis=1)
    np.testing.assert_allclose(radii / step, np.round(radii / step), atol=1e-9)
    assert radii.max() == pytest.approx(6.0)
    # On each sphere, every direction has a search point within a step (polar rows and azimuths).
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(200, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    for shell in (1, 7, 20):
        on_shell = offsets[np.isclose(radii, shell * step)]
        gaps = np.min(
            np.linalg.norm(directions[:, None] * shell * step - on_shell[None], axis=2), axis=1
        )
        assert gaps.max() <= step


# ---------------------------------------------------------------------------- properties


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(*[st.integers(1, 6)] * 3),
    spacing=st.tuples(*[st.floats(0.5, 4.0)] * 3),
    seed=st.integers(0, 2**32 - 1),
    local=st.booleans(),
    dose_percent=st.floats(0.5, 5.0),
    distance_mm=st.floats(0.5, 5.0),
)
def test_a_dose_against_itself_passes_everywhere(
    shape, spacing, seed, local, dose_percent, distance_mm
):
    grid = Grid.from_spacing(shape, spacing_mm=spacing, origin_mm=(-3.0, 1.0, 2.0))
    values = np.random.default_rng(seed).uniform(0.0, 70.0, shape)
    dose = Dose(values=values, grid=grid)
    result = gamma(
        dose,
        dose,
        dose_percent=dose_percent,
        distance_mm=distance_mm,
        local=local,
        lower_cutoff_percent=0.0,
        search_step_mm=distance_mm / 2,
    )
    evaluated = ~np.isnan(result.values)
    assert result.pass_rate == 100.0
    assert np.all(result.values[evaluated] == 0.0)
    assert result.n_evaluated == np.count_nonzero(values > 0 if local else values >= 0)


# A uniform gradient along x: 60 Gy + 2 Gy/mm · x, on a 2 mm grid; voxels 7 mm away from
# every face see only the linear part within the 6 mm search radius.
RAMP = Grid.from_spacing((12, 12, 12), spacing_mm=2.0, origin_mm=(-11.0, -11.0, -11.0))
RAMP_X = RAMP.voxel_centers_mm()[..., 0]
INTERIOR = np.zeros(RAMP.shape, dtype=bool)
INTERIOR[4:-4, 4:-4, 4:-4] = True


def _ramp(shift_mm: float = 0.0, gradient_gy_per_mm: float = 2.0) -> Dose:
    return Dose(values=60.0 + gradient_gy_per_mm * (RAMP_X - shift_mm), grid=RAMP)


@pytest.mark.parametrize("shift_mm", [0.6, 1.5, 2.4, 4.5])
def test_a_shift_in_a_steep_gradient_gives_shift_over_dta(shift_mm):
    # 2 Gy/mm against 3 % of ~84 Gy: the dose axis alone costs far more than the shift.
    result = gamma(_ramp(), _ramp(shift_mm), normalization_gy=10.0, lower_cutoff_percent=0.0)
    np.testing.assert_allclose(result.values[INTERIOR], shift_mm / 3.0, rtol=1e-8)


def test_a_shift_in_a_shallow_gradient_follows_the_continuous_minimum():
    # min over o of o²/DTA² + (g (o − s))²/ΔD²  =  s² / (DTA² + (ΔD/g)²)
    gradient, shift, tolerance = 0.1, 2.4, 0.3  # Gy/mm, mm, Gy (3 % of 10 Gy)
    reference, evaluated = _ramp(0.0, gradient), _ramp(shift, gradient)
    result = gamma(reference, evaluated, normalization_gy=10.0, lower_cutoff_percent=0.0)
    expected = shift / math.hypot(3.0, tolerance / gradient)
    np.testing.assert_allclose(result.values[INTERIOR], expected, rtol=2e-3)
    assert np.all(result.values[INTERIOR] >= expected * (1 - 1e-4))  # a lattice over-estimates


# Two flat plateaus (50 Gy for x < 0, 20 Gy for x > 0); voxels more than 7 mm from the step.
PLATEAUS = Grid.from_spacing((6, 6, 20), spacing_mm=2.0, origin_mm=(-19.0, -5.0, -5.0))
PLATEAU_X = PLATEAUS.voxel_centers_mm()[..., 0]
HIGH = PLATEAU_X < -7.0
LOW = PLATEAU_X > 7.0
TWO_LEVELS = Dose(values=np.where(PLATEAU_X < 0, 50.0, 20.0), grid=PLATEAUS)


def test_a_scale_gives_the_global_dose_difference_over_the_criterion():
    result = gamma(TWO_LEVELS, TWO_LEVELS.scaled(1.04), dose_percent=3.0, distance_mm=3.0)
    np.testing.assert_allclose(result.values[HIGH], 2.0 / 1.5, rtol=1e-5)  # 2 Gy vs 3 % of 50
    np.testing.assert_allclose(result.values[LOW], 0.8 / 1.5, rtol=1e-5)  # 0.8 Gy vs 1.5 Gy
    assert np.all(result.values[HIGH] > 1) and np.all(result.values[LOW] <= 1)


def test_local_gamma_judges_each_voxel_by_its_own_dose():
    result = gamma(TWO_LEVELS, TWO_LEVELS.scaled(1.02), dose_percent=3.0, local=True)
    np.testing.assert_allclose(result.values[HIGH | LOW], 2.0 / 3.0, rtol=1e-5)
    global_ = gamma(TWO_LEVELS, TWO_LEVELS.scaled(1.02), dose_percent=3.0)
    np.testing.assert_allclose(global_.values[LOW], 0.4 / 1.5, rtol=1e-5)


def test_normalization_sets_the_global_criterion():
    result = gamma(TWO_LEVELS, TWO_LEVELS.scaled(1.04), normalization_gy=100.0)
    np.testing.assert_allclose(result.values[HIGH], 2.0 / 3.0, rtol=1e-5)
    assert result.normalization_gy == 100.0 and result.cutoff_gy == pytest.approx(10.0)


def test_gamma_is_capped_at_max_gamma():
    uniform = Dose(values=np.full(PLATEAUS.shape, 50.0), grid=PLATEAUS)
    result = gamma(uniform, uniform.scaled(1.5), max_gamma=3.0)
    np.testing.assert_array_equal(result.values, 3.0)
    raised = gamma(uniform, uniform.scaled(1.5), max_gamma=20.0, search_step_mm=3.0)
    np.testing.assert_allclose(raised.values, 25.0 / 1.5, rtol=1e-5)


def test_the_lower_cutoff_applies_to_the_reference_only():
    values = np.linspace(0.0, 60.0, 20)[None, None, :] * np.ones((4, 4, 1))
    reference = Dose(values=values, grid=PLATEAUS.subgrid((slice(0, 4), slice(0, 4), slice(None))))
    evaluated = Dose(values=np.full(reference.grid.shape, 60.0), grid=reference.grid)
    result = gamma(reference, evaluated, lower_cutoff_percent=30.0)
    below = values < 18.0
    assert np.all(np.isnan(result.values[below])) and not np.any(np.isnan(result.values[~below]))
    assert result.n_evaluated == np.count_nonzero(~below)
    assert gamma(reference, evaluated, lower_cutoff_percent=0.0).n_evaluated == values.size


def test_points_outside_the_evaluated_grid_are_skipped_not_zero():
    evaluated = Dose(values=np.full(SAME.shape, 5.0), grid=SAME)
    bigger = SAME.padded(3)
    reference = Dose(values=np.full(bigger.shape, 5.0), grid=bigger)
    result = gamma(reference, evaluated, distance_mm=2.0, max_gamma=2.0)  # search radius 4 mm
    # Distance from each reference voxel to the evaluated grid's outer voxel centres.
    k, j, i = np.indices(bigger.shape)
    beyond = [
        np.maximum(0, np.maximum(3 - index, index - (3 + n - 1))) * spacing
        for index, n, spacing in zip((i, j, k), SAME.size_xyz, SAME.spacing_mm, strict=True)
    ]
    distance = np.sqrt(sum(b * b for b in beyond))
    assert np.all(result.values[distance == 0] == 0.0)
    assert np.all(np.isnan(result.values[distance > 4.0]))
    near = (distance > 0) & (distance < 3.5)
    assert np.all(result.values[near] <= (distance[near] + 0.35) / 2.0)
    assert np.all(result.values[near] >= distance[near] / 2.0 - 1e-9)


def test_the_result_is_frozen_and_summarized():
    result = gamma(TWO_LEVELS, TWO_LEVELS.scaled(1.04))
    assert isinstance(result, GammaResult)
    with pytest.raises(ValueError, match="read-only"):
        result.values[0, 0, 0] = 0.0
    assert result.values.shape == TWO_LEVELS.grid.shape and result.grid == TWO_LEVELS.grid
    expected_rate = 100.0 * result.n_passed / result.n_evaluated
    assert result.pass_rate == expected_rate
    assert "3 %/3 mm (global" in result.summary and f"{expected_rate:.2f} % pass" in result.summary
    assert (result.dose_percent, result.distance_mm, result.search_step_mm) == (3.0, 3.0, 0.3)
    assert (result.search_pattern, result.max_gamma, result.local) == ("lattice", 2.0, False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dose_percent": 0.0}, "dose_percent must be finite and > 0"),
        ({"distance_mm": "3"}, "distance_mm must be a number"),
        ({"max_gamma": 1.0}, "max_gamma must be finite and > 1"),
        ({"max_gamma": math.inf}, "max_gamma must be finite"),
        ({"lower_cutoff_percent": 100.0}, r"lower_cutoff_percent must be finite and in \[0, 100\)"),
        ({"search_step_mm": -0.1}, "search_step_mm must be finite and > 0"),
        ({"search_pattern": "grid"}, "unknown search_pattern 'grid'; valid: 'lattice', 'shells'"),
        ({"local": "yes"}, "local must be True or False"),
        ({"normalization_gy": 0.0}, "normalization_gy must be finite and > 0 Gy"),
        ({"normalization_gy": 1000.0}, "no reference voxel reaches the lower cutoff 100 Gy"),
        ({"max_gamma": 100.0}, "raise search_step_mm or lower max_gamma"),
    ],
)
def test_bad_settings_raise_with_the_setting_named(options, message):
    with pytest.raises(EvaluationError, match=message):
        gamma(TWO_LEVELS, TWO_LEVELS, **options)


def test_bad_inputs_raise():
    with pytest.raises(EvaluationError, match="gamma evaluated must be a rtwin Dose; got ndarray"):
        gamma(TWO_LEVELS, TWO_LEVELS.values)
    zero = Dose(values=np.zeros(SAME.shape), grid=SAME)
    with pytest.raises(EvaluationError, match="reference dose is zero everywhere"):
        gamma(zero, zero)
    far = Grid.from_spacing(SAME.shape, spacing_mm=2.0, origin_mm=(500.0, 0.0, 0.0))
    with pytest.raises(EvaluationError, match="does not reach any of the"):
        gamma(
            Dose(values=np.ones(SAME.shape), grid=SAME), Dose(values=np.ones(SAME.shape), grid=far)
        )


# ---------------------------------------------------------------------------- the ENT reference case


def read_nrrd_dose(path: Path) -> Dose:
    """A gzip float NRRD volume (SlicerRT test data) as a Dose; enough for these files only."""
    header, _, body = path.read_bytes().partition(b"\n\n")
    fields = dict(line.split(": ", 1) for line in header.decode().splitlines()[1:] if ": " in line)
    assert fields["type"] == "float" and fields["encoding"] == "gzip"
    assert fields["endian"] == "little" and fields["space"] == "left-posterior-superior"
    nx, ny, nz = (int(n) for n in fields["sizes"].split())
    values = np.frombuffer(gzip.decompress(body), dtype="<f4").reshape(nz, ny, nx)

    def vectors(text: str) -> list[list[float]]:
        return [[float(v) for v in group.split(",")] for group in re.findall(r"\(([^)]*)\)", text)]

    axes = np.array(vectors(fields["space directions"]))  # rows: the i, j, k steps in mm
    spacing = np.linalg.norm(axes, axis=1)
    grid = Grid.from_spacing(
        (nz, ny, nx),
        spacing_mm=spacing,
        origin_mm=vectors(fields["space origin"])[0],
        direction=(axes / spacing[:, None]).T,
    )
    return Dose(values=values, grid=grid)


@pytest.fixture(scope="module")
def ent(shared_data: Path) -> dict[str, Dose]:
    folder = shared_data / "dicom" / "slicerrt-eclipse-ent-gamma"
    if not folder.is_dir():
        pytest.skip("slicerrt-eclipse-ent-gamma is not present")
    return {
        "day1": read_nrrd_dose(folder / "EclipseEnt_Dose.nrrd"),
        "day2": read_nrrd_dose(folder / "EclipseEnt_Dose_Day2.nrrd"),
        "slicer": read_nrrd_dose(folder / "GammaVolume_EclipseEnt_Day1Day2_Baseline.nrrd"),
    }


@pytest.mark.shared_data
@pytest.mark.parametrize(("criterion", "pymedphys_percent"), [(3.0, 89.9), (2.0, 72.9)])
def test_ent_pass_rates_agree_with_pymedphys(ent, criterion, pymedphys_percent):
    result = gamma(ent["day1"], ent["day2"], dose_percent=criterion, distance_mm=criterion)
    assert result.n_evaluated == 88129
    assert abs(result.pass_rate - pymedphys_percent) <= 0.5


@pytest.mark.shared_data
def test_ent_with_pymedphys_shells_reproduces_pymedphys(ent):
    result = gamma(ent["day1"], ent["day2"], search_pattern="shells")
    assert result.pass_rate == pytest.approx(89.893, abs=0.05)  # pymedphys 0.41: 89.893 %


@pytest.mark.shared_data
def test_ent_voxel_centre_search_reproduces_the_slicerrt_baseline(ent):
    result = gamma(ent["day1"], ent["day2"], search_step_mm=2.5)
    evaluated = ~np.isnan(result.values)
    assert result.pass_rate == pytest.approx(80.90, abs=0.01)  # SOURCE.md
    np.testing.assert_allclose(result.values[evaluated], ent["slicer"].values[evaluated], atol=1e-5)
