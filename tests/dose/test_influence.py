"""DoseInfluence and Dose: contracts, linearity, resampling."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from rtwin.beams import Beam
from rtwin.dose import BeamletTable, Dose, DoseInfluence
from rtwin.errors import GeometryError
from rtwin.geometry import Grid


def _influence(seed: int = 0, n_beamlets: int = 6) -> DoseInfluence:
    rng = np.random.default_rng(seed)
    grid = Grid.from_spacing((3, 4, 5), spacing_mm=2.0)
    dense = rng.uniform(size=(grid.n_voxels, n_beamlets)) * (
        rng.uniform(size=(grid.n_voxels, n_beamlets)) < 0.3
    )
    beams = (
        Beam(modality="photon", gantry_deg=0, isocenter_mm=(0, 0, 0)),
        Beam(modality="photon", gantry_deg=180, isocenter_mm=(0, 0, 0)),
    )
    table = BeamletTable(
        beams=beams,
        beam_index=np.repeat([0, 1], n_beamlets // 2),
        position_mm=rng.normal(size=(n_beamlets, 2)),
        energy_mev=np.full(n_beamlets, np.nan),
        size_mm=np.full(n_beamlets, 5.0),
    )
    return DoseInfluence(
        matrix=sp.csr_array(dense.astype(np.float32)), dose_grid=grid, beamlets=table
    )


def test_matrix_contract():
    influence = _influence()
    matrix = influence.matrix
    assert matrix.dtype == np.float32 and matrix.indices.dtype == np.int32
    assert matrix.shape == (60, 6)
    assert influence.nbytes == matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes
    with pytest.raises(ValueError, match="read-only"):
        matrix.data[0] = 1.0
    assert list(influence.beamlets.of_beam(1)) == [3, 4, 5]


@given(st.integers(0, 1000), st.floats(0.0, 10.0), st.floats(0.0, 10.0))
@settings(max_examples=30, deadline=None)
def test_dose_is_linear_in_weights(seed, a, b):
    influence = _influence(seed % 7)
    rng = np.random.default_rng(seed)
    w1, w2 = rng.uniform(size=6), rng.uniform(size=6)
    combined = influence.dose(a * w1 + b * w2).values
    separate = a * influence.dose(w1).values + b * influence.dose(w2).values
    np.testing.assert_allclose(combined, separate, rtol=1e-5, atol=1e-5)


def test_dose_rows_are_c_order_voxels():
    influence = _influence()
    weights = np.zeros(6)
    weights[2] = 1.0
    dense = influence.matrix.toarray()[:, 2].reshape(3, 4, 5)
    np.testing.assert_allclose(influence.dose(weights).values, dense, rtol=1e-6)


def test_bad_weights_and_shapes():
    influence = _influence()
    with pytest.raises(GeometryError, match=r"weights must have shape \(6,\)"):
        influence.dose(np.ones(5))
    with pytest.raises(GeometryError, match="non-negative"):
        influence.dose(-np.ones(6))
    with pytest.raises(GeometryError, match="does not match the dose grid"):
        DoseInfluence(
            matrix=influence.matrix[:10], dose_grid=influence.dose_grid, beamlets=influence.beamlets
        )


def test_dose_object():
    grid = Grid.from_spacing((4, 4, 4), spacing_mm=2.0)
    values = np.arange(64, dtype=float).reshape(4, 4, 4)
    dose = Dose(values=values, grid=grid)
    assert dose.max_gy == 63.0
    np.testing.assert_allclose(dose.at(grid.index_to_patient([[1.5, 2.0, 0.0]])), [9.5])
    assert dose.at([[100.0, 0, 0]])[0] == 0.0
    assert (dose + dose).max_gy == 126.0
    assert dose.scaled(0.5).max_gy == 31.5
    with pytest.raises(GeometryError, match="finite"):
        Dose(values=np.full((4, 4, 4), np.nan), grid=grid)
