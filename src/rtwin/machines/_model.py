"""The photon finite-size pencil-beam model: parameters and the equations, once.

Everything that evaluates the model (kernel tables for the dose engine, the
bixel reference, open-field doses in water, the commissioning fit) calls the
functions of this module, so the engine and the fit share one physics.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import erf

from rtwin.machines._errors import MachineError

__all__ = [
    "COMPONENT_NAMES",
    "MODEL_ID",
    "PARAMETER_NAMES",
    "SCATTER_WEIGHTS",
    "SCATTER_WIDTH_FACTORS",
    "PhotonKernelParameters",
]

MODEL_ID = "rtwin.photon_fspb/1"
"""Identifier of this model's equations; stored in machine files and checked on reading."""

#: Weights w_j and widths c_j (σ_j = c_j λ) of the three Gaussians that stand in for the
#: normalised Ahnesjö scatter kernel b e^{-br} / (2π r) with λ = 1/b. Fitted here to the
#: kernel's cumulative dose on circular fields, 1 - e^{-bR}, for 0.02 ≤ bR ≤ 8 (largest
#: error 0.019 of the scatter dose; the weights sum to one, so an infinite field gets it all).
SCATTER_WEIGHTS: tuple[float, float, float] = (0.1296, 0.4014, 0.4690)
SCATTER_WIDTH_FACTORS: tuple[float, float, float] = (0.0650, 0.3875, 1.2889)

COMPONENT_NAMES: tuple[str, ...] = (
    "primary",
    "scatter (narrow)",
    "scatter (medium)",
    "scatter (broad)",
)
"""The model's lateral components, in the order of every ``(n_components, ...)`` array."""

_SQRT2 = math.sqrt(2.0)

#: name → (symbol, unit, meaning, lowest allowed, highest allowed); the limits only catch
#: unit mistakes (per cm for per mm, cm for mm), they are not the fit's bounds.
PARAMETER_INFO: dict[str, tuple[str, str, str, float, float]] = {
    "attenuation_per_mm": (
        "μ",
        "1/mm",
        "effective attenuation of the primary fluence in water",
        1e-4,
        0.05,
    ),
    "primary_buildup_per_mm": (
        "β_p",
        "1/mm",
        "build-up constant of the primary dose (secondary-electron range)",
        1e-3,
        10.0,
    ),
    "primary_sigma_mm": (
        "σ_p",
        "mm",
        "lateral Gaussian width of the primary dose (source blur and electron transport)",
        1e-3,
        50.0,
    ),
    "scatter_ratio": (
        "r_s",
        "1",
        "amplitude of the phantom-scatter dose relative to the primary",
        0.0,
        20.0,
    ),
    "scatter_buildup_per_mm": (
        "β_s",
        "1/mm",
        "build-up constant of the phantom-scatter dose",
        1e-5,
        10.0,
    ),
    "scatter_length_mm": (
        "λ_0",
        "mm",
        "scatter kernel length 1/b at the surface (kernel b e^{-br}/(2πr))",
        0.1,
        1000.0,
    ),
    "scatter_length_slope": (
        "κ",
        "mm/mm",
        "growth of the scatter kernel length with depth, λ(d) = λ_0 + κ d",
        0.0,
        10.0,
    ),
}

PARAMETER_NAMES: tuple[str, ...] = tuple(PARAMETER_INFO)
"""The names of :class:`PhotonKernelParameters`' fields, in order."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PhotonKernelParameters:
    """The seven numbers of rtwin's photon pencil-beam model.

    Parameters
    ----------
    attenuation_per_mm
        μ, effective attenuation coefficient of the primary fluence in water (1/mm).
    primary_buildup_per_mm
        β_p, build-up constant of the primary dose (1/mm); sets d_max.
    primary_sigma_mm
        σ_p, lateral Gaussian width of the primary dose in the plane of the voxel (mm):
        the source / collimator penumbra blur and the lateral transport of secondary
        electrons, combined in quadrature; constant with depth.
    scatter_ratio
        r_s, amplitude of the phantom-scatter dose relative to the primary (1).
    scatter_buildup_per_mm
        β_s, build-up constant of the scatter dose (1/mm).
    scatter_length_mm
        λ_0, length 1/b of the exponential scatter kernel at the surface (mm).
    scatter_length_slope
        κ, growth of the scatter length with depth (mm per mm): λ(d) = λ_0 + κ d.

    Notes
    -----
    See :class:`~rtwin.machines.PhotonMachine` for the equations. The parameters
    are relative: the absolute dose comes from the machine's calibration.

    Examples
    --------
    >>> from rtwin.machines import generic_6mv
    >>> parameters = generic_6mv().parameters
    >>> parameters.with_values(primary_sigma_mm=3.5).primary_sigma_mm
    3.5
    """

    attenuation_per_mm: float
    primary_buildup_per_mm: float
    primary_sigma_mm: float
    scatter_ratio: float
    scatter_buildup_per_mm: float
    scatter_length_mm: float
    scatter_length_slope: float

    def __post_init__(self) -> None:
        for item in fields(self):
            name = item.name
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
                raise MachineError(f"photon model parameter {name} must be a number; got {value!r}")
            value = float(value)
            _, unit, meaning, low, high = PARAMETER_INFO[name]
            if not (math.isfinite(value) and low <= value <= high):
                raise MachineError(
                    f"photon model parameter {name} = {value!r} {unit} ({meaning}) is outside "
                    f"[{low:g}, {high:g}] {unit}; check the unit (per mm, mm)"
                )
            object.__setattr__(self, name, value)

    def as_dict(self) -> dict[str, float]:
        """The parameters as ``{name: value}`` in :data:`PARAMETER_NAMES` order."""
        return asdict(self)

    @classmethod
    def from_mapping(cls, values: Any) -> PhotonKernelParameters:
        """Build from a mapping ``{name: value}`` holding exactly the seven names."""
        try:
            names = set(values)
        except TypeError:
            raise MachineError(
                f"photon model parameters must be a mapping of name to value; got {values!r}"
            ) from None
        missing = [name for name in PARAMETER_NAMES if name not in names]
        unknown = sorted(str(name) for name in names - set(PARAMETER_NAMES))
        if missing or unknown:
            raise MachineError(
                f"photon model parameters: missing {missing}, unknown {unknown}; "
                f"expected exactly {list(PARAMETER_NAMES)}"
            )
        return cls(**{name: values[name] for name in PARAMETER_NAMES})

    def with_values(self, **changes: float) -> PhotonKernelParameters:
        """A copy with some parameters changed (the original is untouched)."""
        unknown = sorted(set(changes) - set(PARAMETER_NAMES))
        if unknown:
            raise MachineError(
                f"unknown photon model parameter(s) {unknown}; valid: {list(PARAMETER_NAMES)}"
            )
        return replace(self, **changes)


# ---------------------------------------------------------------------------- the equations
def _buildup_shape(depth_mm: NDArray[np.float64], mu: float, beta: float) -> NDArray[np.float64]:
    """β/(β-μ) (e^{-μd} - e^{-βd}), written stably as β d e^{-μd} (1 - e^{-(β-μ)d})/((β-μ)d).

    Zero at and above the surface (d ≤ 0); the limit β → μ is β d e^{-μd}.
    """
    d = np.maximum(depth_mm, 0.0)
    x = (beta - mu) * d
    small = np.abs(x) < 1e-6
    safe = np.where(small, 1.0, x)
    ratio = np.where(small, 1.0 - 0.5 * x + x * x / 6.0, -np.expm1(-safe) / safe)
    return beta * d * np.exp(-mu * d) * ratio


def relative_amplitudes(
    parameters: PhotonKernelParameters, depth_mm: ArrayLike
) -> NDArray[np.float64]:
    """A_i(d) for the four components, primary amplitude one; shape (4, *depth.shape)."""
    d = np.asarray(depth_mm, dtype=np.float64)
    mu = parameters.attenuation_per_mm
    primary = _buildup_shape(d, mu, parameters.primary_buildup_per_mm)
    scatter = parameters.scatter_ratio * _buildup_shape(d, mu, parameters.scatter_buildup_per_mm)
    return np.stack([primary, *(weight * scatter for weight in SCATTER_WEIGHTS)])


def lateral_sigmas(parameters: PhotonKernelParameters, depth_mm: ArrayLike) -> NDArray[np.float64]:
    """σ_i(d), the Gaussian widths in the plane of the voxel (mm); shape (4, *depth.shape)."""
    d = np.maximum(np.asarray(depth_mm, dtype=np.float64), 0.0)
    primary = np.full_like(d, parameters.primary_sigma_mm)
    length = parameters.scatter_length_mm + parameters.scatter_length_slope * d
    return np.stack([primary, *(factor * length for factor in SCATTER_WIDTH_FACTORS)])


def _aperture_factor(
    offset_mm: NDArray[np.float64], width_mm: NDArray[np.float64], sigma_mm: NDArray[np.float64]
) -> NDArray[np.float64]:
    """½[erf((u + W/2)/(√2 s)) - erf((u - W/2)/(√2 s))]: a Gaussian over a slit of width W."""
    scale = _SQRT2 * sigma_mm
    half = 0.5 * width_mm
    return 0.5 * (erf((offset_mm + half) / scale) - erf((offset_mm - half) / scale))


def relative_aperture_dose(
    parameters: PhotonKernelParameters,
    *,
    sad_mm: float,
    depth_mm: ArrayLike,
    distance_mm: ArrayLike,
    u_mm: ArrayLike,
    v_mm: ArrayLike,
    width_u_mm: ArrayLike,
    width_v_mm: ArrayLike,
) -> NDArray[np.float64]:
    """Dose per unit weight, before calibration, from a uniform rectangular aperture.

    ``(u, v)`` is the point's offset from the aperture centre and ``width_*`` the
    aperture's sides, all in the isocentre plane; ``depth_mm`` is the radiological
    depth and ``distance_mm`` the distance from the source along the beam axis.
    A bixel and an open field are both apertures, so the two agree by construction.
    """
    d = np.asarray(depth_mm, dtype=np.float64)
    z = np.asarray(distance_mm, dtype=np.float64)
    u = np.asarray(u_mm, dtype=np.float64)
    v = np.asarray(v_mm, dtype=np.float64)
    wu = np.asarray(width_u_mm, dtype=np.float64)
    wv = np.asarray(width_v_mm, dtype=np.float64)
    d, z, u, v, wu, wv = np.broadcast_arrays(d, z, u, v, wu, wv)
    amplitudes = relative_amplitudes(parameters, d)
    # the widths live in the voxel's plane; projected to the isocentre plane by SAD/z
    sigmas = lateral_sigmas(parameters, d) * (sad_mm / z)
    lateral = _aperture_factor(u, wu, sigmas) * _aperture_factor(v, wv, sigmas)
    return (sad_mm / z) ** 2 * np.sum(amplitudes * lateral, axis=0)


def central_axis_maximum(
    parameters: PhotonKernelParameters,
    *,
    sad_mm: float,
    ssd_mm: float,
    field_u_mm: float,
    field_v_mm: float,
    max_depth_mm: float = 150.0,
    step_mm: float = 0.5,
) -> tuple[float, float]:
    """(d_max in mm, relative dose there) on the central axis of an open field in water.

    A 0.5 mm grid, then the vertex of the parabola through the best grid point and
    its neighbours (smooth in the parameters, so the fit's finite differences work).
    """
    depths = np.arange(0.0, max_depth_mm + 0.5 * step_mm, step_mm)
    doses = relative_aperture_dose(
        parameters,
        sad_mm=sad_mm,
        depth_mm=depths,
        distance_mm=ssd_mm + depths,
        u_mm=0.0,
        v_mm=0.0,
        width_u_mm=field_u_mm,
        width_v_mm=field_v_mm,
    )
    best = int(np.argmax(doses))
    if best == 0 or best == depths.size - 1:
        return float(depths[best]), float(doses[best])
    low, mid, high = doses[best - 1], doses[best], doses[best + 1]
    curvature = low - 2.0 * mid + high
    shift = 0.0 if curvature >= 0.0 else float(np.clip(0.5 * (low - high) / curvature, -1, 1))
    depth = float(depths[best] + shift * step_mm)
    dose = relative_aperture_dose(
        parameters,
        sad_mm=sad_mm,
        depth_mm=depth,
        distance_mm=ssd_mm + depth,
        u_mm=0.0,
        v_mm=0.0,
        width_u_mm=field_u_mm,
        width_v_mm=field_v_mm,
    )
    return depth, float(max(dose, mid))
