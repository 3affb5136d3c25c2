"""The commissioning fit: recovery of known parameters, other energies, options, errors."""

from __future__ import annotations

import numpy as np
import pytest

from rtwin.errors import RtwinError
from rtwin.machines import (
    DepthDose,
    MachineError,
    PhotonKernelParameters,
    PhotonMachine,
    Prior,
    Profile,
    bjr25_depth_doses,
    fit_photon_machine,
)

#: BJR Supplement 25 (1996), Tables 5.2.1-5.5.1, SSD 100 cm: (MV, field cm, PDD10 %, PDD20 %).
BJR25_OTHER_ENERGIES = [
    (4, 6.0, 59.7, 30.9),
    (4, 7.0, 60.7, 31.8),
    (4, 10.0, 63.0, 34.1),
    (5, 6.0, 62.0, 33.1),
    (5, 7.0, 62.9, 34.0),
    (5, 10.0, 65.0, 36.2),
    (8, 6.0, 69.1, 40.9),
    (8, 7.0, 69.7, 41.6),
    (8, 10.0, 71.0, 43.4),
]

TRUE = PhotonKernelParameters(
    attenuation_per_mm=0.0047,
    primary_buildup_per_mm=0.25,
    primary_sigma_mm=3.4,
    scatter_ratio=0.5,
    scatter_buildup_per_mm=0.012,
    scatter_length_mm=45.0,
    scatter_length_slope=0.35,
)


def _synthetic_measurements(noise_pp: float, seed: int) -> list[DepthDose | Profile]:
    """PDDs (with build-up) and profiles from the model itself, with Gaussian noise."""
    truth = PhotonMachine(name="truth", nominal_energy_mv=6, parameters=TRUE)
    rng = np.random.default_rng(seed)
    depths = np.r_[0.3:3.0:0.3, 3.0:30.1:1.0]
    measurements: list[DepthDose | Profile] = []
    for field in (3.0, 5.0, 10.0, 20.0, 30.0):
        values = truth.central_axis_pdd(field_size_cm=field, depths_cm=depths)
        measurements.append(
            DepthDose(
                field_size_cm=field,
                ssd_cm=100,
                depths_cm=depths,
                values_percent=values + rng.normal(0.0, noise_pp, values.shape),
                source="synthetic",
                uncertainty_pp=noise_pp,
            )
        )
    for field in (10.0, 20.0):
        for depth in (1.5, 10.0, 20.0):
            positions = np.arange(-0.75 * field, 0.75 * field + 0.01, 0.25)
            values = truth.profile(field_size_cm=field, depth_cm=depth, off_axis_cm=positions)
            keep = values > 1.0
            measurements.append(
                Profile(
                    field_size_cm=field,
                    ssd_cm=100,
                    depth_cm=depth,
                    off_axis_cm=positions[keep],
                    values_percent=values[keep] + rng.normal(0.0, noise_pp, keep.sum()),
                    source="synthetic",
                    uncertainty_pp=noise_pp,
                )
            )
    return measurements


def test_fit_recovers_known_parameters_from_noisy_synthetic_data():
    measurements = _synthetic_measurements(noise_pp=0.2, seed=20240611)
    fit = fit_photon_machine(measurements, energy_mv=6)  # all seven free (profiles given)
    assert fit.converged, fit.message
    assert not fit.dmax_constraint_applied  # the data have build-up points
    assert fit.rms_pp == pytest.approx(0.2, rel=0.2)  # residuals are the noise
    for item in fit.parameters:
        true_value = getattr(TRUE, item.name)
        assert item.value == pytest.approx(true_value, rel=0.05), item.name
        if not item.fixed:
            # within four posterior standard deviations, and determined by the data
            assert abs(np.log(item.value / true_value)) < 4 * item.relative_sd + 1e-3, item.name
            assert item.data_share > 0.95, item.name
    truth = PhotonMachine(name="truth", nominal_energy_mv=6, parameters=TRUE)
    depths = np.linspace(0.5, 30.0, 60)
    for field in (4.0, 15.0, 35.0):  # also fields not in the data
        np.testing.assert_allclose(
            fit.machine.central_axis_pdd(field_size_cm=field, depths_cm=depths),
            truth.central_axis_pdd(field_size_cm=field, depths_cm=depths),
            atol=0.3,
        )


def test_fit_is_deterministic():
    first = fit_photon_machine(bjr25_depth_doses(6), energy_mv=6)
    second = fit_photon_machine(bjr25_depth_doses(6), energy_mv=6)
    assert first.machine.parameters == second.machine.parameters
    assert first.residuals_pp.tolist() == second.residuals_pp.tolist()


@pytest.mark.parametrize("energy", [4, 5, 8])
def test_fit_works_for_other_bjr25_energies(energy):
    fit = fit_photon_machine(bjr25_depth_doses(energy), energy_mv=energy)
    assert fit.converged, fit.message
    assert fit.max_abs_pp < 1.0
    rows = [row for row in BJR25_OTHER_ENERGIES if row[0] == energy]
    for _, field, pdd10, pdd20 in rows:
        model = fit.machine.central_axis_pdd(field_size_cm=field, depths_cm=[10.0, 20.0])
        assert abs(model[0] - pdd10) < 1.0
        assert abs(model[1] - pdd20) < 1.0
    # the soft d_max constraint follows the energy (typical d_max 1.09, 1.29, 1.95 cm)
    assert fit.dmax_constraint_applied
    assert fit.dmax_model_cm == pytest.approx(fit.dmax_target_cm, abs=0.2)
    fields = np.arange(3.0, 30.1, 1.0)
    pdd10 = [fit.machine.central_axis_pdd(field_size_cm=f, depths_cm=[10.0])[0] for f in fields]
    assert np.all(np.diff(pdd10) > 0.0)


def test_higher_energy_penetrates_deeper():
    pdd10 = [
        fit_photon_machine(bjr25_depth_doses(energy), energy_mv=energy).machine.central_axis_pdd(
            field_size_cm=10, depths_cm=[10.0]
        )[0]
        for energy in (4, 6, 8)
    ]
    assert pdd10 == sorted(pdd10)


def test_result_reports_every_point_and_parameter():
    fit = fit_photon_machine(bjr25_depth_doses(6), energy_mv=6, name="my linac")
    assert fit.machine.name == "my linac"
    assert len(fit.points) == 6
    assert fit.residuals_pp.shape == (6,)
    assert fit.rms_pp == pytest.approx(float(np.sqrt(np.mean(fit.residuals_pp**2))))
    assert fit.max_abs_pp == pytest.approx(float(np.max(np.abs(fit.residuals_pp))))
    point = fit.points[-1]
    assert (point.field_size_cm, point.depth_cm, point.measured_percent) == (
        (10.0, 10.0),
        20.0,
        39.3,
    )
    assert point.residual_pp == pytest.approx(point.model_percent - point.measured_percent)
    assert "| 10 x 10 | 100 | 20 |" in fit.table()
    names = [item.name for item in fit.parameters]
    assert "scatter_ratio" in fit.parameter_table()
    held = {item.name for item in fit.parameters if item.fixed}
    assert held == {"primary_sigma_mm"}  # no profiles given
    assert len(names) == 7
    with pytest.raises(ValueError):
        fit.residuals_pp[0] = 0.0


def test_build_up_points_switch_the_dmax_constraint_off():
    machine = fit_photon_machine(bjr25_depth_doses(6), energy_mv=6).machine
    depths = np.array([0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0])
    data = [
        DepthDose(
            field_size_cm=10,
            ssd_cm=100,
            depths_cm=depths,
            values_percent=machine.central_axis_pdd(field_size_cm=10, depths_cm=depths),
        )
    ]
    assert not fit_photon_machine(data, energy_mv=6).dmax_constraint_applied
    assert fit_photon_machine(data, energy_mv=6, dmax_constraint="always").dmax_constraint_applied
    never = fit_photon_machine(bjr25_depth_doses(6), energy_mv=6, dmax_constraint="never")
    assert not never.dmax_constraint_applied


def test_priors_and_fixed_parameters_are_honoured():
    fit = fit_photon_machine(
        bjr25_depth_doses(6),
        energy_mv=6,
        priors={"primary_sigma_mm": Prior(value=3.5, log_sd=0.2, source="my film")},
        fixed=["primary_sigma_mm", "scatter_length_slope"],
    )
    assert fit.machine.parameters.primary_sigma_mm == 3.5
    assert fit.machine.parameters.scatter_length_slope == 0.25
    assert "my film" in fit.machine.sources["primary_sigma_mm"]


def test_non_convergence_is_a_state_not_an_exception():
    fit = fit_photon_machine(
        bjr25_depth_doses(6),
        energy_mv=6,
        max_evaluations=10,
        initial=TRUE.with_values(attenuation_per_mm=0.01),
    )
    assert fit.converged is False
    assert "maximum number of function evaluations" in fit.message
    assert fit.n_evaluations == 10
    assert fit.machine.calibration_gy > 0  # still a usable, calibrated machine


def test_bad_options_raise_with_the_fix():
    data = bjr25_depth_doses(6)
    with pytest.raises(
        MachineError, match=r"unknown parameter 'mu'; valid: \['attenuation_per_mm'"
    ):
        fit_photon_machine(data, energy_mv=6, fixed=["mu"])
    with pytest.raises(MachineError, match="priors: unknown parameter 'sigma'"):
        fit_photon_machine(data, energy_mv=6, priors={"sigma": Prior(value=1.0, log_sd=0.1)})
    with pytest.raises(MachineError, match="dmax_constraint must be 'auto', 'always' or 'never'"):
        fit_photon_machine(data, energy_mv=6, dmax_constraint="sometimes")
    with pytest.raises(MachineError, match="no typical d_max for 18 MV.*pass dmax_cm"):
        fit_photon_machine(data, energy_mv=18)
    with pytest.raises(MachineError, match="give the nominal energy in MV"):
        fit_photon_machine(data, energy_mv=6000)
    with pytest.raises(MachineError, match="measurements\\[1\\] is a str"):
        fit_photon_machine([data[0], "pdd.csv"], energy_mv=6)
    with pytest.raises(MachineError, match="measurements is empty"):
        fit_photon_machine([], energy_mv=6)
    with pytest.raises(MachineError, match="bounds\\['scatter_ratio'\\].*0 < low < high"):
        fit_photon_machine(data, energy_mv=6, bounds={"scatter_ratio": (1.0, 0.5)})
    with pytest.raises(MachineError, match="prior of scatter_ratio .* outside its bounds"):
        fit_photon_machine(data, energy_mv=6, bounds={"scatter_ratio": (1.0, 2.0)})
    assert issubclass(MachineError, RtwinError) and issubclass(MachineError, ValueError)


def test_measurements_validate_units_and_shapes():
    with pytest.raises(MachineError, match="look like fractions .* give percent"):
        DepthDose(field_size_cm=10, ssd_cm=100, depths_cm=[10], values_percent=[0.675])
    with pytest.raises(MachineError, match=r"ssd_cm = 1000.0 is outside .* \(100, not 1000\)"):
        DepthDose(field_size_cm=10, ssd_cm=1000, depths_cm=[10], values_percent=[67.5])
    with pytest.raises(MachineError, match="field side 100.0 cm is outside"):
        DepthDose(field_size_cm=100, ssd_cm=100, depths_cm=[10], values_percent=[67.5])
    with pytest.raises(MachineError, match="2 depths but 1 values"):
        DepthDose(field_size_cm=10, ssd_cm=100, depths_cm=[10, 20], values_percent=[67.5])
    with pytest.raises(MachineError, match="give cm, not mm"):
        DepthDose(field_size_cm=10, ssd_cm=100, depths_cm=[100], values_percent=[67.5])
    with pytest.raises(MachineError, match="repeated depths"):
        DepthDose(field_size_cm=10, ssd_cm=100, depths_cm=[10, 10], values_percent=[67.5, 67.4])
    with pytest.raises(MachineError, match="axis must be 'x' or 'y'"):
        Profile(
            field_size_cm=10,
            ssd_cm=100,
            depth_cm=10,
            off_axis_cm=[0],
            values_percent=[100],
            axis="z",
        )
    single = DepthDose(field_size_cm=(6, 12), ssd_cm=100, depths_cm=10, values_percent=66.0)
    assert single.field_size_cm == (6.0, 12.0) and single.depths_cm.tolist() == [10.0]
    with pytest.raises(ValueError):
        single.depths_cm[0] = 5.0
    with pytest.raises(MachineError, match=r"available: \['4', '5', '6', '8'\] MV"):
        bjr25_depth_doses(10)


def test_arguments_are_not_mutated():
    depths = np.array([10.0, 20.0])
    values = np.array([67.5, 39.3])
    measurement = DepthDose(field_size_cm=10, ssd_cm=100, depths_cm=depths, values_percent=values)
    priors = {"scatter_ratio": Prior(value=0.3, log_sd=1.0)}
    fit_photon_machine([measurement], energy_mv=6, priors=priors)
    assert depths.flags.writeable and depths.tolist() == [10.0, 20.0]
    assert list(priors) == ["scatter_ratio"]
