"""optimize_fluence: properties, callback, errors, the sparse products vs scipy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rtwin
from rtwin.errors import OptimizationError
from rtwin.optimize import (
    FluenceProblem,
    MaxDose,
    OptimizationResult,
    SquaredDeviation,
    SquaredOverdose,
    optimize_fluence,
)
from rtwin.optimize._kernels import RowRuns, runs_rmatvec


@pytest.fixture(scope="module")
def case():
    patient = rtwin.phantoms.water_box(size_mm=80, voxel_mm=5, target_radius_mm=12)
    beams = rtwin.beams.equispaced(3, isocenter_mm=(0.0, 0.0, 0.0))
    influence = rtwin.dose.PhotonPencilBeam().influence(patient, beams)
    target = patient.structures.targets[0].name
    return patient, influence, target


def _runs_columns(runs):
    """Each row's column indices, rebuilt from its runs."""
    rows = []
    for row in range(runs.indptr.size - 1):
        span = slice(runs.row_runs[row], runs.row_runs[row + 1])
        rows.append(
            [
                int(c) + j
                for c, n in zip(runs.run_column[span], runs.run_length[span], strict=True)
                for j in range(int(n))
            ]
        )
    return rows


def _banded(rng, n_rows, n_columns):
    """A random sparse matrix with runs of every length (like an influence matrix's rows)."""
    dense = np.zeros((n_rows, n_columns), dtype=np.float32)
    for row in range(n_rows):
        for _ in range(rng.integers(0, 4)):
            start = rng.integers(0, n_columns)
            dense[row, start : start + rng.integers(1, 30)] = rng.uniform(0.1, 1.0)
    dense[rng.uniform(size=dense.shape) < 0.05] = np.float32(0.7)  # isolated entries
    return dense


def test_row_runs_hold_every_column_of_the_csr_matrix():
    import scipy.sparse as sparse

    matrix = sparse.csr_array(_banded(np.random.default_rng(0), 300, 70))
    runs = RowRuns.from_csr(matrix)
    assert runs.data.dtype == np.float32 and runs.run_column.dtype == np.uint32
    assert runs.row_runs[-1] == runs.run_column.size < matrix.nnz  # runs are shared
    for row, columns in enumerate(_runs_columns(runs)):
        assert columns == matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]].tolist()
    assert np.shares_memory(runs.data, matrix.data)  # every row: the data is not copied
    assert not runs.data.flags.writeable
    for bad in ([2, 1], [0, 0, 2], [0, 300], [-1, 3]):
        with pytest.raises(ValueError, match="strictly increasing"):
            RowRuns.from_csr(matrix, np.array(bad))
    # a subset of the rows: their entries copied, in order
    rows = np.array([3, 4, 100, 299])
    subset = RowRuns.from_csr(matrix, rows)
    assert _runs_columns(subset) == [_runs_columns(runs)[r] for r in rows]
    np.testing.assert_array_equal(subset.data, np.concatenate([matrix[[r]].data for r in rows]))


def test_row_runs_of_a_non_canonical_matrix_are_those_of_its_canonical_form():
    """Unsorted columns and a column stored twice (legal scipy input) are sorted and summed."""
    import scipy.sparse as sparse

    matrix = sparse.csr_array(
        (
            np.array([0.5, 1.0, 0.5, 0.25, 0.75], dtype=np.float32),
            np.array([2, 0, 2, 1, 0]),
            np.array([0, 3, 5]),
        ),
        shape=(2, 3),
    )
    runs = RowRuns.from_csr(matrix)
    assert _runs_columns(runs) == [[0, 2], [0, 1]]
    assert runs.data.tolist() == [1.0, 1.0, 0.75, 0.25]
    assert matrix.indices.tolist() == [2, 0, 2, 1, 0]  # the caller's matrix is unchanged
    g = np.array([2.0, -1.0])
    out = np.empty(3)
    runs_rmatvec(*runs, g, out)
    np.testing.assert_allclose(out, matrix.toarray().astype(np.float64).T @ g, rtol=1e-12)


def test_problem_products_match_scipy():
    """The forward and transpose products over runs, against scipy in float64."""
    rng = np.random.default_rng(5)
    dense = _banded(rng, 300, 70)
    influence, structures = _matrix_problem(dense)
    problem = FluenceProblem.build(influence, structures, [SquaredDeviation("All", dose_gy=1.0)])
    x = rng.uniform(size=70)
    np.testing.assert_allclose(
        problem.dose_at_rows(x), dense.astype(np.float64) @ x, rtol=1e-12, atol=1e-300
    )
    g = rng.normal(size=300)
    np.testing.assert_allclose(
        problem.gradient_from_rows(g), dense.astype(np.float64).T @ g, rtol=1e-12, atol=1e-12
    )


def test_problem_gradient_matches_finite_differences(case):
    patient, influence, target = case
    problem = FluenceProblem.build(
        influence,
        patient.structures,
        [SquaredDeviation(target, dose_gy=2.0), SquaredOverdose("Body", dose_gy=0.5)],
    )
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 1.5, size=influence.n_beamlets)
    _, gradient, _ = problem.evaluate(w)
    for j in rng.choice(influence.n_beamlets, 5, replace=False):
        step = np.zeros_like(w)
        step[j] = 1e-4
        numeric = (problem.evaluate(w + step)[0] - problem.evaluate(w - step)[0]) / 2e-4
        assert gradient[j] == pytest.approx(numeric, rel=1e-4, abs=1e-8)


def test_problem_dose_equals_the_influence_dose(case):
    patient, influence, target = case
    problem = FluenceProblem.build(
        influence, patient.structures, [SquaredDeviation(target, dose_gy=2.0)]
    )
    w = np.random.default_rng(2).uniform(size=influence.n_beamlets)
    np.testing.assert_allclose(
        problem.dose_at_rows(w), influence.forward(w)[problem.rows], rtol=1e-5, atol=1e-9
    )


def test_trivial_problem_reaches_its_minimum(case):
    patient, influence, target = case
    result = optimize_fluence(
        influence, patient.structures, [SquaredDeviation(target, dose_gy=2.0)]
    )
    assert isinstance(result, OptimizationResult)
    assert result.converged
    # a uniform 2 Gy in one small target is reachable: the minimum is ~0
    # (mean squared deviation below 1e-5 Gy², i.e. an RMS deviation of 3 mGy)
    assert result.objective_value < 1e-5
    assert result.objective_value <= result.history[0]
    values = result.dose.values.ravel()[patient.structures[target].mask.ravel()]
    assert np.abs(values - 2.0).max() < 0.1


@settings(max_examples=4, deadline=None)
@given(level=st.floats(0.5, 80.0), oar_level=st.floats(0.0, 1.0))
def test_weights_are_never_negative(case, level, oar_level):
    patient, influence, target = case
    result = optimize_fluence(
        influence,
        patient.structures,
        [SquaredDeviation(target, dose_gy=level), MaxDose("Body", dose_gy=oar_level * level)],
        max_iterations=15,
    )
    assert result.weights.min() >= 0.0
    assert np.all(np.isfinite(result.weights))


def test_callback_stops_the_run_and_result_says_so(case):
    patient, influence, target = case
    seen = []

    def stop_at_three(state):
        seen.append(state.iteration)
        return state.iteration >= 3

    result = optimize_fluence(
        influence,
        patient.structures,
        [SquaredDeviation(target, dose_gy=2.0)],
        callback=stop_at_three,
    )
    assert seen == [1, 2, 3]
    assert result.stopped_by_callback and not result.converged
    assert result.n_iterations == 3
    assert "callback" in result.message


def test_results_are_reproducible(case):
    patient, influence, target = case
    objectives = [
        SquaredDeviation(target, dose_gy=2.0),
        SquaredOverdose("Body", dose_gy=1.0, weight=0.1),
    ]
    a = optimize_fluence(influence, patient.structures, objectives, max_iterations=40)
    b = optimize_fluence(influence, patient.structures, objectives, max_iterations=40)
    np.testing.assert_array_equal(a.weights, b.weights)


def test_blas_thread_limits_are_restored_after_a_run(case):
    """The run uses one BLAS thread (see optimize_fluence); the user's limits come back."""
    from threadpoolctl import threadpool_info, threadpool_limits

    patient, influence, target = case
    seen = []
    with threadpool_limits(limits=2, user_api="blas"):
        before = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

        def look(state):
            seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")

        optimize_fluence(
            influence,
            patient.structures,
            [SquaredDeviation(target, dose_gy=2.0)],
            max_iterations=2,
            callback=look,
        )
        after = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert after == before
    assert seen and set(seen) == {1}


def test_runs_longer_than_uint16_are_split():
    """A run length is stored as uint16: 65,535 consecutive columns are one run, more are two."""
    rng = np.random.default_rng(3)
    dense = np.zeros((4, 70_000), dtype=np.float32)
    dense[0] = rng.uniform(0.5, 1.0, size=70_000)
    dense[1, 10:20] = 1.0
    dense[2, 1 : 1 + 65_535] = 0.5  # exactly the longest run
    dense[3, :65_536] = 0.25  # one entry more
    influence, structures = _matrix_problem(dense)
    problem = FluenceProblem.build(influence, structures, [SquaredDeviation("All", dose_gy=1.0)])
    runs = problem.by_row
    assert runs.run_length.tolist() == [65_535, 70_000 - 65_535, 10, 65_535, 65_535, 1]
    assert runs.run_column.tolist() == [0, 65_535, 10, 1, 0, 65_535]
    x = rng.uniform(size=70_000)
    np.testing.assert_allclose(problem.dose_at_rows(x), dense.astype(np.float64) @ x, rtol=1e-12)
    g = np.array([0.5, 2.0, -1.0, 3.0])
    np.testing.assert_allclose(
        problem.gradient_from_rows(g), dense.astype(np.float64).T @ g, rtol=1e-12, atol=1e-12
    )


def test_objective_values_and_history(case):
    patient, influence, target = case
    objectives = [
        SquaredDeviation(target, dose_gy=2.0),
        SquaredOverdose("Body", dose_gy=1.0, weight=0.1),
    ]
    result = optimize_fluence(influence, patient.structures, objectives, max_iterations=40)
    assert len(result.objective_values) == 2
    assert result.objective_value == pytest.approx(sum(result.objective_values))
    assert result.history[-1] <= result.history[0]
    assert "squared deviation" in result.table()
    with pytest.raises(ValueError):
        result.weights[0] = 1.0


def test_bad_input_raises_clear_errors(case):
    patient, influence, target = case
    good = [SquaredDeviation(target, dose_gy=2.0)]
    with pytest.raises(OptimizationError, match="at least one objective"):
        optimize_fluence(influence, patient.structures, [])
    with pytest.raises(OptimizationError, match="max_iterations"):
        optimize_fluence(influence, patient.structures, good, max_iterations=0)
    with pytest.raises(OptimizationError, match="initial_weights must have shape"):
        optimize_fluence(influence, patient.structures, good, initial_weights=[1.0])
    with pytest.raises(OptimizationError, match="non-negative"):
        optimize_fluence(
            influence,
            patient.structures,
            good,
            initial_weights=-np.ones(influence.n_beamlets),
        )
    with pytest.raises(KeyError, match="Cord"):
        optimize_fluence(influence, patient.structures, [SquaredDeviation("Cord", dose_gy=2.0)])


def test_runs_rmatvec_matches_scipy_and_skips_zero_rows():
    import scipy.sparse as sparse

    rng = np.random.default_rng(3)
    matrix = sparse.csr_array(_banded(rng, 500, 40))
    g = rng.normal(size=500)
    g[rng.uniform(size=500) < 0.7] = 0.0
    out = np.empty(40)
    runs_rmatvec(*RowRuns.from_csr(matrix), g, out)
    np.testing.assert_allclose(out, matrix.astype(np.float64).T @ g, rtol=1e-12, atol=1e-12)


def _full_evaluation(problem, weights):
    """Value and gradient computing every row (no screening), from the public pieces."""
    dose = problem.dose_at_rows(weights)
    gradient_dose = np.zeros(problem.rows.size)
    total = 0.0
    for term in problem.terms:
        value, gradient = term.objective.value_and_gradient(dose[term.positions], term.volumes)
        total += value
        gradient_dose[term.positions] += gradient
    return total, problem.gradient_from_rows(gradient_dose)


@pytest.mark.parametrize("with_max_dose", [False, True])
def test_screened_evaluations_equal_computing_every_row(case, with_max_dose):
    """Skipping rows proven below their thresholds changes no bit of value or gradient."""
    patient, influence, target = case
    objectives = [
        SquaredDeviation(target, dose_gy=2.0),
        SquaredOverdose("Body", dose_gy=1.2, weight=0.5),
    ]
    if with_max_dose:
        objectives.append(MaxDose("Body", dose_gy=1.8, weight=0.1))
    path = []
    optimize_fluence(
        influence,
        patient.structures,
        objectives,
        max_iterations=40,
        callback=lambda state: path.append(np.array(state.weights)),
    )
    problem = FluenceProblem.build(influence, patient.structures, objectives)
    assert problem.screen is not None
    rng = np.random.default_rng(11)
    # the optimizer's path, then jumps and a return (bounds must hold for any weights)
    points = [*path, path[-1] * rng.uniform(0.5, 1.5, path[-1].size), path[0], path[-1]]
    for w in points:
        value, gradient, _ = problem.evaluate(w)
        full_value, full_gradient = _full_evaluation(problem, w)
        assert value == full_value
        np.testing.assert_array_equal(gradient, full_gradient)
    screen = problem.screen
    assert screen.rows_computed < 0.8 * screen.evaluations * problem.rows.size


def test_screening_is_off_when_no_objective_has_a_threshold(case):
    patient, influence, target = case
    problem = FluenceProblem.build(
        influence, patient.structures, [SquaredDeviation(target, dose_gy=2.0)]
    )
    assert problem.screen is None


def test_variable_scales_are_positive_with_median_one(case):
    patient, influence, target = case
    problem = FluenceProblem.build(
        influence,
        patient.structures,
        [SquaredDeviation(target, dose_gy=2.0), SquaredOverdose("Body", dose_gy=1.0)],
    )
    scales = problem.variable_scales()
    assert scales.shape == (influence.n_beamlets,)
    assert np.all(np.isfinite(scales)) and np.all(scales > 0)
    assert np.median(scales) == pytest.approx(1.0)


def _matrix_problem(data):
    """A 3-voxel, 2-beamlet influence from a dense array (one structure per voxel set)."""
    import scipy.sparse as sparse

    from rtwin.anatomy import Structure
    from rtwin.beams import Beam
    from rtwin.dose import BeamletTable, DoseInfluence
    from rtwin.geometry import Grid

    matrix = np.asarray(data, dtype=np.float32)
    grid = Grid.from_spacing((1, 1, matrix.shape[0]), spacing_mm=(1.0, 1.0, 1.0))
    beamlets = BeamletTable(
        beams=(Beam(modality="photon", gantry_deg=0.0, isocenter_mm=(0.0, 0.0, 0.0)),),
        beam_index=np.zeros(matrix.shape[1], dtype=np.int32),
        position_mm=np.zeros((matrix.shape[1], 2)),
        energy_mev=np.full(matrix.shape[1], np.nan),
        size_mm=np.ones(matrix.shape[1]),
    )
    influence = DoseInfluence(matrix=sparse.csr_array(matrix), dose_grid=grid, beamlets=beamlets)
    mask = np.ones(grid.shape, dtype=bool)
    return influence, {"All": Structure(name="All", mask=mask, grid=grid)}


def test_screening_is_off_for_negative_matrix_entries():
    """The bound needs non-negative entries; a matrix with a negative one is never screened."""
    objectives = [SquaredOverdose("All", dose_gy=1.0)]
    influence, structures = _matrix_problem([[1.0, 0.5], [0.2, 1.0], [0.3, 0.3]])
    assert FluenceProblem.build(influence, structures, objectives).screen is not None
    influence, structures = _matrix_problem([[1.0, -0.5], [0.2, 1.0], [0.3, 0.3]])
    assert FluenceProblem.build(influence, structures, objectives).screen is None


def test_duplicate_entries_are_summed_before_screening():
    """A CSR matrix may store a column twice in a row; the bound must see the sum."""
    import scipy.sparse as sparse

    objectives = [SquaredOverdose("All", dose_gy=1.0)]
    influence, structures = _matrix_problem([[1.0, 0.1], [0.2, 0.3], [0.1, 0.1]])
    # the same influence, with row 0's column 0 stored as 0.5 + 0.5
    duplicated = sparse.csr_array(
        (
            np.array([0.5, 0.5, 0.1, 0.2, 0.3, 0.1, 0.1], dtype=np.float32),
            np.array([0, 0, 1, 0, 1, 0, 1]),
            np.array([0, 3, 5, 7]),
        ),
        shape=(3, 2),
    )
    data_before = duplicated.data.copy()
    other = rtwin.dose.DoseInfluence(
        matrix=duplicated, dose_grid=influence.dose_grid, beamlets=influence.beamlets
    )
    np.testing.assert_array_equal(duplicated.data, data_before)  # the caller's matrix untouched
    problem = FluenceProblem.build(other, structures, objectives)
    problem.evaluate(np.array([1.0, 1.0]))
    value, gradient, _ = problem.evaluate(np.array([1.5, 1.0]))
    full_value, full_gradient = _full_evaluation(problem, np.array([1.5, 1.0]))
    assert value == full_value > 0.0
    np.testing.assert_array_equal(gradient, full_gradient)


def test_screen_survives_an_interrupted_call_pickling_and_negative_weights(case):
    import copy
    import pickle

    from rtwin.optimize import _problem

    patient, influence, target = case
    objectives = [
        SquaredDeviation(target, dose_gy=2.0),
        SquaredOverdose("Body", dose_gy=1.2, weight=0.5),
    ]
    problem = FluenceProblem.build(influence, patient.structures, objectives)
    rng = np.random.default_rng(5)
    points = [rng.uniform(0.0, 2.0, influence.n_beamlets) for _ in range(12)]
    problem.evaluate(points[0])

    # an interrupt between the kernel and the screen's update changes nothing
    original = _problem.screened_matvec

    def interrupted(*arguments):
        original(*arguments)
        raise KeyboardInterrupt

    _problem.screened_matvec = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            problem.evaluate(points[1])
    finally:
        _problem.screened_matvec = original
    for clone in (problem, pickle.loads(pickle.dumps(problem)), copy.deepcopy(problem)):
        for w in points[1:]:
            value, gradient, _ = clone.evaluate(w)
            full_value, full_gradient = _full_evaluation(clone, w)
            assert value == full_value
            np.testing.assert_array_equal(gradient, full_gradient)
    # mixed signs: every row is computed, the screen is left alone
    mixed = points[2] - 1.0
    before = problem.screen.rows_computed
    value, gradient, _ = problem.evaluate(mixed)
    assert problem.screen.rows_computed == before
    assert value == _full_evaluation(problem, mixed)[0]


def test_subclasses_that_change_the_formula_are_not_screened():
    class Shifted(SquaredOverdose):
        def _evaluate(self, dose, volumes):
            value, gradient = super()._evaluate(dose + 0.5, volumes)
            return value, gradient

    assert SquaredOverdose("A", dose_gy=1.0)._zero_up_to_gy() == 1.0
    assert Shifted("A", dose_gy=1.0)._zero_up_to_gy() is None
    assert MaxDose("A", dose_gy=2.0)._zero_up_to_gy() == 2.0


def test_runs_rmatvec_of_squared_entries_matches_scipy():
    import scipy.sparse as sparse

    rng = np.random.default_rng(4)
    matrix = sparse.csr_array(_banded(rng, 200, 30))
    g = rng.uniform(size=200)
    out = np.empty(30)
    runs_rmatvec(*RowRuns.from_csr(matrix), g, out, True)
    squared = matrix.astype(np.float64).multiply(matrix.astype(np.float64))
    np.testing.assert_allclose(out, squared.T @ g, rtol=1e-12)


_DOSE_AND_GRADIENT = """
import sys
import numpy as np
import rtwin
from rtwin.optimize import FluenceProblem, SquaredDeviation, SquaredOverdose
patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5, target_radius_mm=10)
influence = rtwin.dose.PhotonPencilBeam().influence(
    patient, rtwin.beams.equispaced(3, isocenter_mm=(0, 0, 0)))
target = patient.structures.targets[0].name
problem = FluenceProblem.build(influence, patient.structures, [
    SquaredDeviation(target, dose_gy=2.0), SquaredOverdose("Body", dose_gy=1.2, weight=0.5)])
w = np.random.default_rng(0).uniform(0.0, 0.05, influence.n_beamlets)
value, gradient, _ = problem.evaluate(w)
np.savez(sys.argv[1], dose=problem.dose_at_rows(w), forward=influence.forward(w),
         value=value, gradient=gradient)
"""


def test_compiled_and_cached_kernels_give_identical_doses_and_gradients(tmp_path):
    """The first process compiles every kernel into an empty numba cache, the second loads
    them: doses (with the photon broad scatter) and gradients must agree bit for bit."""
    import os
    import subprocess
    import sys

    environment = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    results = []
    for name in ("compiled", "cached"):
        path = tmp_path / f"{name}.npz"
        subprocess.run(
            [sys.executable, "-c", _DOSE_AND_GRADIENT, str(path)],
            env=environment,
            check=True,
            capture_output=True,
        )
        results.append(np.load(path))
    compiled, cached = results
    for key in ("dose", "forward", "value", "gradient"):
        np.testing.assert_array_equal(compiled[key], cached[key], err_msg=key)
