"""Poisson tumour control probability with linear-quadratic cell survival."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.errors import RadiobiologyError
from rtwin.evaluation import DVH
from rtwin.radiobiology._lq import check_fractions, check_positive

__all__ = ["TCPParameters", "poisson_tcp", "poisson_tcp_voxels"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TCPParameters:
    """Parameters of the Poisson–LQ tumour control model (no defaults: give your own).

    Parameters
    ----------
    alpha_per_gy
        α of the clonogens in Gy⁻¹ (> 0).
    beta_per_gy2
        β in Gy⁻² (>= 0; 0 is a purely linear survival curve). α/β is
        ``alpha_per_gy / beta_per_gy2``.
    clonogens_per_cc
        Clonogen density ρ in cells per cm³ (> 0), uniform in the volume.
    source
        Where the values come from (a citation or "assumed").

    Raises
    ------
    RadiobiologyError
        A value not finite or out of range.

    Notes
    -----
    rtwin ships no TCP parameters: published α, β and clonogen densities
    depend on the tumour, on the fit (often with a population spread of α
    that this model does not include) and on each other, so they must come
    with their source.

    Examples
    --------
    >>> from rtwin.radiobiology import TCPParameters
    >>> p = TCPParameters(alpha_per_gy=0.3, beta_per_gy2=0.03, clonogens_per_cc=1e7, source="illustration")
    >>> round(p.alpha_beta_gy, 6)
    10.0
    """

    alpha_per_gy: float
    beta_per_gy2: float
    clonogens_per_cc: float
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "alpha_per_gy", check_positive(self.alpha_per_gy, "TCP alpha_per_gy")
        )
        object.__setattr__(
            self, "clonogens_per_cc", check_positive(self.clonogens_per_cc, "TCP clonogens_per_cc")
        )
        beta = self.beta_per_gy2
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 <= beta < math.inf:
            raise RadiobiologyError(
                f"TCP beta_per_gy2 must be a finite number >= 0; got {self.beta_per_gy2!r}"
            )
        object.__setattr__(self, "beta_per_gy2", float(beta))
        if not isinstance(self.source, str):
            raise RadiobiologyError(
                f"TCPParameters.source must be a str; got {type(self.source).__name__}"
            )

    @property
    def alpha_beta_gy(self) -> float:
        """α/β in Gy (``inf`` when β is 0)."""
        return self.alpha_per_gy / self.beta_per_gy2 if self.beta_per_gy2 > 0 else math.inf


def _tcp(
    doses: NDArray[np.float64],
    volumes: NDArray[np.float64],
    parameters: TCPParameters,
    n_fractions: int,
) -> float:
    survival = np.exp(
        -parameters.alpha_per_gy * doses - parameters.beta_per_gy2 * doses * (doses / n_fractions)
    )
    surviving_clonogens = parameters.clonogens_per_cc * float(np.sum(volumes * survival))
    return math.exp(-surviving_clonogens)


def poisson_tcp(dvh: DVH, parameters: TCPParameters, *, n_fractions: int) -> float:
    """Poisson–LQ tumour control probability of a target's DVH.

    Parameters
    ----------
    dvh
        The target's DVH in physical dose (each bin a total dose).
    parameters
        :class:`TCPParameters` (α, β, clonogen density).
    n_fractions
        Number of equal fractions the doses are delivered in.

    Returns
    -------
    float
        TCP in 0–1.

    Raises
    ------
    RadiobiologyError
        Not a DVH or TCPParameters, ``n_fractions`` not a positive
        integer, negative doses.

    Notes
    -----
    .. math:: \\mathrm{TCP} = \\prod_i \\exp\\!\\big(-\\rho\\,v_i\\,
              e^{-\\alpha D_i - \\beta D_i d_i}\\big), \\qquad d_i = D_i / n

    over the DVH's bins (dose ``D_i``, volume ``v_i`` in cm³): the
    probability that no clonogen survives when the survivors are Poisson
    distributed. Each bin gets its own dose per fraction. The model has no
    repopulation, no spread of radiosensitivity between patients (so its
    dose–response is steeper than clinical data) and a uniform clonogen
    density; use it to compare plans, not to predict an outcome. TCP of a
    uniform dose ``D`` over ``V`` is ``exp(−ρ V exp(−αD − βD²/n))``.

    References
    ----------
    Webb S, Nahum AE. A model for calculating tumour control probability in
    radiotherapy including the effects of inhomogeneous distributions of
    dose and clonogenic cell density. Phys Med Biol 38(6):653-666 (1993).

    Examples
    --------
    >>> from rtwin.evaluation import DVH
    >>> from rtwin.radiobiology import TCPParameters, poisson_tcp
    >>> p = TCPParameters(alpha_per_gy=0.3, beta_per_gy2=0.03, clonogens_per_cc=1e7, source="illustration")
    >>> target = DVH(name="PTV", doses_gy=[60.0], volumes_cc=[50.0])
    >>> round(poisson_tcp(target, p, n_fractions=30), 3)
    0.812
    """
    if not isinstance(dvh, DVH):
        raise RadiobiologyError(f"poisson_tcp needs a rtwin DVH; got {type(dvh).__name__}")
    parameters = _check_parameters(parameters)
    n = check_fractions(n_fractions)
    if dvh.min_gy < 0:
        raise RadiobiologyError(
            f"DVH {dvh.name!r} has negative doses (down to {dvh.min_gy:g} Gy); TCP needs doses >= 0"
        )
    return _tcp(dvh.doses_gy, dvh.volumes_cc, parameters, n)


def poisson_tcp_voxels(
    doses_gy: ArrayLike,
    volumes_cc: ArrayLike,
    parameters: TCPParameters,
    *,
    n_fractions: int,
) -> float:
    """Poisson–LQ tumour control probability of voxel doses (see :func:`poisson_tcp`).

    Parameters
    ----------
    doses_gy
        Total physical dose of each voxel (any shape), e.g.
        ``dose.values[ptv.mask]`` for a dose and structure on one grid.
    volumes_cc
        Volume of each voxel in cm³: the same shape, or one number for all.
    parameters
        :class:`TCPParameters`.
    n_fractions
        Number of equal fractions.

    Returns
    -------
    float
        TCP in 0–1; 1 for no voxels.

    Raises
    ------
    RadiobiologyError
        Shapes that do not broadcast, negative or non-finite doses or
        volumes, invalid parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from rtwin.radiobiology import TCPParameters, poisson_tcp_voxels
    >>> p = TCPParameters(alpha_per_gy=0.3, beta_per_gy2=0.03, clonogens_per_cc=1e7, source="illustration")
    >>> round(poisson_tcp_voxels(np.full(400, 60.0), 0.125, p, n_fractions=30), 3)  # 50 cc
    0.812
    """
    parameters = _check_parameters(parameters)
    n = check_fractions(n_fractions)
    try:
        doses = np.asarray(doses_gy, dtype=np.float64)
        volumes = np.asarray(volumes_cc, dtype=np.float64)
        doses, volumes = np.broadcast_arrays(doses, volumes)
    except (TypeError, ValueError) as error:
        raise RadiobiologyError(
            f"doses_gy and volumes_cc must be numbers of matching shapes (or one volume for all "
            f"voxels): {error}"
        ) from None
    for values, what in ((doses, "doses_gy"), (volumes, "volumes_cc")):
        if not np.all(np.isfinite(values)):
            raise RadiobiologyError(f"{what} must be finite")
        if values.size and float(values.min()) < 0:
            raise RadiobiologyError(f"{what} must be >= 0; the lowest is {float(values.min()):g}")
    return _tcp(doses.ravel(), volumes.ravel(), parameters, n)


def _check_parameters(parameters: object) -> TCPParameters:
    if not isinstance(parameters, TCPParameters):
        raise RadiobiologyError(
            "TCP needs TCPParameters(alpha_per_gy=..., beta_per_gy2=..., clonogens_per_cc=...); "
            f"got {type(parameters).__name__}"
        )
    return parameters
