"""DVH: contracts, exact metrics on hand-made DVHs, kernel vs numpy twin, monotonicity."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtwin.anatomy import Structure
from rtwin.dose import Dose
from rtwin.errors import EvaluationError
from rtwin.evaluation import DVH
from rtwin.evaluation._kernels import sample_dose
from rtwin.geometry import Grid


def _two_level() -> DVH:
    # 1 cc at 40 Gy, 1 cc at 60 Gy (given as two halves, unsorted)
    return DVH(name="Organ", doses_gy=[60.0, 40.0, 60.0], volumes_cc=[0.5, 1.0, 0.5])


# ---------------------------------------------------------------- construction


def test_construction_merges_equal_doses_and_sorts():
    dvh = _two_level()
    assert dvh.doses_gy.tolist() == [40.0, 60.0]
    assert dvh.volumes_cc.tolist() == [1.0, 1.0]
    assert not dvh.doses_gy.flags.writeable
    assert not dvh.volumes_cc.flags.writeable
    assert repr(dvh) == "DVH('Organ', 2 cc, 40-60 Gy, mean 50 Gy)"


def test_zero_volumes_are_dropped():
    dvh = DVH(name="Organ", doses_gy=[1.0, 99.0], volumes_cc=[2.0, 0.0])
    assert dvh.max_gy == 1.0


@pytest.mark.parametrize(
    ("doses", "volumes", "message"),
    [
        ([1.0, 2.0], [1.0], "2 doses but 1 volumes"),
        ([1.0, np.nan], [1.0, 1.0], "must be finite"),
        ([1.0, 2.0], [1.0, -1.0], "volumes must be >= 0 cc"),
        ([1.0], [0.0], "has no volume"),
        ([], [], "has no volume"),
    ],
)
def test_construction_errors(doses, volumes, message):
    with pytest.raises(EvaluationError, match=message):
        DVH(name="Organ", doses_gy=doses, volumes_cc=volumes)


def test_name_required():
    with pytest.raises(EvaluationError, match="name must be a non-empty string"):
        DVH(name=" ", doses_gy=[1.0], volumes_cc=[1.0])


# ---------------------------------------------------------------- metrics by hand


def test_summary_values():
    dvh = _two_level()
    assert dvh.volume_cc == 2.0
    assert dvh.mean_gy == 50.0
    assert (dvh.min_gy, dvh.max_gy) == (40.0, 60.0)


def test_volume_at_dose_counts_at_least():
    dvh = _two_level()
    assert dvh.volume_at_dose_cc(40.0) == 2.0
    assert dvh.volume_at_dose_cc(40.0001) == 1.0
    assert dvh.volume_at_dose_cc(60.0) == 1.0
    assert dvh.volume_at_dose_cc(60.0001) == 0.0
    assert dvh.volume_at_dose(0.0) == 1.0
    assert dvh.volume_at_dose(50.0) == 0.5


def test_dose_at_volume_interpolates_between_step_midpoints():
    dvh = _two_level()
    # midpoints: 60 Gy at 0.5 cc, 40 Gy at 1.5 cc
    assert dvh.dose_at_volume_cc(0.5) == 60.0
    assert dvh.dose_at_volume_cc(1.0) == 50.0
    assert dvh.dose_at_volume_cc(1.25) == 45.0
    assert dvh.dose_at_volume(0.0) == 60.0  # maximum
    assert dvh.dose_at_volume(0.1) == 60.0  # above the top step's mid-height
    assert dvh.dose_at_volume(1.0) == 40.0  # minimum
    assert dvh.dose_at_volume(0.5) == 50.0


def test_uniform_dose_gives_that_dose_everywhere():
    dvh = DVH(name="PTV", doses_gy=np.full(100, 2.0), volumes_cc=np.full(100, 0.027))
    assert dvh.doses_gy.size == 1
    assert dvh.dose_at_volume(0.95) == dvh.dose_at_volume(0.02) == 2.0
    assert dvh.volume_at_dose(2.0) == 1.0


def test_dose_at_volume_errors_name_the_problem():
    dvh = _two_level()
    with pytest.raises(EvaluationError, match=r"within 0-1; got 95 \(for a volume in cc"):
        dvh.dose_at_volume(95)
    with pytest.raises(
        EvaluationError, match=r"cannot take the dose to 3 cc of a 2 cc structure; the volume"
    ):
        dvh.dose_at_volume_cc(3.0)
    with pytest.raises(EvaluationError, match="volume must be finite"):
        dvh.dose_at_volume_cc(np.inf)
    with pytest.raises(EvaluationError, match="dose must be a number"):
        dvh.volume_at_dose("high")


def test_geud():
    dvh = _two_level()
    assert dvh.geud_gy(1.0) == pytest.approx(50.0)
    assert dvh.geud_gy(2.0) == pytest.approx(np.sqrt((40.0**2 + 60.0**2) / 2))
    assert dvh.geud_gy(-1.0) == pytest.approx(1.0 / ((1 / 40.0 + 1 / 60.0) / 2))
    assert dvh.geud_gy(200.0) == pytest.approx(60.0, abs=0.3)  # tends to the max, no overflow
    assert dvh.geud_gy(-200.0) == pytest.approx(40.0, abs=0.3)
    cold = DVH(name="PTV", doses_gy=[0.0, 50.0], volumes_cc=[1.0, 1.0])
    assert cold.geud_gy(-10.0) == 0.0
    with pytest.raises(EvaluationError, match="must be non-zero"):
        dvh.geud_gy(0.0)
    with pytest.raises(EvaluationError, match="needs doses >= 0"):
        DVH(name="Diff", doses_gy=[-1.0, 1.0], volumes_cc=[1.0, 1.0]).geud_gy(2.0)


def test_differential_and_curve():
    dvh = DVH(name="Organ", doses_gy=[0.05, 1.0, 1.04, 2.5], volumes_cc=[1.0, 2.0, 3.0, 4.0])
    edges, volumes = dvh.differential(bin_gy=0.5)
    assert edges.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert volumes.tolist() == [1.0, 0.0, 5.0, 0.0, 0.0, 4.0]
    doses, fractions = dvh.curve(bin_gy=0.5)
    assert doses.tolist() == edges.tolist()
    assert fractions.tolist() == [1.0, 0.9, 0.9, 0.4, 0.4, 0.4, 0.0]
    with pytest.raises(EvaluationError, match="bin width must be > 0 Gy"):
        dvh.curve(bin_gy=0.0)


# ---------------------------------------------------------------- compute


def _ball_case(spacing=2.0, radius=8.0):
    grid = Grid.from_spacing((12, 12, 12), spacing_mm=spacing, origin_mm=-11.0)
    ball = Structure.from_function("Ball", grid, lambda x, y, z: x**2 + y**2 + z**2 <= radius**2)
    return grid, ball


def test_compute_volume_equals_the_structure_volume():
    grid, ball = _ball_case()
    dose = Dose(values=np.full(grid.shape, 3.0), grid=grid)
    dvh = DVH.compute(dose, ball)
    assert dvh.name == "Ball"
    assert dvh.volume_cc == pytest.approx(ball.volume_cc, rel=1e-12)
    assert dvh.min_gy == dvh.max_gy == 3.0


def test_compute_on_the_dose_grid_reads_voxel_doses_exactly():
    grid, ball = _ball_case()
    values = np.random.default_rng(0).uniform(0, 70, grid.shape).astype(np.float32)
    dvh = DVH.compute(Dose(values=values, grid=grid), ball)
    expected = np.unique(values[ball.mask])
    np.testing.assert_array_equal(dvh.doses_gy, expected.astype(np.float64))


def test_structure_outside_the_dose_grid_gets_zero_dose():
    _, ball = _ball_case()
    small = Grid.from_spacing((3, 3, 3), spacing_mm=2.0, origin_mm=-2.0)
    dvh = DVH.compute(Dose(values=np.full(small.shape, 10.0), grid=small), ball)
    assert dvh.min_gy == 0.0
    assert dvh.max_gy == 10.0
    # centres at -3, -1, 1, 3 mm on each axis lie in the dose grid's extent [-3, 3] mm
    assert dvh.volume_at_dose_cc(10.0) == pytest.approx(4**3 * 8 / 1000)


def test_compute_errors():
    grid, ball = _ball_case()
    dose = Dose(values=np.zeros(grid.shape), grid=grid)
    empty = Structure(name="Nothing", mask=np.zeros(grid.shape, bool), grid=grid)
    with pytest.raises(EvaluationError, match="structure 'Nothing' is empty"):
        DVH.compute(dose, empty)
    with pytest.raises(EvaluationError, match="needs a rtwin Dose; got ndarray"):
        DVH.compute(np.zeros(3), ball)
    with pytest.raises(EvaluationError, match="needs a rtwin Structure; got str"):
        DVH.compute(dose, "Ball")
    with pytest.raises(EvaluationError, match="supersampling must be an integer 1-16"):
        DVH.compute(dose, ball, supersampling=0)
    with pytest.raises(EvaluationError, match="supersampling must be an integer 1-16"):
        DVH.compute(dose, ball, supersampling=2.5)


def test_supersampling_refines_interior_voxels_only():
    grid, ball = _ball_case()
    x = grid.voxel_centers_mm()[..., 0]
    dose = Dose(values=40.0 + x, grid=grid)
    plain = DVH.compute(dose, ball, supersampling=1)
    fine = DVH.compute(dose, ball, supersampling=3)
    assert fine.volume_cc == pytest.approx(plain.volume_cc, rel=1e-12)
    assert fine.doses_gy.size > plain.doses_gy.size
    # a linear dose is reproduced exactly by trilinear interpolation: means agree
    assert fine.mean_gy == pytest.approx(plain.mean_gy, abs=1e-5)
    # boundary voxels stay at their centres: extremes are voxel-centre doses
    assert fine.max_gy == plain.max_gy


def test_automatic_supersampling_follows_the_dose_grid():
    coarse = Grid.from_spacing((8, 8, 8), spacing_mm=4.0, origin_mm=-14.0)
    ball = Structure.from_function("Ball", coarse, lambda x, y, z: x**2 + y**2 + z**2 <= 12.0**2)
    fine_grid = Grid.from_spacing((16, 16, 16), spacing_mm=2.0, origin_mm=-15.0)
    values = np.random.default_rng(1).uniform(0, 2, fine_grid.shape)
    dose = Dose(values=values, grid=fine_grid)
    automatic = DVH.compute(dose, ball)
    explicit = DVH.compute(dose, ball, supersampling=2)
    np.testing.assert_array_equal(automatic.doses_gy, explicit.doses_gy)
    assert automatic.doses_gy.size > ball.n_voxels


# ---------------------------------------------------------------- kernel vs numpy twin


def _naive_samples(dose, structure, subdivisions):
    """Obviously correct twin: list every sample point and ask Dose.at."""
    from scipy import ndimage

    interior = ndimage.binary_erosion(structure.mask, structure=np.ones((3, 3, 3)), border_value=0)
    points = []
    for k, j, i in zip(*np.nonzero(structure.mask), strict=True):
        if interior[k, j, i] and np.prod(subdivisions) > 1:
            offsets = [(np.arange(n) + 0.5) / n - 0.5 for n in subdivisions]
            for a in offsets[0]:
                for b in offsets[1]:
                    for c in offsets[2]:
                        points.append((i + a, j + b, k + c))
        else:
            points.append((i, j, k))
    return dose.at(structure.grid.index_to_patient(np.array(points, dtype=np.float64)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_matches_numpy_twin_on_oblique_grids(seed):
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, np.pi / 2)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0, 0, 1]]
    )
    structure_grid = Grid.from_spacing(
        (7, 8, 9), spacing_mm=rng.uniform(1.5, 4.0, 3), origin_mm=rng.uniform(-12, -8, 3)
    )
    dose_grid = Grid.from_spacing(
        (6, 7, 8),
        spacing_mm=rng.uniform(2.0, 4.0, 3),
        origin_mm=rng.uniform(-14, -10, 3),
        direction=rotation,
    )
    mask = np.zeros(structure_grid.shape, dtype=bool)
    mask[1:6, 1:7, 2:8] = True
    mask[tuple(rng.integers(0, 7, (3, 4)))] = False  # a few holes
    structure = Structure(name="Blob", mask=mask, grid=structure_grid)
    dose = Dose(values=rng.uniform(0, 60, dose_grid.shape), grid=dose_grid)
    subdivisions = np.array([2, 1, 3], dtype=np.int64)

    from scipy import ndimage

    interior = ndimage.binary_erosion(mask, structure=np.ones((3, 3, 3)), border_value=0)
    k, j, i = np.nonzero(mask)
    refined = interior[k, j, i]
    counts = np.where(refined, 6, 1)
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    transform = np.ascontiguousarray((np.linalg.inv(dose_grid.affine) @ structure_grid.affine)[:3])
    fast = sample_dose(
        np.ascontiguousarray(dose.values),
        transform,
        np.stack((i, j, k), axis=-1).astype(np.int64),
        np.ascontiguousarray(refined),
        subdivisions,
        starts,
    )
    slow = _naive_samples(dose, structure, subdivisions)
    assert refined.any()
    np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- properties

_doses = st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=40)


@st.composite
def _dvhs(draw):
    doses = draw(_doses)
    volumes = draw(st.lists(st.floats(1e-3, 10.0), min_size=len(doses), max_size=len(doses)))
    return DVH(name="Organ", doses_gy=doses, volumes_cc=volumes)


@settings(max_examples=60, deadline=None)
@given(_dvhs(), st.lists(st.floats(-10, 110), min_size=2, max_size=8))
def test_volume_at_dose_is_non_increasing(dvh, doses):
    volumes = [dvh.volume_at_dose_cc(d) for d in sorted(doses)]
    assert all(a >= b for a, b in itertools.pairwise(volumes))
    assert all(0.0 <= v <= dvh.volume_cc * (1 + 1e-12) for v in volumes)


@settings(max_examples=60, deadline=None)
@given(_dvhs(), st.lists(st.floats(0, 1), min_size=2, max_size=8))
def test_dose_at_volume_is_non_increasing_and_bounded(dvh, fractions):
    doses = [dvh.dose_at_volume(f) for f in sorted(fractions)]
    assert all(a >= b for a, b in itertools.pairwise(doses))
    assert all(dvh.min_gy <= d <= dvh.max_gy for d in doses)
    assert dvh.min_gy <= dvh.mean_gy <= dvh.max_gy


@settings(max_examples=40, deadline=None)
@given(_dvhs())
def test_curves_are_monotone_and_add_up(dvh):
    _, volumes = dvh.differential(bin_gy=1.0)
    assert volumes.sum() == pytest.approx(dvh.volume_cc)
    _, fractions = dvh.curve(bin_gy=1.0)
    assert fractions[0] == pytest.approx(1.0)
    assert np.all(np.diff(fractions) <= 1e-12)
    assert fractions[-1] == 0.0
