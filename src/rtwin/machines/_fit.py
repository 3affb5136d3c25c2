"""Commissioning: fit the photon pencil-beam model to measured depth doses and profiles."""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from rtwin.machines._errors import MachineError
from rtwin.machines._machine import PhotonMachine
from rtwin.machines._measurements import DepthDose, Measurement, Profile, check_measurements
from rtwin.machines._model import (
    PARAMETER_INFO,
    PARAMETER_NAMES,
    PhotonKernelParameters,
    central_axis_maximum,
    relative_aperture_dose,
)

__all__ = [
    "DEFAULT_BOUNDS",
    "FitPoint",
    "FittedParameter",
    "MachineFit",
    "Prior",
    "default_priors",
    "fit_photon_machine",
    "typical_dmax_cm",
]

logger = logging.getLogger(__name__)

_MATRAD = "matRad generic 6 MV machine (basedata/photons_Generic.mat, e0404/matRad)"

#: sqrt(2.0² + (5 / 2.355)²) mm: electron transport and matRad's 5 mm FWHM source blur.
_PRIMARY_SIGMA_MM = math.hypot(2.0, 5.0 / (2.0 * math.sqrt(2.0 * math.log(2.0))))


@dataclass(frozen=True, slots=True, kw_only=True)
class Prior:
    """A log-normal prior on one model parameter.

    Parameters
    ----------
    value
        The prior's centre (the parameter's unit), > 0.
    log_sd
        Standard deviation of ln(parameter): 0.1 ≈ ±10 %, 0.5 ≈ a factor 1.65.
    source
        Where the centre comes from.

    Examples
    --------
    >>> Prior(value=0.005, log_sd=0.5, source="matRad").log_sd
    0.5
    """

    value: float
    log_sd: float
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("value", "log_sd"):
            number = getattr(self, name)
            if isinstance(number, bool) or not isinstance(number, int | float | np.floating):
                raise MachineError(f"Prior: {name} must be a number; got {number!r}")
            if not (math.isfinite(float(number)) and float(number) > 0.0):
                raise MachineError(f"Prior: {name} = {number!r} must be finite and > 0")
            object.__setattr__(self, name, float(number))
        object.__setattr__(self, "source", str(self.source))


def default_priors() -> dict[str, Prior]:
    """The priors rtwin's fit starts from (centred on a 6 MV beam; broad).

    Returns
    -------
    dict
        ``{parameter name: Prior}`` for all seven parameters.

    Notes
    -----
    The data decide what they constrain (for BJR-25's six points: μ, r_s, β_s
    and the scatter length); the rest stays near these centres. See
    ``docs/machines.md`` for the reasoning behind each.

    Examples
    --------
    >>> sorted(default_priors())[:2]
    ['attenuation_per_mm', 'primary_buildup_per_mm']
    """
    return {
        "attenuation_per_mm": Prior(
            value=0.005066, log_sd=0.5, source=f"{_MATRAD}: primary attenuation m"
        ),
        "primary_buildup_per_mm": Prior(
            value=0.3252,
            log_sd=0.5,
            source=f"{_MATRAD}: first kernel component beta (Bortfeld et al. 1993 depth form)",
        ),
        "primary_sigma_mm": Prior(
            value=_PRIMARY_SIGMA_MM,
            log_sd=0.3,
            source=(
                "quadrature sum of the source blur of the matRad generic 6 MV machine "
                "(penumbraFWHMatIso = 5 mm, sigma 2.12 mm) and a Gaussian with the 80-20 % "
                "width of an Ahnesjo primary kernel e^(-ar)/r with a = 0.30/mm (sigma 2.0 mm; "
                "98 % of the primary dose within 13 mm, order of magnitude of Nyholm et al. "
                "2006 for 6 MV)"
            ),
        ),
        "scatter_ratio": Prior(
            value=0.3,
            log_sd=1.0,
            source="order of magnitude (scatter about a quarter of the dose at 10 cm for 10 x 10)",
        ),
        "scatter_buildup_per_mm": Prior(
            value=0.016, log_sd=0.7, source=f"{_MATRAD}: second kernel component beta"
        ),
        "scatter_length_mm": Prior(
            value=60.0,
            log_sd=0.5,
            source=(
                "with the slope, lambda(100 mm) = 85 mm, i.e. b = 0.12/cm: 98 % of the scatter "
                "dose within about 33 cm for 6 MV (order of magnitude of Nyholm et al. 2006)"
            ),
        ),
        "scatter_length_slope": Prior(
            value=0.25, log_sd=0.5, source="scatter spreads wider with depth; loose guess"
        ),
    }


DEFAULT_BOUNDS: dict[str, tuple[float, float]] = {
    "attenuation_per_mm": (0.001, 0.02),
    "primary_buildup_per_mm": (0.02, 3.0),
    "primary_sigma_mm": (0.1, 10.0),
    "scatter_ratio": (0.001, 5.0),
    "scatter_buildup_per_mm": (0.0005, 0.2),
    "scatter_length_mm": (5.0, 400.0),
    "scatter_length_slope": (0.001, 3.0),
}
"""Hard physical bounds of the fit (parameter units)."""

#: Depth of maximum dose (cm) for a 10 x 10 cm² field, from teaching notes (lixinzhan/MedPhys,
#: secondary and unsourced; loose): Co-60 (taken as 1.25 MV) 0.5, 6 MV 1.5, 10 MV 2.4, 15 MV 2.9.
_TYPICAL_DMAX = ((1.25, 0.5), (6.0, 1.5), (10.0, 2.4), (15.0, 2.9))


def typical_dmax_cm(energy_mv: float) -> float:
    """A typical d_max (cm) for a nominal energy, for the soft d_max constraint.

    Linear interpolation in MV through Co-60 0.5 cm, 6 MV 1.5 cm, 10 MV 2.4 cm
    and 15 MV 2.9 cm (teaching-note values; loose sanity data only).

    Raises
    ------
    MachineError
        Outside 1.25–15 MV: give ``dmax_cm`` to :func:`fit_photon_machine` instead.

    Examples
    --------
    >>> typical_dmax_cm(6.0), round(typical_dmax_cm(8.0), 2)
    (1.5, 1.95)
    """
    energies = [energy for energy, _ in _TYPICAL_DMAX]
    if not energies[0] <= energy_mv <= energies[-1]:
        raise MachineError(
            f"no typical d_max for {energy_mv:g} MV (table spans {energies[0]:g}-{energies[-1]:g} "
            f"MV); pass dmax_cm=... or dmax_constraint='never' to fit_photon_machine"
        )
    return float(np.interp(energy_mv, energies, [depth for _, depth in _TYPICAL_DMAX]))


@dataclass(frozen=True, slots=True, kw_only=True)
class FitPoint:
    """One measured point against the fitted model.

    ``kind`` is ``"depth_dose"`` (percent of the central-axis maximum) or
    ``"profile"`` (percent of the central axis at that depth);
    ``residual_pp = model_percent − measured_percent`` in percentage points.
    """

    measurement_index: int
    kind: Literal["depth_dose", "profile"]
    field_size_cm: tuple[float, float]
    ssd_cm: float
    depth_cm: float
    off_axis_cm: float
    measured_percent: float
    model_percent: float
    residual_pp: float
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FittedParameter:
    """One model parameter after the fit.

    ``relative_sd`` is the posterior standard deviation of ln(value) (≈ relative
    uncertainty; NaN when fixed). ``data_share`` is 1 − posterior variance /
    prior variance: near 1 when the data determined the parameter, near 0 when
    the prior did.
    """

    name: str
    symbol: str
    unit: str
    value: float
    fixed: bool
    prior_value: float
    prior_log_sd: float
    relative_sd: float
    data_share: float
    source: str


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MachineFit:
    """The result of :func:`fit_photon_machine`.

    Attributes
    ----------
    machine
        The fitted, calibrated :class:`~rtwin.machines.PhotonMachine`.
    points
        Every measured point with the model value and residual.
    parameters
        The parameters with priors, uncertainties and data share.
    rms_pp, max_abs_pp
        Root-mean-square and largest absolute residual (percentage points).
    converged
        Whether the optimizer met its tolerance (non-convergence is a state,
        not an exception).
    message
        The optimizer's message, plus notes (parameters at a bound).
    n_evaluations
        Model evaluations used.
    cost
        Final half sum of squared standardised residuals (data, priors, d_max).
    dmax_constraint_applied
        Whether the soft d_max constraint was used (only without build-up data).
    dmax_target_cm, dmax_model_cm
        Its target and the fitted model's d_max for 10 × 10 cm² at SSD = SAD.
    """

    machine: PhotonMachine
    points: tuple[FitPoint, ...]
    parameters: tuple[FittedParameter, ...]
    rms_pp: float
    max_abs_pp: float
    converged: bool
    message: str
    n_evaluations: int
    cost: float
    dmax_constraint_applied: bool
    dmax_target_cm: float | None
    dmax_model_cm: float

    @property
    def residuals_pp(self) -> NDArray[np.float64]:
        """Model − measured for every point (percentage points), in point order."""
        residuals = np.array([point.residual_pp for point in self.points], dtype=np.float64)
        residuals.flags.writeable = False
        return residuals

    def table(self) -> str:
        """The residuals as a Markdown table."""
        lines = [
            "| field (cm) | SSD (cm) | depth (cm) | off-axis (cm) | measured (%) | model (%) "
            "| residual (pp) |",
            "|---|---|---|---|---|---|---|",
        ]
        for point in self.points:
            field = f"{point.field_size_cm[0]:g} x {point.field_size_cm[1]:g}"
            lines.append(
                f"| {field} | {point.ssd_cm:g} | {point.depth_cm:g} | {point.off_axis_cm:g} "
                f"| {point.measured_percent:.1f} | {point.model_percent:.2f} "
                f"| {point.residual_pp:+.2f} |"
            )
        return "\n".join(lines)

    def parameter_table(self) -> str:
        """The parameters, priors and data share as a Markdown table."""
        lines = [
            "| parameter | value | unit | prior | data share | fixed |",
            "|---|---|---|---|---|---|",
        ]
        for item in self.parameters:
            lines.append(
                f"| {item.name} ({item.symbol}) | {item.value:.5g} | {item.unit} "
                f"| {item.prior_value:.4g} (x/÷ {math.exp(item.prior_log_sd):.2f}) "
                f"| {item.data_share:.0%} | {'yes' if item.fixed else 'no'} |"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------- the fit
class _Problem:
    """The fit's fixed inputs; evaluates the model for all measured points."""

    def __init__(self, measurements: tuple[Measurement, ...], sad_mm: float) -> None:
        self.measurements = measurements
        self.sad_mm = sad_mm
        keys: dict[tuple[float, float, float], int] = {}
        for measurement in measurements:
            keys.setdefault((*measurement.field_size_cm, measurement.ssd_cm), len(keys))
        self.field_keys = list(keys)
        measured: list[NDArray[np.float64]] = []
        weights: list[NDArray[np.float64]] = []
        for measurement in measurements:
            measured.append(measurement.values_percent)
            weights.append(np.full(measurement.values_percent.shape, measurement.uncertainty_pp))
        self.measured = np.concatenate(measured)
        self.uncertainty = np.concatenate(weights)

    def predict(self, parameters: PhotonKernelParameters) -> NDArray[np.float64]:
        maxima = {
            key: central_axis_maximum(
                parameters,
                sad_mm=self.sad_mm,
                ssd_mm=10.0 * key[2],
                field_u_mm=10.0 * key[0],
                field_v_mm=10.0 * key[1],
            )[1]
            for key in self.field_keys
        }
        values: list[NDArray[np.float64]] = []
        for measurement in self.measurements:
            ssd_mm = 10.0 * measurement.ssd_cm
            width_u, width_v = (10.0 * side for side in measurement.field_size_cm)
            if isinstance(measurement, DepthDose):
                depth = 10.0 * measurement.depths_cm
                dose = relative_aperture_dose(
                    parameters,
                    sad_mm=self.sad_mm,
                    depth_mm=depth,
                    distance_mm=ssd_mm + depth,
                    u_mm=0.0,
                    v_mm=0.0,
                    width_u_mm=width_u,
                    width_v_mm=width_v,
                )
                key = (*measurement.field_size_cm, measurement.ssd_cm)
                values.append(100.0 * dose / maxima[key])
            else:
                depth = 10.0 * measurement.depth_cm
                distance = ssd_mm + depth
                lateral = 10.0 * measurement.off_axis_cm * self.sad_mm / distance
                zero = np.zeros_like(lateral)
                u, v = (lateral, zero) if measurement.axis == "x" else (zero, lateral)
                common = {
                    "sad_mm": self.sad_mm,
                    "depth_mm": depth,
                    "distance_mm": distance,
                    "width_u_mm": width_u,
                    "width_v_mm": width_v,
                }
                dose = relative_aperture_dose(parameters, u_mm=u, v_mm=v, **common)
                centre = relative_aperture_dose(parameters, u_mm=0.0, v_mm=0.0, **common)
                values.append(100.0 * dose / centre)
        return np.concatenate(values)


def fit_photon_machine(
    measurements: Sequence[DepthDose | Profile],
    *,
    energy_mv: float,
    name: str | None = None,
    initial: PhotonKernelParameters | None = None,
    priors: Mapping[str, Prior] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    fixed: Collection[str] | None = None,
    dmax_cm: float | None = None,
    dmax_sd_cm: float = 0.1,
    dmax_constraint: Literal["auto", "always", "never"] = "auto",
    source_axis_distance_mm: float = 1000.0,
    reference_dose_gy: float = 1.0,
    max_evaluations: int = 2000,
) -> MachineFit:
    """Fit (commission) the photon pencil-beam model to measured beam data.

    Minimises, with :func:`scipy.optimize.least_squares` (trust-region
    reflective, bounds, in log-parameter space), the sum of squares of

    * (model − measured) / uncertainty for every measured point;
    * (ln p − ln p_prior) / log_sd for every free parameter (log-normal priors,
      which keep the fit well posed when the data are few);
    * (d_max,model − d_max,target) / dmax_sd_cm for the 10 × 10 cm² field at
      SSD = SAD — a soft constraint used only when the data hold no point in the
      build-up region (no depth dose shallower than the target), or when asked.

    Parameters
    ----------
    measurements
        :class:`DepthDose` and :class:`Profile` objects (at least one).
    energy_mv
        Nominal energy (MV): the machine's label and the typical d_max.
    name
        Machine name (default ``"fitted <E> MV"``).
    initial
        Starting parameters (default: the prior centres), clipped into bounds.
    priors
        Replacements for entries of :func:`default_priors`.
    bounds
        Replacements for entries of :data:`DEFAULT_BOUNDS` (parameter units).
    fixed
        Parameters held at their starting value. Default: the primary width
        ``primary_sigma_mm`` when no profile is given (central-axis data of
        fields above a few cm cannot see it), none otherwise.
    dmax_cm
        Target of the soft d_max constraint (default :func:`typical_dmax_cm`).
    dmax_sd_cm
        Its standard deviation (cm).
    dmax_constraint
        ``"auto"`` (only without build-up points), ``"always"`` or ``"never"``.
    source_axis_distance_mm
        Source-axis distance, SAD (mm).
    reference_dose_gy
        Calibration of the fitted machine (see :class:`PhotonMachine`).
    max_evaluations
        Limit of model evaluations; reaching it gives ``converged=False``.

    Returns
    -------
    MachineFit
        The machine, residuals per point, RMS, largest residual, parameters
        with priors and data share, and the optimizer's state.

    Raises
    ------
    MachineError
        For invalid measurements or options (unknown parameter names, bounds
        that exclude the start, an energy without a typical d_max).

    Notes
    -----
    Deterministic: no randomness, the same inputs give the same machine.
    Profiles are compared in percent of the model's own central-axis dose at
    the same depth, depth doses in percent of the model's own maximum, so the
    measured normalisation must follow the same convention.

    References
    ----------
    .. [1] British Journal of Radiology Supplement 25 (1996), *Central axis
       depth dose data for use in radiotherapy*.
    .. [2] T. Bortfeld, W. Schlegel, B. Rhein, Med. Phys. 20, 311-318 (1993).
       doi:10.1118/1.597070

    Examples
    --------
    >>> from rtwin.machines import bjr25_depth_doses, fit_photon_machine
    >>> fit = fit_photon_machine(bjr25_depth_doses(8), energy_mv=8)
    >>> fit.converged, fit.max_abs_pp < 1.0
    (True, True)
    """
    items = check_measurements(measurements)
    energy = _number(energy_mv, "energy_mv", positive=True)
    if energy > 50.0:
        raise MachineError(f"energy_mv = {energy:g}; give the nominal energy in MV (6, not 6000)")
    sad = _number(source_axis_distance_mm, "source_axis_distance_mm", positive=True)
    if dmax_constraint not in ("auto", "always", "never"):
        raise MachineError(
            f"dmax_constraint must be 'auto', 'always' or 'never'; got {dmax_constraint!r}"
        )
    if (
        isinstance(max_evaluations, bool)
        or not isinstance(max_evaluations, int)
        or max_evaluations < 10
    ):
        raise MachineError(f"max_evaluations must be an integer >= 10; got {max_evaluations!r}")
    all_priors = default_priors()
    for key, prior in dict(priors or {}).items():
        _check_name(key, "priors")
        if not isinstance(prior, Prior):
            raise MachineError(f"priors[{key!r}] must be a Prior; got {type(prior).__name__}")
        all_priors[key] = prior
    all_bounds = dict(DEFAULT_BOUNDS)
    for key, pair in dict(bounds or {}).items():
        _check_name(key, "bounds")
        try:
            low, high = (float(value) for value in pair)
        except (TypeError, ValueError):
            raise MachineError(f"bounds[{key!r}] must be (low, high); got {pair!r}") from None
        if not (0.0 < low < high and math.isfinite(high)):
            raise MachineError(f"bounds[{key!r}] = {pair!r} must satisfy 0 < low < high")
        all_bounds[key] = (low, high)
    has_profiles = any(isinstance(item, Profile) for item in items)
    if fixed is None:
        held = set() if has_profiles else {"primary_sigma_mm"}
    else:
        if isinstance(fixed, str):
            raise MachineError(f"fixed must be a collection of names; got the string {fixed!r}")
        held = set(fixed)
        for key in held:
            _check_name(key, "fixed")
    free = [key for key in PARAMETER_NAMES if key not in held]
    if not free:
        raise MachineError("every parameter is fixed; free at least one to fit")

    if initial is not None and not isinstance(initial, PhotonKernelParameters):
        raise MachineError(f"initial must be PhotonKernelParameters; got {type(initial).__name__}")
    start = (
        initial.as_dict()
        if initial is not None
        else {key: all_priors[key].value for key in PARAMETER_NAMES}
    )
    for key in free:
        low, high = all_bounds[key]
        if not low <= all_priors[key].value <= high:
            raise MachineError(
                f"the prior of {key} ({all_priors[key].value:g}) lies outside its bounds "
                f"[{low:g}, {high:g}]; widen the bounds or move the prior"
            )
        start[key] = float(np.clip(start[key], low * (1 + 1e-9), high * (1 - 1e-9)))

    # d_max constraint: only when the data hold no build-up point
    target: float | None = None
    if dmax_constraint != "never":
        target = typical_dmax_cm(energy) if dmax_cm is None else _number(dmax_cm, "dmax_cm", True)
        dmax_sd = _number(dmax_sd_cm, "dmax_sd_cm", positive=True)
        buildup = any(
            isinstance(item, DepthDose) and float(item.depths_cm.min()) < target for item in items
        )
        apply_dmax = dmax_constraint == "always" or not buildup
    else:
        apply_dmax, dmax_sd = False, 1.0

    problem = _Problem(items, sad)
    prior_centre = np.log([all_priors[key].value for key in free])
    prior_sd = np.array([all_priors[key].log_sd for key in free])

    def parameters_of(x: NDArray[np.float64]) -> PhotonKernelParameters:
        values = dict(start)
        values.update(zip(free, np.exp(x).tolist(), strict=True))
        return PhotonKernelParameters(**values)

    def residuals(x: NDArray[np.float64]) -> NDArray[np.float64]:
        parameters = parameters_of(x)
        data = (problem.predict(parameters) - problem.measured) / problem.uncertainty
        parts = [data, (x - prior_centre) / prior_sd]
        if apply_dmax:
            depth_mm, _ = central_axis_maximum(
                parameters, sad_mm=sad, ssd_mm=sad, field_u_mm=100.0, field_v_mm=100.0
            )
            parts.append(np.array([(depth_mm / 10.0 - target) / dmax_sd]))
        return np.concatenate(parts)

    lower = np.log([all_bounds[key][0] for key in free])
    upper = np.log([all_bounds[key][1] for key in free])
    x0 = np.log([start[key] for key in free])
    solution = least_squares(
        residuals,
        x0,
        bounds=(lower, upper),
        method="trf",
        x_scale=1.0,
        diff_step=1e-6,
        xtol=1e-10,
        ftol=1e-10,
        gtol=1e-10,
        max_nfev=max_evaluations,
    )
    fitted = parameters_of(solution.x)
    model = problem.predict(fitted)
    residual = model - problem.measured

    # posterior (Gauss-Newton) spread of ln p and the share the data had in it
    jacobian = np.asarray(solution.jac, dtype=np.float64)
    covariance = np.linalg.pinv(jacobian.T @ jacobian)
    posterior_var = np.clip(np.diag(covariance), 0.0, None)
    share = np.clip(1.0 - posterior_var / prior_sd**2, 0.0, 1.0)

    data_sources = sorted({item.source for item in items if item.source}) or ["unnamed data"]
    notes: list[str] = []
    at_bound = [
        key
        for key, value, low, high in zip(free, solution.x, lower, upper, strict=True)
        if value - low < 1e-6 or high - value < 1e-6
    ]
    if at_bound:
        notes.append(f"at a bound: {', '.join(at_bound)} (check the data or widen the bounds)")
    parameters: list[FittedParameter] = []
    sources: dict[str, str] = {}
    for key in PARAMETER_NAMES:
        symbol, unit, _, _, _ = PARAMETER_INFO[key]
        prior = all_priors[key]
        value = getattr(fitted, key)
        if key in free:
            index = free.index(key)
            relative_sd = float(math.sqrt(posterior_var[index]))
            data_share = float(share[index])
            constrained = "the data and the d_max constraint" if apply_dmax else "the data"
            sources[key] = (
                f"fitted to {'; '.join(data_sources)} ({data_share:.0%} of the information from "
                f"{constrained}, the rest from the prior: {prior.source})"
            )
        else:
            relative_sd, data_share = float("nan"), 0.0
            origin = "given initial value" if initial is not None else prior.source
            sources[key] = f"fixed, not fitted: {origin}"
        parameters.append(
            FittedParameter(
                name=key,
                symbol=symbol,
                unit=unit,
                value=value,
                fixed=key not in free,
                prior_value=prior.value,
                prior_log_sd=prior.log_sd,
                relative_sd=relative_sd,
                data_share=data_share,
                source=sources[key],
            )
        )
    if apply_dmax:
        sources["primary_buildup_per_mm"] += (
            f"; soft constraint d_max(10 x 10, SSD = SAD) = {target:g} +- {dmax_sd:g} cm"
        )

    machine = PhotonMachine(
        name=name if name is not None else f"fitted {energy:g} MV",
        nominal_energy_mv=energy,
        parameters=fitted,
        source_axis_distance_mm=sad,
        reference_dose_gy=reference_dose_gy,
        sources=sources,
        description=(
            f"fit_photon_machine: {residual.size} points from {'; '.join(data_sources)}; "
            f"RMS {float(np.sqrt(np.mean(residual**2))):.2f} pp, max "
            f"{float(np.abs(residual).max()):.2f} pp"
            + (f"; d_max soft constraint {target:g} cm" if apply_dmax else "")
        ),
    )
    points: list[FitPoint] = []
    offset = 0
    for index, item in enumerate(items):
        count = item.values_percent.size
        for local in range(count):
            is_depth = isinstance(item, DepthDose)
            points.append(
                FitPoint(
                    measurement_index=index,
                    kind="depth_dose" if is_depth else "profile",
                    field_size_cm=item.field_size_cm,
                    ssd_cm=item.ssd_cm,
                    depth_cm=float(item.depths_cm[local]) if is_depth else item.depth_cm,
                    off_axis_cm=0.0 if is_depth else float(item.off_axis_cm[local]),
                    measured_percent=float(problem.measured[offset + local]),
                    model_percent=float(model[offset + local]),
                    residual_pp=float(residual[offset + local]),
                    source=item.source,
                )
            )
        offset += count
    dmax_model = machine.depth_of_maximum_cm(field_size_cm=10.0, ssd_cm=sad / 10.0)
    converged = bool(solution.status > 0)
    message = str(solution.message) + ("; " + "; ".join(notes) if notes else "")
    result = MachineFit(
        machine=machine,
        points=tuple(points),
        parameters=tuple(parameters),
        rms_pp=float(np.sqrt(np.mean(residual**2))),
        max_abs_pp=float(np.abs(residual).max()),
        converged=converged,
        message=message,
        n_evaluations=int(solution.nfev),
        cost=float(solution.cost),
        dmax_constraint_applied=apply_dmax,
        dmax_target_cm=target,
        dmax_model_cm=dmax_model,
    )
    logger.info(
        "fit_photon_machine %s: %d points, RMS %.3f pp, max %.3f pp, converged %s (%d evaluations)",
        machine.name,
        residual.size,
        result.rms_pp,
        result.max_abs_pp,
        converged,
        result.n_evaluations,
    )
    return result


def _check_name(key: object, where: str) -> None:
    if key not in PARAMETER_NAMES:
        raise MachineError(f"{where}: unknown parameter {key!r}; valid: {list(PARAMETER_NAMES)}")


def _number(value: object, name: str, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise MachineError(f"{name} must be a number; got {value!r}")
    result = float(value)
    if not math.isfinite(result) or (positive and result <= 0.0):
        raise MachineError(f"{name} = {result!r} must be finite and > 0")
    return result
