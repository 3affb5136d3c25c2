"""Photon pencil-beam engine: kernel vs numpy twin, linearity, additivity, cutoff bound.

These tests use a tiny analytic machine (a test double) so that they check
the engine's geometry and matrix assembly independently of the commissioned
6 MV model, which has its own physics tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import special

import rtwin
from rtwin.dose.photon import PhotonPencilBeam, lateral_cutoff_mm


@dataclass(frozen=True)
class TwoGaussianMachine:
    source_axis_distance_mm: float = 1000.0
    mu_per_mm: float = 0.005

    def kernel_tables(self, depths_mm):
        depths = np.asarray(depths_mm, dtype=float)
        primary = np.exp(-self.mu_per_mm * depths)
        scatter = 0.2 * (1 - np.exp(-depths / 20.0)) * np.exp(-self.mu_per_mm * depths)
        return np.stack((primary, scatter)), np.stack(
            (np.full_like(depths, 2.0), 8.0 + 0.05 * depths)
        )


def _naive(engine, patient, beams, grid):
    """Twin: dense evaluation of the documented formula with plain numpy (no cutoff)."""
    machine = engine.machine
    sad = machine.source_axis_distance_mm
    external = patient.structures.external.resampled(grid).mask.ravel()
    rows = np.flatnonzero(external)
    k, j, i = np.unravel_index(rows, grid.shape)
    points = grid.index_to_patient(np.column_stack((i, j, k)).astype(float))
    red = patient.relative_electron_density
    target = patient.structures.targets[0]
    columns = []
    for beam in beams:
        frame = beam.frame("HFS")
        uvw = frame.to_beam(points)
        g = uvw[:, 2] / sad
        iso = uvw[:, :2] / g[:, None]
        depth = rtwin.dose.radiological_depth(red, frame.source_mm, points)
        amplitudes, sigmas = machine.kernel_tables(depth)
        for center in rtwin.beams.photon_bixel_positions(
            beam, target, bixel_mm=engine.bixel_mm, margin_mm=engine.target_margin_mm
        ):
            du, dv = (iso - center).T * g
            width = engine.bixel_mm * g
            dose = np.zeros(len(rows))
            for a, s in zip(amplitudes, sigmas, strict=True):
                fu = 0.5 * (
                    special.erf((du + width / 2) / (np.sqrt(2) * s))
                    - special.erf((du - width / 2) / (np.sqrt(2) * s))
                )
                fv = 0.5 * (
                    special.erf((dv + width / 2) / (np.sqrt(2) * s))
                    - special.erf((dv - width / 2) / (np.sqrt(2) * s))
                )
                dose += a * fu * fv
            column = np.zeros(grid.n_voxels)
            column[rows] = dose / g**2
            columns.append(column)
    return np.stack(columns, axis=1)


@pytest.fixture(scope="module")
def patient():
    return rtwin.phantoms.water_box(size_mm=60, voxel_mm=5, target_radius_mm=8, air_margin_mm=10)


def test_kernel_matches_numpy_twin(patient):
    engine = PhotonPencilBeam(machine=TwoGaussianMachine(), bixel_mm=5.0, cutoff_fraction=1e-4)
    beams = rtwin.beams.equispaced(3, isocenter_mm=(0.0, 0.0, 0.0), start_deg=20)
    influence = engine.influence(patient, beams)
    dense = _naive(engine, patient, beams, patient.grid)
    matrix = influence.matrix.toarray()
    assert influence.matrix.has_sorted_indices
    scale = dense.max()
    np.testing.assert_allclose(matrix, dense, atol=2e-3 * scale, rtol=2e-3)


def test_cutoff_drops_at_most_the_stated_fraction(patient):
    engine = PhotonPencilBeam(machine=TwoGaussianMachine(), bixel_mm=5.0, cutoff_fraction=0.01)
    beams = rtwin.beams.equispaced(1, isocenter_mm=(0.0, 0.0, 0.0))
    full = _naive(engine, patient, beams, patient.grid)
    kept = engine.influence(patient, beams).matrix.toarray()
    lost = 1.0 - kept.sum(axis=0) / full.sum(axis=0)
    assert np.all(lost <= 0.01 + 1e-4)


def test_dose_is_additive_over_beams(patient):
    engine = PhotonPencilBeam(machine=TwoGaussianMachine())
    beams = rtwin.beams.equispaced(2, isocenter_mm=(0.0, 0.0, 0.0))
    both = engine.influence(patient, beams)
    first = engine.influence(patient, beams[:1])
    second = engine.influence(patient, beams[1:])
    w = np.random.default_rng(0).uniform(size=both.n_beamlets)
    n1 = first.n_beamlets
    total = both.dose(w).values
    parts = first.dose(w[:n1]).values + second.dose(w[n1:]).values
    np.testing.assert_allclose(total, parts, rtol=1e-5, atol=1e-6)


def test_cutoff_function_is_exact_for_one_gaussian():
    sigma, bixel = np.array([[3.0]]), 5.0
    cutoff = lateral_cutoff_mm(np.array([[1.0]]), sigma, bixel, 0.01)[0]
    # captured fraction of the 2-D integral at that reach, by direct quadrature
    x = np.linspace(-200, 200, 400001)
    f = 0.5 * (
        special.erf((x + 2.5) / (np.sqrt(2) * 3)) - special.erf((x - 2.5) / (np.sqrt(2) * 3))
    )
    inside = np.trapezoid(np.where(np.abs(x) <= 2.5 + cutoff, f, 0.0), x) / np.trapezoid(f, x)
    assert 1 - inside**2 <= 0.01 + 1e-6
