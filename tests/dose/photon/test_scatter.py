"""Broad photon scatter applied by convolution: kernels vs numpy twins, adjoint, engine.

The convolution operator must reproduce what storing every broad-component
entry in the matrix would give (the documented formula, evaluated densely
by a numpy twin), and its adjoint must be the exact transpose (the
optimizer's gradients depend on it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import ndimage
from test_engine_geometry import _naive  # the dense numpy twin of the engine

import rtwin
from rtwin.dose.photon import PhotonPencilBeam, ScatterConvolution
from rtwin.dose.photon._kernels import scatter_gather, scatter_spread
from rtwin.dose.photon._scatter import aperture_factors


@dataclass(frozen=True)
class ThreeGaussianMachine:
    """Test double: a narrow primary, a near scatter and a broad (σ 40–60 mm) halo."""

    source_axis_distance_mm: float = 1000.0
    mu_per_mm: float = 0.005

    def kernel_tables(self, depths_mm):
        d = np.asarray(depths_mm, dtype=float)
        attenuation = np.exp(-self.mu_per_mm * d)
        build_up = 1 - np.exp(-d / 20.0)
        amplitudes = np.stack(
            (attenuation, 0.1 * build_up * attenuation, 0.15 * build_up * attenuation)
        )
        sigmas = np.stack((np.full_like(d, 2.0), 6.0 + 0.02 * d, 40.0 + 0.1 * d))
        return amplitudes, sigmas


def _small_operator(rng, n_rows=30):
    """A hand-made two-beam operator on a 12 × 10 lattice with rows on lattice points."""
    shape = (12, 10)
    box = np.array([[3, 7, 2, 6], [4, 8, 3, 5]], dtype=np.int64)
    cells = [
        (b, u, v)
        for b, (u0, u1, v0, v1) in enumerate(box)
        for v in range(v0, v1 + 1)
        for u in range(u0, u1 + 1)
    ]
    sigma = 6.0 * 1.5 ** np.arange(4)
    reach = np.minimum(np.ceil(3 * sigma / 5.0).astype(np.int64), max(shape) - 1)
    factors = aperture_factors(sigma, 5.0, int(reach.max()) + 1)
    uv = np.stack(
        (rng.integers(0, shape[0], (n_rows, 2)), rng.integers(0, shape[1], (n_rows, 2))), axis=-1
    ).astype(np.float32)
    sigma_index = rng.integers(0, 4, (n_rows, 2, 1)).astype(np.float32)
    amplitude = rng.uniform(0.5, 1.0, (n_rows, 2, 1)).astype(np.float32)
    operator = ScatterConvolution(
        n_voxels=100,
        n_beamlets=len(cells),
        rows=np.arange(n_rows, dtype=np.int64) * 3,
        lattice_uv=uv,
        sigma_index=sigma_index,
        amplitude=amplitude,
        source_cells=np.array(cells, dtype=np.int64),
        source_box=box,
        lattice_shape=shape,
        sigma_mm=sigma,
        factors=factors,
        reach=reach,
    )
    return operator, np.array(cells), factors, reach


def test_operator_on_lattice_points_matches_the_direct_sum():
    """Rows on lattice points and σ samples: no interpolation, the exact 2-D sum."""
    rng = np.random.default_rng(0)
    operator, cells, factors, reach = _small_operator(rng)
    w = rng.uniform(size=operator.n_beamlets)

    def factor(k, m):
        m = abs(int(m))
        return factors[k, m] if m <= reach[k] else 0.0

    expected = np.zeros(operator.rows.size)
    for r in range(operator.rows.size):
        for j, (b, u, v) in enumerate(cells):
            k = int(operator.sigma_index[r, b, 0])
            du = operator.lattice_uv[r, b, 0] - u
            dv = operator.lattice_uv[r, b, 1] - v
            expected[r] += operator.amplitude[r, b, 0] * w[j] * factor(k, du) * factor(k, dv)
    np.testing.assert_allclose(operator.forward(w), expected, rtol=1e-6)


def test_operator_adjoint_is_the_transpose():
    rng = np.random.default_rng(1)
    operator, *_ = _small_operator(rng)
    w = rng.uniform(size=operator.n_beamlets)
    g = rng.normal(size=operator.rows.size)
    assert float(operator.forward(w) @ g) == pytest.approx(
        float(w @ operator.adjoint(g)), rel=1e-12
    )


def test_gather_matches_trilinear_interpolation_and_spread_is_its_transpose():
    rng = np.random.default_rng(2)
    n_beams, n_sigma, nu, nv, n_rows, n_components = 2, 5, 9, 8, 40, 2
    convolved = rng.uniform(size=(n_beams, nu, nv, n_sigma))
    uv = rng.uniform(-0.5, [nu - 0.5, nv - 0.5], size=(n_rows, n_beams, 2)).astype(np.float32)
    sigma_index = rng.uniform(-0.2, n_sigma - 0.8, size=(n_rows, n_beams, n_components)).astype(
        np.float32
    )
    amplitude = rng.uniform(size=(n_rows, n_beams, n_components)).astype(np.float32)
    amplitude[::7, 0, 1] = 0.0
    out = np.empty(n_rows)
    scatter_gather(convolved, uv, sigma_index, amplitude, out)
    twin = np.zeros(n_rows)
    for b in range(n_beams):
        for c in range(n_components):
            points = np.stack(
                (
                    np.clip(uv[:, b, 0], 0, nu - 1),
                    np.clip(uv[:, b, 1], 0, nv - 1),
                    np.clip(sigma_index[:, b, c], 0, n_sigma - 1),
                )
            ).astype(np.float64)
            twin += amplitude[:, b, c] * ndimage.map_coordinates(convolved[b], points, order=1)
    np.testing.assert_allclose(out, twin, rtol=1e-6)
    values = rng.normal(size=n_rows)
    values[::3] = 0.0
    spread = np.empty_like(convolved)
    scatter_spread(values, np.flatnonzero(values), uv, sigma_index, amplitude, spread)
    assert float(out @ values) == pytest.approx(float((spread * convolved).sum()), rel=1e-10)


@pytest.fixture(scope="module")
def patient():
    return rtwin.phantoms.water_box(size_mm=160, voxel_mm=5, target_radius_mm=20, air_margin_mm=10)


@pytest.fixture(scope="module")
def three_gaussian(patient):
    engine = PhotonPencilBeam(machine=ThreeGaussianMachine(), bixel_mm=5.0, cutoff_fraction=1e-4)
    beams = rtwin.beams.equispaced(2, isocenter_mm=(0.0, 0.0, 0.0), start_deg=30)
    return engine, beams, engine.influence(patient, beams)


def test_only_the_broad_component_is_convolved(three_gaussian):
    _, _, influence = three_gaussian
    assert isinstance(influence.scatter, ScatterConvolution)
    assert influence.provenance["broad_components"] == 1
    assert influence.scatter.amplitude.shape[2] == 1


def test_engine_with_convolution_matches_the_dense_formula(patient, three_gaussian):
    engine, beams, influence = three_gaussian
    dense = _naive(engine, patient, beams, patient.grid)
    rng = np.random.default_rng(3)
    for w in (rng.uniform(size=influence.n_beamlets), np.eye(influence.n_beamlets)[17]):
        expected = dense @ w
        got = influence.forward(w)
        # interpolation on the 5 mm lattice and in log σ: 0.2 % of the maximum
        np.testing.assert_allclose(got, expected, atol=2e-3 * expected.max())


def test_influence_adjoint_is_the_transpose(three_gaussian):
    _, _, influence = three_gaussian
    rng = np.random.default_rng(4)
    w = rng.uniform(size=influence.n_beamlets)
    g = rng.normal(size=influence.dose_grid.n_voxels)
    assert float(influence.forward(w) @ g) == pytest.approx(
        float(w @ influence.adjoint(g)), rel=1e-6
    )


def test_cutoff_bound_counts_the_whole_integral(patient):
    engine = PhotonPencilBeam(machine=ThreeGaussianMachine(), bixel_mm=5.0, cutoff_fraction=0.01)
    beams = rtwin.beams.equispaced(1, isocenter_mm=(0.0, 0.0, 0.0))
    full = _naive(engine, patient, beams, patient.grid)
    influence = engine.influence(patient, beams)
    per_column = influence.adjoint(np.ones(influence.dose_grid.n_voxels))
    lost = 1.0 - per_column / full.sum(axis=0)
    assert np.all(lost <= 0.01 + 2e-3)


def test_generic_6mv_convolution_matches_storing_every_entry():
    patient = rtwin.phantoms.water_box(size_mm=120, voxel_mm=6, target_radius_mm=20)
    beams = rtwin.beams.equispaced(2, isocenter_mm=(0.0, 0.0, 0.0), start_deg=20)
    convolved = PhotonPencilBeam(cutoff_fraction=1e-4).influence(patient, beams)
    stored = PhotonPencilBeam(broad_scatter="matrix", cutoff_fraction=1e-4).influence(
        patient, beams
    )
    assert convolved.scatter is not None and stored.scatter is None
    assert convolved.nnz < stored.nnz / 5
    w = np.random.default_rng(5).uniform(size=convolved.n_beamlets)
    a, b = convolved.forward(w), stored.forward(w)
    assert np.abs(a - b).max() <= 1e-3 * b.max()


def test_broad_scatter_option_is_validated():
    with pytest.raises(rtwin.errors.GeometryError, match="broad_scatter must be one of"):
        PhotonPencilBeam(broad_scatter="fft")


def test_restricted_operator_gives_the_same_rows(three_gaussian):
    _, _, influence = three_gaussian
    scatter = influence.scatter
    positions = np.arange(0, scatter.rows.size, 3)
    sub = scatter.restricted(positions)
    w = np.random.default_rng(6).uniform(size=influence.n_beamlets)
    np.testing.assert_allclose(sub.forward(w), scatter.forward(w)[positions], rtol=1e-12)


def test_operator_on_given_rows_lines_up_and_is_zero_elsewhere(three_gaussian):
    _, _, influence = three_gaussian
    scatter = influence.scatter
    outside = np.setdiff1d(np.arange(scatter.n_voxels), scatter.rows)[:7]
    rows = np.union1d(scatter.rows[::2], outside)
    on = scatter.on_rows(rows)
    w = np.random.default_rng(7).uniform(size=influence.n_beamlets)
    dose = on.forward(w)
    full = scatter.forward(w)
    where = np.searchsorted(scatter.rows, rows[np.isin(rows, scatter.rows)])
    np.testing.assert_allclose(dose[np.isin(rows, scatter.rows)], full[where], rtol=1e-12)
    assert outside.size > 0 and np.all(dose[np.isin(rows, outside)] == 0.0)
    # the adjoint of the aligned operator is the transpose of the same rows
    g = np.random.default_rng(8).normal(size=rows.size)
    np.testing.assert_allclose(np.dot(on.adjoint(g), w), np.dot(g, dose), rtol=1e-10)
    with pytest.raises(rtwin.errors.GeometryError, match="sorted"):
        scatter.on_rows(rows[::-1])


def test_row_bounds_bound_every_row_coefficient(three_gaussian):
    """row_bounds: ≥ the largest and ≥ the 2-norm of each row's coefficients per beam."""
    _, _, influence = three_gaussian
    scatter = influence.scatter
    columns = np.stack([scatter.forward(e) for e in np.eye(influence.n_beamlets)], axis=1)
    largest, norm = scatter.row_bounds()
    beam = scatter.source_cells[:, 0]
    for b in range(scatter.n_beams):
        block = columns[:, beam == b]
        assert np.all(block.max(axis=1) <= largest[:, b] * (1 + 1e-9))
        assert np.all(np.linalg.norm(block, axis=1) <= norm[:, b] * (1 + 1e-9))
        # not vacuous: within a small factor of the true largest entry where there is dose
        hot = block.max(axis=1) > 0.1 * block.max()
        assert np.median(largest[hot, b] / block.max(axis=1)[hot]) < 3.0


def test_voxels_near_the_source_are_refused_not_allocated():
    """A patient overlapping the treatment head: a clear error, not a huge scatter lattice."""
    patient = rtwin.phantoms.water_box(size_mm=90, voxel_mm=5, target_radius_mm=10)
    beam = rtwin.beams.Beam(modality="photon", gantry_deg=0, isocenter_mm=(0.0, 1030.0, 0.0))
    bixels = [
        np.stack(np.meshgrid(np.arange(-20, 25, 5.0), np.arange(-20, 25, 5.0)), -1).reshape(-1, 2)
    ]
    with pytest.raises(rtwin.errors.GeometryError, match="overlaps the treatment head"):
        PhotonPencilBeam().influence(patient, [beam], bixels=bixels)


def test_far_projections_do_not_grow_the_lattice(patient):
    """Rows far off axis clamp to lattice edges beyond the factors' reach (dose exactly 0 there)."""
    influence = PhotonPencilBeam().influence(
        patient, rtwin.beams.equispaced(1, isocenter_mm=(0.0, 0.0, 0.0))
    )
    scatter = influence.scatter
    widest = np.ceil(6.0 * scatter.sigma_mm[-1] / 5.0) + 2
    cells = scatter.source_cells[:, 1:]
    span = cells.max(axis=0) - cells.min(axis=0) + 2 * widest + 1
    assert np.all(np.array(scatter.lattice_shape) <= span)
