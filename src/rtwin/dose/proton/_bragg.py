"""Bortfeld's analytical Bragg curve in water, R80 and depth dose along an SPR profile."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq, minimize_scalar
from scipy.special import gamma as gamma_function
from scipy.special import pbdv

from rtwin.dose.proton._physics import ProtonPhysicsError, as_float_array, as_scalar
from rtwin.dose.proton._range_energy import (
    PSTAR_ENERGY_RANGE_MEV,
    csda_range_mm,
    mass_stopping_power_water,
)

__all__ = [
    "BortfeldParameters",
    "BraggCurve",
    "bragg_peak_depth_mm",
    "idd_along_spr",
    "r80_mm",
    "water_equivalent_depth_mm",
]

_CM_TO_MM = 10.0
#: Above this ζ = (R0 − z)/σ the parabolic cylinder functions are replaced by
#: their asymptotic series (identical to 1e-13 at the switch, see the tests).
_ZETA_ASYMPTOTIC = 20.0
#: Below −this ζ (deeper than R0 + 10 σ) the curve is set to exactly zero; the
#: closed form there is below 1e-22 of the peak.
_ZETA_DISTAL_CUTOFF = 10.0
_ASYMPTOTIC_TERMS = 7
#: Relative energy spread above which the Gaussian-spectrum model is refused.
_MAX_RELATIVE_SPREAD = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class BortfeldParameters:
    """Parameters of Bortfeld's Bragg-curve model for protons in water.

    Parameters
    ----------
    range_energy_exponent
        p of the Bragg–Kleeman rule R = α E^p (1.77 for water). Only the
        *shape* uses p; α is set per energy so that R(E₀) is the PSTAR range.
    nuclear_loss_per_cm
        β (cm⁻¹): the primary fluence falls linearly,
        Φ(z) = Φ₀ (1 + β (R₀ − z)) / (1 + β R₀); 0.012 cm⁻¹.
    local_nuclear_fraction
        γ: fraction of the energy released in nonelastic nuclear
        interactions that is deposited locally; 0.6. The rest, (1 − γ), is
        carried away (neutrons, γ rays, long-range secondaries) and is not in
        the curve.
    straggling_coefficient, straggling_exponent
        Range straggling σ_mono = 0.012 · R₀^0.935 (cm, R₀ in cm).

    Notes
    -----
    Values from Bortfeld (1997) as used by several independent public
    implementations (rtwin's ``shared/reference/proton_model_parameters.csv``,
    verification ``secondary_multiple_agree``).

    References
    ----------
    .. [1] Bortfeld T. An analytical approximation of the Bragg curve for
       therapeutic proton beams. Med Phys 24:2024–2033 (1997),
       doi:10.1118/1.598116

    Examples
    --------
    >>> from rtwin.dose.proton import BortfeldParameters
    >>> BortfeldParameters().nuclear_loss_per_cm
    0.012
    """

    range_energy_exponent: float = 1.77
    nuclear_loss_per_cm: float = 0.012
    local_nuclear_fraction: float = 0.6
    straggling_coefficient: float = 0.012
    straggling_exponent: float = 0.935

    def __post_init__(self) -> None:
        checks = {
            "range_energy_exponent": (1.0, 3.0),
            "nuclear_loss_per_cm": (0.0, 0.1),
            "local_nuclear_fraction": (0.0, 1.0),
            "straggling_coefficient": (0.0, 0.1),
            "straggling_exponent": (0.5, 1.5),
        }
        for name, (low, high) in checks.items():
            value = as_scalar(
                name,
                getattr(self, name),
                unit="(Bortfeld units)",
                minimum=low,
                maximum=high,
                strict_minimum=name == "straggling_coefficient",
                hint="see Bortfeld, Med Phys 24:2024 (1997) for the meaning and usual values",
            )
            object.__setattr__(self, name, value)


class _Model(NamedTuple):
    """The numbers the closed form needs, in Bortfeld's units (cm, MeV)."""

    range_cm: float
    sigma_cm: float
    alpha: float
    p: float
    beta: float
    gamma: float
    epsilon: float


def _model_numbers(
    energy_mev: float,
    energy_spread_mev: float,
    tail_fraction: float,
    parameters: BortfeldParameters,
    *,
    range_mm: float,
    stopping_power: float,
) -> _Model:
    """The closed form's numbers of one curve, given its PSTAR range (mm) and stopping power."""
    par = parameters
    range_cm = range_mm / _CM_TO_MM
    sigma_mono = par.straggling_coefficient * range_cm**par.straggling_exponent
    # dR/dE = 1/S with S in MeV cm²/g = MeV/cm for water.
    sigma_spread = energy_spread_mev / stopping_power
    p = par.range_energy_exponent
    return _Model(
        range_cm=range_cm,
        sigma_cm=math.hypot(sigma_mono, sigma_spread),
        alpha=range_cm / energy_mev**p,
        p=p,
        beta=par.nuclear_loss_per_cm,
        gamma=par.local_nuclear_fraction,
        epsilon=tail_fraction,
    )


def _closed_form_weights(model: _Model) -> tuple[float, float, float]:
    """``(prefactor, weight_main, weight_tail)`` of Bortfeld's closed form.

    IDD = prefactor · (weight_main · e^{−ζ²/4}D_{−1/p}(−ζ) + weight_tail · e^{−ζ²/4}D_{−1/p−1}(−ζ)).
    """
    r0, sigma, p = model.range_cm, model.sigma_cm, model.p
    prefactor = gamma_function(1.0 / p) / (
        math.sqrt(2.0 * math.pi) * p * model.alpha ** (1.0 / p) * (1.0 + model.beta * r0)
    )
    tail = model.beta / p + model.gamma * model.beta + model.epsilon / r0
    return float(prefactor), sigma ** (1.0 / p - 1.0), sigma ** (1.0 / p) * tail


def _far_series(order: float) -> tuple[float, list[float]]:
    """Factor √(2π)/Γ(−ν) and coefficients C(μ, 2m)(2m − 1)!! of the asymptotic series, ν < 0."""
    mu = -order - 1.0
    coefficient, coefficients = 1.0, [1.0]
    for m in range(1, _ASYMPTOTIC_TERMS):
        coefficient *= (mu - 2 * m + 2) * (mu - 2 * m + 1) / (2 * m)
        coefficients.append(coefficient)
    return float(math.sqrt(2.0 * math.pi) / gamma_function(-order)), coefficients


@dataclass(frozen=True, slots=True, kw_only=True)
class BraggCurve:
    """Integral depth dose of a proton pencil beam in water (Bortfeld 1997).

    Parameters
    ----------
    energy_mev
        Mean initial kinetic energy E₀ in MeV (10–300 MeV, the PSTAR table).
    energy_spread_mev
        Standard deviation σ_E of the Gaussian initial energy spectrum, MeV
        (0 ≤ σ_E ≤ 5 % of E₀).
    tail_fraction
        Bortfeld's ε, the relative fluence of the low-energy "tail" of the
        spectrum (0 ≤ ε ≤ 1; default 0: no tail). With ε > 0 the curve holds
        more energy than E₀ per proton (see :attr:`deposited_energy_mev`).
    parameters
        Model constants (:class:`BortfeldParameters`, the published water values by default).

    Notes
    -----
    **Model.** With the range R₀ (cm) and the Bragg–Kleeman exponent p, take
    α = R₀/E₀^p (so E₀ = (R₀/α)^{1/p} exactly) and the range spread
    σ² = σ_mono² + (σ_E / S(E₀))², where σ_mono = 0.012 R₀^0.935 and S is the
    PSTAR stopping power (dR/dE = 1/S). With ζ = (R₀ − z)/σ and the parabolic
    cylinder functions D_ν (:func:`scipy.special.pbdv`), Bortfeld's closed form:

        IDD(z) = e^{−ζ²/4} σ^{1/p} Γ(1/p) / (√(2π) p α^{1/p} (1 + βR₀))
                 × [D_{−1/p}(−ζ)/σ + (β/p + γβ + ε/R₀) D_{−1/p−1}(−ζ)]

    in MeV/cm per proton; returned in MeV/mm. With α = 0.0022 and p = 1.77 the
    constants are Bortfeld's water values 11.26 and 0.157 (tested).

    **Numerics.** e^{−ζ²/4}D_ν(−ζ) is evaluated with ``pbdv`` for
    −10 ≤ ζ ≤ 20. For ζ > 20 (more than 20 σ before R₀) the asymptotic series
    √(2π)/Γ(−ν) ζ^μ Σ C(μ, 2m)(2m − 1)!! ζ^{−2m} (μ = −ν − 1, 7 terms) is used;
    its first term is Bortfeld's far-from-peak (unstraggled) form and the
    series agrees with ``pbdv`` to ~1e-13 at the switch, so the curve is
    smooth. Deeper than R₀ + 10 σ the curve is exactly zero.

    **Normalisation.** IDD is the energy deposited per unit depth of water,
    integrated over the plane, per incident proton: MeV/mm. It is also the
    dose to water times area per proton: IDD × 1.602176634e-7 is Gy·mm² per
    proton (:data:`~rtwin.dose.proton.GY_PER_MEV_PER_MM3_WATER`). Integrated
    over depth it gives :attr:`deposited_energy_mev`:
    E₀ [1 + βR₀(1 + γp)/(p + 1) + εp/(p + 1)] / (1 + βR₀), i.e. E₀ minus the
    (1 − γ) share of the energy carried off by nuclear interactions.

    **Limits.** Water only: heterogeneities enter through the water-equivalent
    depth (:func:`water_equivalent_depth_mm`). Laterally integrated: the
    energy the model deposits "locally" from nuclear interactions really
    spreads into a wide halo, which a single-Gaussian pencil beam misses
    (so the field-size dependence of the dose is not modelled). Bortfeld states validity for about
    10–200 MeV; above 200 MeV (up to 300) it is an extrapolation of the linear
    fluence-loss model. No build-up at the surface (secondary protons and
    electron equilibrium). Range straggling and energy spread are Gaussian.

    References
    ----------
    .. [1] Bortfeld T. An analytical approximation of the Bragg curve for
       therapeutic proton beams. Med Phys 24:2024–2033 (1997),
       doi:10.1118/1.598116

    Examples
    --------
    >>> from rtwin.dose.proton import BraggCurve
    >>> curve = BraggCurve(energy_mev=150.0, energy_spread_mev=0.75)
    >>> round(curve.range_mm, 2), round(curve.r80_mm, 2)
    (157.7, 157.72)
    >>> idd = curve.idd_mev_per_mm([0.0, curve.peak_depth_mm, 200.0])
    >>> idd.round(3).tolist()
    [0.628, 2.856, 0.0]
    >>> round(curve.deposited_energy_mev / curve.energy_mev, 4)
    0.9593
    """

    energy_mev: float
    energy_spread_mev: float = 0.0
    tail_fraction: float = 0.0
    parameters: BortfeldParameters = BortfeldParameters()

    def __post_init__(self) -> None:
        low, high = PSTAR_ENERGY_RANGE_MEV
        energy = as_scalar(
            "energy_mev",
            self.energy_mev,
            unit="MeV",
            minimum=low,
            maximum=high,
            hint="the range-energy table (PSTAR) covers 10 to 300 MeV",
        )
        spread = as_scalar(
            "energy_spread_mev",
            self.energy_spread_mev,
            unit="MeV",
            minimum=0.0,
            maximum=_MAX_RELATIVE_SPREAD * energy,
            hint=f"give the Gaussian sigma of the spectrum, at most "
            f"{100 * _MAX_RELATIVE_SPREAD:g} % of energy_mev",
        )
        tail = as_scalar(
            "tail_fraction",
            self.tail_fraction,
            unit="",
            minimum=0.0,
            maximum=1.0,
            hint="Bortfeld's epsilon is a fraction; 0 means no low-energy tail",
        )
        if not isinstance(self.parameters, BortfeldParameters):
            raise ProtonPhysicsError(
                f"parameters must be a BortfeldParameters; got {type(self.parameters).__name__}"
            )
        object.__setattr__(self, "energy_mev", energy)
        object.__setattr__(self, "energy_spread_mev", spread)
        object.__setattr__(self, "tail_fraction", tail)

    # ------------------------------------------------------------------ model numbers
    def _model(self) -> _Model:
        return _model_numbers(
            self.energy_mev,
            self.energy_spread_mev,
            self.tail_fraction,
            self.parameters,
            range_mm=float(csda_range_mm(self.energy_mev)),
            stopping_power=float(mass_stopping_power_water(self.energy_mev)),
        )

    @property
    def range_mm(self) -> float:
        """R₀: the PSTAR CSDA range of the mean energy, in mm of water."""
        return float(csda_range_mm(self.energy_mev))

    @property
    def range_straggling_mm(self) -> float:
        """σ_mono = 0.012 R₀^0.935 (cm) in mm: range straggling of a monoenergetic beam."""
        par = self.parameters
        range_cm = self.range_mm / _CM_TO_MM
        return par.straggling_coefficient * range_cm**par.straggling_exponent * _CM_TO_MM

    @property
    def range_sigma_mm(self) -> float:
        """σ: total Gaussian range spread (straggling ⊕ energy spread), mm."""
        return self._model().sigma_cm * _CM_TO_MM

    @property
    def max_depth_mm(self) -> float:
        """Depth R₀ + 10 σ (mm) beyond which the curve is exactly zero."""
        model = self._model()
        return (model.range_cm + _ZETA_DISTAL_CUTOFF * model.sigma_cm) * _CM_TO_MM

    @property
    def deposited_energy_mev(self) -> float:
        """∫ IDD dz per proton (MeV), analytically.

        E₀ [1 + βR₀(1 + γp)/(p + 1) + εp/(p + 1)] / (1 + βR₀): the integral of
        the unstraggled curve. The Gaussian convolution keeps it except for
        the part smeared in front of the surface, about σ² IDD'(0)/2, i.e.
        ∫₀^∞ IDD dz differs from this by less than 1e-4 relative over
        70–230 MeV (tested; 4.6e-5 at 70 MeV with 1 % energy spread).
        """
        m = self._model()
        b = m.beta * m.range_cm
        return (
            self.energy_mev
            * (1.0 + b * (1.0 + m.gamma * m.p) / (m.p + 1.0) + m.epsilon * m.p / (m.p + 1.0))
            / (1.0 + b)
        )

    # ------------------------------------------------------------------ evaluation
    def idd_mev_per_mm(self, depth_mm: ArrayLike) -> NDArray[np.float64]:
        """Integral depth dose (MeV/mm per proton) at water(-equivalent) depths.

        Parameters
        ----------
        depth_mm
            Depth in water (or water-equivalent depth) in mm, ≥ 0, any shape.

        Returns
        -------
        numpy.ndarray
            IDD in MeV per mm per incident proton, same shape, ≥ 0.

        Raises
        ------
        ProtonPhysicsError
            A negative or non-finite depth.
        """
        depth = as_float_array(
            "depth_mm",
            depth_mm,
            unit="mm",
            minimum=0.0,
            hint="depths are measured from the water surface (or the patient's skin) along the beam",
        )
        return _bortfeld_idd_per_cm(depth / _CM_TO_MM, self._model()) / _CM_TO_MM

    def _idd_scalar(self, depth_mm: float, model: _Model) -> float:
        return float(_bortfeld_idd_per_cm(np.array([depth_mm / _CM_TO_MM]), model)[0]) / _CM_TO_MM

    def _peak(self) -> tuple[float, float]:
        model = self._model()
        r0, sigma = model.range_cm * _CM_TO_MM, model.sigma_cm * _CM_TO_MM
        grid = np.linspace(max(0.0, r0 - 12.0 * sigma), r0 + 2.0 * sigma, 281)
        values = _bortfeld_idd_per_cm(grid / _CM_TO_MM, model)
        k = int(np.argmax(values))
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
        result = minimize_scalar(
            lambda z: -self._idd_scalar(z, model),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-9 * max(r0, 1.0)},
        )
        depth = float(result.x)
        return depth, self._idd_scalar(depth, model)

    @property
    def peak_depth_mm(self) -> float:
        """Depth of the Bragg peak (maximum of the IDD), mm."""
        return self._peak()[0]

    @property
    def peak_idd_mev_per_mm(self) -> float:
        """IDD at the Bragg peak, MeV/mm per proton."""
        return self._peak()[1]

    def distal_depth_mm(self, fraction: float = 0.8) -> float:
        """Depth (mm) beyond the peak where the IDD falls to ``fraction`` of its maximum.

        ``distal_depth_mm(0.8)`` is R80, which for Bortfeld's model lies within
        ~0.02 mm of R₀ (tested over 70–230 MeV; see docs/physics_protons.md).

        Parameters
        ----------
        fraction
            Level relative to the peak IDD, 0 < fraction < 1.

        Returns
        -------
        float
            Depth in mm (root found to 1e-9 mm).
        """
        level = as_scalar(
            "fraction",
            fraction,
            unit="(of the peak)",
            minimum=0.0,
            maximum=1.0,
            strict_minimum=True,
            hint="e.g. 0.8 for R80, 0.2 for R20",
        )
        if level >= 1.0:
            raise ProtonPhysicsError("fraction must be < 1 (the peak itself is peak_depth_mm)")
        return self._distal_depth(level, self._peak())

    def _distal_depth(self, level: float, peak: tuple[float, float]) -> float:
        model = self._model()
        depth_peak, idd_peak = peak
        target = level * idd_peak
        return float(
            brentq(
                lambda z: self._idd_scalar(z, model) - target,
                depth_peak,
                self.max_depth_mm,
                xtol=1e-9,
                rtol=1e-14,
            )
        )

    @property
    def r80_mm(self) -> float:
        """R80: distal depth of 80 % of the peak IDD, mm."""
        return self.distal_depth_mm(0.8)


def _scaled_pcf(order: float, zeta: NDArray[np.float64]) -> NDArray[np.float64]:
    """e^{−ζ²/4} D_ν(−ζ) for ν < 0: pbdv in the middle, asymptotic series far before R₀."""
    result = np.zeros_like(zeta)
    middle = (zeta >= -_ZETA_DISTAL_CUTOFF) & (zeta <= _ZETA_ASYMPTOTIC)
    if np.any(middle):
        z = zeta[middle]
        result[middle] = np.exp(-0.25 * z * z) * pbdv(order, -z)[0]
    far = zeta > _ZETA_ASYMPTOTIC
    if np.any(far):
        z = zeta[far]
        mu = -order - 1.0
        factor, coefficients = _far_series(order)
        inverse_square = 1.0 / (z * z)
        total, power = np.ones_like(z), np.ones_like(z)
        for coefficient in coefficients[1:]:
            power = power * inverse_square
            total = total + coefficient * power
        result[far] = factor * z**mu * total
    return result


def _bortfeld_idd_per_cm(depth_cm: NDArray[np.float64], model: _Model) -> NDArray[np.float64]:
    """Bortfeld's closed form: MeV/cm per proton at depths in cm (no validation)."""
    r0, sigma, p = model.range_cm, model.sigma_cm, model.p
    zeta = (r0 - depth_cm) / sigma
    prefactor, weight_main, weight_tail = _closed_form_weights(model)
    idd = prefactor * (
        weight_main * _scaled_pcf(-1.0 / p, zeta) + weight_tail * _scaled_pcf(-1.0 / p - 1.0, zeta)
    )
    return np.maximum(idd, 0.0)


def r80_mm(energy_mev: ArrayLike, energy_spread_mev: ArrayLike = 0.0) -> NDArray[np.float64]:
    """R80 (mm) of Bortfeld's curve for each energy: the distal 80 % depth.

    Parameters
    ----------
    energy_mev
        Energies in MeV (10–300), any shape.
    energy_spread_mev
        Gaussian energy spread σ_E in MeV, broadcast against ``energy_mev``.

    Returns
    -------
    numpy.ndarray
        R80 in mm of water, shape of the broadcast inputs.

    Examples
    --------
    >>> from rtwin.dose.proton import csda_range_mm, r80_mm
    >>> (r80_mm([70.0, 230.0]) - csda_range_mm([70.0, 230.0])).round(2).tolist()
    [0.0, 0.02]
    """
    return _per_curve(energy_mev, energy_spread_mev, "r80_mm")


def _per_curve(
    energy_mev: ArrayLike, energy_spread_mev: ArrayLike, attribute: str
) -> NDArray[np.float64]:
    """One property of the Bragg curve of each (energy, spread) pair, broadcast."""
    energy, spread = np.broadcast_arrays(
        np.asarray(energy_mev, dtype=np.float64), np.asarray(energy_spread_mev, dtype=np.float64)
    )
    out = np.empty(energy.shape)
    for index in np.ndindex(energy.shape):
        curve = BraggCurve(energy_mev=float(energy[index]), energy_spread_mev=float(spread[index]))
        out[index] = getattr(curve, attribute)
    return out


def bragg_peak_depth_mm(
    energy_mev: ArrayLike, energy_spread_mev: ArrayLike = 0.0
) -> NDArray[np.float64]:
    """Depth (mm) of the Bragg peak of Bortfeld's curve for each energy.

    Examples
    --------
    >>> from rtwin.dose.proton import bragg_peak_depth_mm
    >>> bragg_peak_depth_mm([100.0, 200.0]).round(1).tolist()
    [76.5, 257.3]
    """
    return _per_curve(energy_mev, energy_spread_mev, "peak_depth_mm")


def water_equivalent_depth_mm(
    spr: ArrayLike, *, spacing_mm: float, depth_mm: ArrayLike
) -> NDArray[np.float64]:
    """Water-equivalent depth along a 1-D stopping-power-ratio profile.

    WED(d) = ∫₀^d SPR(z) dz for a profile of ``len(spr)`` consecutive
    segments of length ``spacing_mm`` starting at the surface (d = 0); SPR
    is constant within a segment, so WED is exact and piecewise linear.

    Parameters
    ----------
    spr
        Stopping-power ratios to water (≥ 0), shape (n,), first segment at the surface.
    spacing_mm
        Segment length in mm (> 0).
    depth_mm
        Geometric depths in mm within [0, n · spacing_mm], any shape.

    Returns
    -------
    numpy.ndarray
        Water-equivalent depth in mm, shape of ``depth_mm``.

    Examples
    --------
    >>> from rtwin.dose.proton import water_equivalent_depth_mm
    >>> water_equivalent_depth_mm([1.0, 1.0, 1.7, 1.0], spacing_mm=10.0,
    ...                           depth_mm=[5.0, 25.0, 40.0]).tolist()
    [5.0, 28.5, 47.0]
    """
    ratios = as_float_array(
        "spr",
        spr,
        unit="(ratio to water)",
        minimum=0.0,
        hint="stopping-power ratios are non-negative (air ~0.001)",
    )
    if ratios.ndim != 1:
        raise ProtonPhysicsError(
            f"spr must be a 1-D profile along the beam; got shape {ratios.shape}"
        )
    spacing = as_scalar("spacing_mm", spacing_mm, unit="mm", minimum=0.0, strict_minimum=True)
    length = ratios.size * spacing
    depth = as_float_array(
        "depth_mm",
        depth_mm,
        unit="mm",
        minimum=0.0,
        maximum=length,
        hint=f"the profile covers 0 to {length:g} mm ({ratios.size} segments of {spacing:g} mm)",
    )
    edges = np.arange(ratios.size + 1) * spacing
    cumulative = np.concatenate(([0.0], np.cumsum(ratios) * spacing))
    return np.interp(depth, edges, cumulative)


def idd_along_spr(
    curve: BraggCurve, spr: ArrayLike, *, spacing_mm: float, depth_mm: ArrayLike
) -> NDArray[np.float64]:
    """The curve's IDD (MeV/mm per proton) at geometric depths of a 1-D SPR profile.

    IDD_water(WED(d)) with WED from :func:`water_equivalent_depth_mm`: the
    dose-to-water convention of pencil-beam engines (energy per unit *water-
    equivalent* depth). Multiply by SPR(d) for the energy deposited per unit
    geometric depth. Heterogeneity is handled by range scaling only: the R80
    moves proximally by Σ (SPRᵢ − 1) tᵢ.

    Examples
    --------
    >>> from rtwin.dose.proton import BraggCurve, idd_along_spr
    >>> curve = BraggCurve(energy_mev=100.0)
    >>> spr = [1.0] * 20 + [1.7] * 20 + [1.0] * 60       # 2 cm of bone at 2 cm depth
    >>> idd = idd_along_spr(curve, spr, spacing_mm=1.0, depth_mm=[10.0, 63.0, 80.0])
    >>> (idd > 0).tolist()
    [True, True, False]
    """
    return curve.idd_mev_per_mm(
        water_equivalent_depth_mm(spr, spacing_mm=spacing_mm, depth_mm=depth_mm)
    )
