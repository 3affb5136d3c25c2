"""Bragg curves and scattering tables of many energies at once, by the compiled kernels (private).

:class:`~rtwin.dose.proton.BraggCurve` and
:func:`~rtwin.dose.proton.lateral_sigma_mcs_mm` evaluate one curve with
numpy and scipy; the engine needs dozens of energies per call, so it
evaluates the same formulas with the kernels of :mod:`._kernels`:

* the parabolic cylinder functions are Zhang & Jin's algorithm (scipy's
  ``pbdv``) compiled; the two agree to rounding except where that
  algorithm's power series cancels (2–5.8 σ beyond R₀, IDD below 10⁻³ of
  the peak), where both carry ~10⁻⁹ relative error and differ by as much;
* σ_MCS agrees with :func:`lateral_sigma_mcs_mm` to rounding (1e-15).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from rtwin.dose.proton._bragg import (
    _CM_TO_MM,
    _ZETA_DISTAL_CUTOFF,
    BortfeldParameters,
    _closed_form_weights,
    _far_series,
    _model_numbers,
)
from rtwin.dose.proton._kernels import (
    bortfeld_idd_table,
    bortfeld_peak_depths,
    mcs_sigma_table,
    pcf_constants,
)
from rtwin.dose.proton._machine import ProtonMachine
from rtwin.dose.proton._physics import WATER_RADIATION_LENGTH_MM, beta_squared
from rtwin.dose.proton._range_energy import csda_range_mm, mass_stopping_power_water
from rtwin.dose.proton._scattering import _inverse_pv_squared_table, _quadrature

__all__ = ["BraggCurves", "EngineTables", "engine_tables", "peak_depths_mm"]

#: Points of the coarse grid on which each peak is bracketed (as ``BraggCurve``).
_PEAK_GRID = 281


class BraggCurves(NamedTuple):
    """Bortfeld's closed form for several energies, as the kernels take it (cm, MeV)."""

    range_cm: NDArray[np.float64]
    sigma_cm: NDArray[np.float64]
    prefactor: NDArray[np.float64]
    weight_main: NDArray[np.float64]
    weight_tail: NDArray[np.float64]
    order: NDArray[np.float64]  # (−1/p, −1/p − 1)
    orders: NDArray[np.float64]  # (2, 4) pcf_constants of each order
    series: NDArray[np.float64]  # (2, 4, 251)
    negated: NDArray[np.float64]  # (2, 4)
    far_factor: NDArray[np.float64]  # (2,)
    far_coefficients: NDArray[np.float64]  # (2, n_terms)

    @classmethod
    def of(cls, machine: ProtonMachine, energies_mev: NDArray[np.float64]) -> BraggCurves:
        """The curves of ``machine.bragg_curve(e)`` for each energy (machine energy spread, ε = 0)."""
        energies = np.asarray(energies_mev, dtype=np.float64)
        parameters = BortfeldParameters()
        spreads = np.interp(energies, machine.energies_mev, machine.energy_spread_mev)
        ranges = csda_range_mm(energies)
        stopping = mass_stopping_power_water(energies)
        numbers = []
        for energy, spread, range_mm, power in zip(
            energies.tolist(), spreads.tolist(), ranges.tolist(), stopping.tolist(), strict=True
        ):
            model = _model_numbers(
                energy, spread, 0.0, parameters, range_mm=range_mm, stopping_power=power
            )
            numbers.append((model.range_cm, model.sigma_cm, *_closed_form_weights(model)))
        columns = np.array(numbers, dtype=np.float64).reshape(-1, 5).T
        p = parameters.range_energy_exponent
        order = np.array([-1.0 / p, -1.0 / p - 1.0])
        constants = [pcf_constants(float(value)) for value in order]
        far = [_far_series(float(value)) for value in order]
        return cls(
            *(np.ascontiguousarray(column) for column in columns),
            order=order,
            orders=np.stack([c[0] for c in constants]),
            series=np.stack([c[1] for c in constants]),
            negated=np.stack([c[2] for c in constants]),
            far_factor=np.array([f[0] for f in far]),
            far_coefficients=np.array([f[1] for f in far]),
        )

    @property
    def max_depth_mm(self) -> NDArray[np.float64]:
        """R₀ + 10 σ (mm) of each curve: the depth beyond which the IDD is zero."""
        return (self.range_cm + _ZETA_DISTAL_CUTOFF * self.sigma_cm) * _CM_TO_MM

    def _pcf(self) -> tuple[NDArray[np.float64], ...]:
        return (
            self.order,
            self.orders,
            self.series,
            self.negated,
            self.far_factor,
            self.far_coefficients,
        )

    def idd_table(self, depths_mm: NDArray[np.float64], scale: float = 1.0) -> NDArray[np.float64]:
        """``(n_energies, n_depths)``: IDD in MeV/mm per proton × ``scale`` at ``depths_mm``."""
        return bortfeld_idd_table(
            np.ascontiguousarray(depths_mm / _CM_TO_MM),
            self.range_cm,
            self.sigma_cm,
            self.prefactor,
            self.weight_main,
            self.weight_tail,
            _CM_TO_MM,
            float(scale),
            *self._pcf(),
        )


def peak_depths_mm(
    machine: ProtonMachine, energies_mev: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Bragg-peak depth (mm) of ``machine.bragg_curve(e)`` for each energy.

    The search of :attr:`BraggCurve.peak_depth_mm` (a 281-point bracket,
    then scipy's bounded Brent to 1e-9 R₀, compiled) on the compiled curve;
    the maximum is flat, so the result agrees with ``BraggCurve`` to ~1e-7 mm.
    """
    curves = BraggCurves.of(machine, energies_mev)
    r0 = curves.range_cm * _CM_TO_MM
    sigma = curves.sigma_cm * _CM_TO_MM
    grids = np.linspace(np.maximum(0.0, r0 - 12.0 * sigma), r0 + 2.0 * sigma, _PEAK_GRID, axis=1)
    return bortfeld_peak_depths(
        np.ascontiguousarray(grids),
        1e-9 * np.maximum(r0, 1.0),
        curves.range_cm,
        curves.sigma_cm,
        curves.prefactor,
        curves.weight_main,
        curves.weight_tail,
        *curves._pcf(),
    )


class EngineTables(NamedTuple):
    """Depth tables of the engine on the WED grid ``0, step, 2 step, …`` (see ``_kernels``)."""

    idd: NDArray[np.float64]  # (n_energies, n_depths), IDD × scale
    sigma: NDArray[np.float64]  # (n_energies, n_depths), √(σ_air² + σ_MCS²) in mm
    last_depth: NDArray[np.float64]  # (n_energies,), depth (mm) from which the IDD is zero
    depth_step_mm: float


def engine_tables(
    machine: ProtonMachine,
    energies_mev: NDArray[np.float64],
    *,
    depth_step_mm: float,
    scale: float,
) -> EngineTables:
    """IDD × ``scale`` and total σ of each energy on one WED grid reaching the deepest R₀ + 10 σ.

    The numbers of :meth:`ProtonMachine.depth_dose_table` (its ``idd_mev_per_mm``
    × ``scale`` and ``lateral_sigma_mm``), without its per-energy R80 and
    peak searches. Energies outside the machine's range raise
    :class:`ProtonPhysicsError`.
    """
    energies = np.ascontiguousarray(np.atleast_1d(machine._check_energies(energies_mev)))
    curves = BraggCurves.of(machine, energies)
    cutoffs = curves.max_depth_mm
    n_depths = math.ceil(float(cutoffs.max()) / depth_step_mm - 1e-9) + 1
    depths = np.arange(n_depths) * depth_step_mm
    idd = curves.idd_table(depths, scale)
    squared_nodes, weights = _quadrature()
    _, sigma = mcs_sigma_table(
        depths,
        csda_range_mm(energies),
        WATER_RADIATION_LENGTH_MM * beta_squared(energies),
        np.interp(energies, machine.energies_mev, machine.spot_sigma_air_mm),
        np.ascontiguousarray(squared_nodes),
        np.ascontiguousarray(weights),
        *_log_table(),
    )
    return EngineTables(
        idd=idd,
        sigma=sigma,
        last_depth=np.minimum(cutoffs, float(depths[-1])),
        depth_step_mm=float(depths[1] - depths[0]),
    )


def _log_table() -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """ln u, ln 1/(pv)² and the slopes between them (as ``np.interp`` computes them)."""
    log_u, log_g = _inverse_pv_squared_table()
    return (
        np.ascontiguousarray(log_u),
        np.ascontiguousarray(log_g),
        np.diff(log_g) / np.diff(log_u),
    )


def sigma_mcs_table_mm(
    energies_mev: NDArray[np.float64], depths_mm: NDArray[np.float64]
) -> NDArray[np.float64]:
    """σ_MCS (mm) ``(n_energies, n_depths)``: :func:`lateral_sigma_mcs_mm` on a grid, compiled."""
    energies = np.ascontiguousarray(energies_mev, dtype=np.float64)
    squared_nodes, weights = _quadrature()
    mcs, _ = mcs_sigma_table(
        np.ascontiguousarray(depths_mm, dtype=np.float64),
        csda_range_mm(energies),
        WATER_RADIATION_LENGTH_MM * beta_squared(energies),
        np.zeros(energies.size),
        np.ascontiguousarray(squared_nodes),
        np.ascontiguousarray(weights),
        *_log_table(),
    )
    return mcs
