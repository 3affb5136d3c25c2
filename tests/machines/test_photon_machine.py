"""The machine model: equations, engine tables vs their numpy twin, calibration, files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import erf

from rtwin.machines import (
    SCATTER_WEIGHTS,
    SCATTER_WIDTH_FACTORS,
    MachineError,
    PhotonKernelParameters,
    PhotonMachine,
    generic_6mv,
    read_photon_machine,
)
from rtwin.machines._model import _buildup_shape


@pytest.fixture(scope="module")
def machine():
    return generic_6mv()


def test_scatter_gaussians_approximate_the_exponential_kernel():
    # Ahnesjö's scatter kernel b e^{-br}/(2πr) gives 1 - e^{-bR} on a circle of radius R;
    # the three Gaussians with σ_j = c_j / b give Σ w_j (1 - exp(-R²/(2σ_j²))).
    x = np.geomspace(0.02, 8.0, 400)  # bR
    weights = np.array(SCATTER_WEIGHTS)
    widths = np.array(SCATTER_WIDTH_FACTORS)
    mixture = (weights[:, None] * (1 - np.exp(-(x**2) / (2 * widths[:, None] ** 2)))).sum(0)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.max(np.abs(mixture - (1 - np.exp(-x)))) < 0.02


def test_buildup_shape_is_the_bortfeld_form_and_stable_at_beta_equal_mu():
    depth = np.linspace(0.0, 300.0, 301)
    mu, beta = 0.005, 0.3
    expected = beta / (beta - mu) * (np.exp(-mu * depth) - np.exp(-beta * depth))
    np.testing.assert_allclose(_buildup_shape(depth, mu, beta), expected, rtol=1e-12, atol=1e-15)
    limit = mu * depth * np.exp(-mu * depth)  # β → μ
    np.testing.assert_allclose(_buildup_shape(depth, mu, mu * (1 + 1e-9)), limit, rtol=1e-6)
    assert _buildup_shape(np.array([-5.0]), mu, beta)[0] == 0.0


def _engine_twin(
    amplitudes_table, sigmas_table, depths, sad, depth_mm, distance_mm, u_mm, v_mm, width_mm
):
    """What the numba engine computes from the tables (formula of KernelTables' docstring)."""
    amplitudes = np.array([np.interp(depth_mm, depths, row) for row in amplitudes_table])
    sigmas = np.array([np.interp(depth_mm, depths, row) for row in sigmas_table])
    g = distance_mm / sad

    def slit(offset, length):
        return 0.5 * (
            erf((offset + length / 2) / (np.sqrt(2) * sigmas))
            - erf((offset - length / 2) / (np.sqrt(2) * sigmas))
        )

    return g**-2 * np.sum(
        amplitudes * slit(g * u_mm, g * width_mm) * slit(g * v_mm, g * width_mm), axis=0
    )


def test_kernel_tables_reproduce_the_bixel_reference(machine):
    depths = np.arange(0.0, 400.5, 0.5)
    amplitudes, sigmas = machine.kernel_tables(depths)  # the engine unpacks a pair
    tables = machine.kernel_tables(depths)
    assert tables.amplitudes_gy.shape == tables.sigmas_mm.shape == (4, 801)
    assert machine.n_components == 4
    assert not amplitudes.flags.writeable and not sigmas.flags.writeable
    rng = np.random.default_rng(7)
    depth = rng.uniform(0.0, 300.0, 500)
    distance = 900.0 + rng.uniform(0.0, 300.0, 500)
    u = rng.uniform(-40.0, 40.0, 500)
    v = rng.uniform(-40.0, 40.0, 500)
    reference = machine.bixel_dose(depth_mm=depth, distance_mm=distance, u_mm=u, v_mm=v)
    sad = machine.source_axis_distance_mm
    twin = _engine_twin(amplitudes, sigmas, depths, sad, depth, distance, u, v, 5.0)
    # linear interpolation on a 0.5 mm grid: below 0.1 % even in the build-up region
    np.testing.assert_allclose(twin, reference, rtol=1e-3, atol=1e-9)


def test_tables_scatter_widens_with_depth_and_amplitudes_vanish_at_the_surface(machine):
    amplitudes, sigmas = machine.kernel_tables([0.0, 50.0, 100.0, 200.0])
    assert np.all(amplitudes[:, 0] == 0.0)
    assert np.all(np.diff(sigmas[1:], axis=1) > 0)
    assert np.all(np.diff(sigmas[0]) == 0)  # the primary width is constant with depth


def test_dose_is_linear_and_additive_over_bixels(machine):
    common = {"depth_mm": 80.0, "distance_mm": 1080.0, "v_mm": 1.0}
    left = machine.bixel_dose(u_mm=2.5, **common)
    right = machine.bixel_dose(u_mm=-2.5, **common)
    wide = machine.bixel_dose(u_mm=0.0, bixel_width_mm=(10.0, 5.0), **common)
    assert float(left + right) == pytest.approx(float(wide), rel=1e-12)


def test_dose_in_water_rejects_bixels_that_do_not_tile(machine):
    with pytest.raises(
        MachineError, match="do not tile a 6.3 cm field side; use method='analytic'"
    ):
        machine.dose_in_water(field_size_cm=6.3, depths_cm=10, method="bixels")
    with pytest.raises(MachineError, match="unknown method 'mc'; use 'analytic' or 'bixels'"):
        machine.dose_in_water(field_size_cm=10, depths_cm=10, method="mc")
    with pytest.raises(MachineError, match="strictly increasing"):
        machine.kernel_tables([10.0, 5.0])


def test_rectangular_fields_swap_with_the_profile_axis(machine):
    x = machine.profile(field_size_cm=(6, 12), depth_cm=10, off_axis_cm=[2.0, 4.0], axis="x")
    y = machine.profile(field_size_cm=(12, 6), depth_cm=10, off_axis_cm=[2.0, 4.0], axis="y")
    np.testing.assert_allclose(x, y, rtol=1e-12)


def test_parameters_validate_with_units_in_the_message():
    values = generic_6mv().parameters.as_dict()
    with pytest.raises(MachineError, match=r"attenuation_per_mm = 0.5 1/mm .* check the unit"):
        PhotonKernelParameters(**{**values, "attenuation_per_mm": 0.05 * 10})
    with pytest.raises(MachineError, match="missing \\['scatter_length_slope'\\]"):
        PhotonKernelParameters.from_mapping(
            {k: v for k, v in values.items() if k != "scatter_length_slope"}
        )
    with pytest.raises(MachineError, match="unknown photon model parameter"):
        generic_6mv().parameters.with_values(mu=0.005)


def test_recalibration_keeps_the_convention(machine):
    changed = machine.with_parameters(scatter_ratio=0.6)
    dmax = changed.depth_of_maximum_cm(field_size_cm=10)
    assert float(changed.dose_in_water(field_size_cm=10, depths_cm=dmax)) == pytest.approx(1.0)
    assert changed.sources["scatter_ratio"].startswith("set by hand")
    assert machine.parameters.scatter_ratio != 0.6  # the original is untouched
    half = PhotonMachine(
        name="cGy", nominal_energy_mv=6, parameters=machine.parameters, reference_dose_gy=0.01
    )
    assert half.calibration_gy == pytest.approx(0.01 * machine.calibration_gy)


def test_json_round_trip_and_tamper_detection(machine, tmp_path):
    path = machine.write_json(tmp_path / "linac.json")
    again = read_photon_machine(path)
    assert again == machine
    assert hash(again) == hash(machine)
    content = json.loads(path.read_text())
    content["parameters"]["scatter_ratio"] *= 1.1
    path.write_text(json.dumps(content))
    with pytest.raises(MachineError, match="stored calibration_gy .* differs"):
        read_photon_machine(path)
    content["model"] = "other/2"
    path.write_text(json.dumps(content))
    with pytest.raises(MachineError, match="refit the machine"):
        read_photon_machine(path)
    path.write_text("{not json")
    with pytest.raises(MachineError, match="not valid JSON"):
        read_photon_machine(path)


def test_machine_validation_messages(machine):
    with pytest.raises(MachineError, match="source_axis_distance_mm = 100 mm is outside"):
        PhotonMachine(
            name="x",
            nominal_energy_mv=6,
            parameters=machine.parameters,
            source_axis_distance_mm=100,
        )
    with pytest.raises(MachineError, match="sources name unknown parameter"):
        PhotonMachine(
            name="x", nominal_energy_mv=6, parameters=machine.parameters, sources={"mu": "book"}
        )
    with pytest.raises(MachineError, match="name must be a non-empty string"):
        PhotonMachine(name="", nominal_energy_mv=6, parameters=machine.parameters)
