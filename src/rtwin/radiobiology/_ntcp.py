"""gEUD and the Lyman-Kutcher-Burman normal-tissue complication probability."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from rtwin.errors import RadiobiologyError
from rtwin.evaluation import DVH
from rtwin.radiobiology._lq import check_fractions, check_positive, eqd2

__all__ = ["LKBParameters", "geud", "lkb_ntcp"]


def geud(dvh: DVH, a: float) -> float:
    """Generalized equivalent uniform dose of a DVH, ``(Σ vᵢ Dᵢᵃ / V)^(1/a)`` in Gy.

    The one implementation is :meth:`rtwin.evaluation.DVH.geud_gy` (also
    the ``gEUD(a=...)`` metric); this function calls it. ``a = 1`` is the
    mean dose, large positive ``a`` tends to the maximum (serial organs),
    negative ``a`` to the minimum (targets). In the LKB model ``a = 1/n``.
    To take it in EQD2, convert the DVH first: ``geud(eqd2(dvh, ...), a)``.

    Raises
    ------
    EvaluationError
        ``a`` is 0 or not finite, or the DVH has negative doses.

    References
    ----------
    Niemierko A. Reporting and analyzing dose distributions: a concept of
    equivalent uniform dose. Med Phys 24(1):103-110 (1997).
    doi:10.1118/1.598063

    Examples
    --------
    >>> from rtwin.evaluation import DVH
    >>> from rtwin.radiobiology import geud
    >>> dvh = DVH(name="Organ", doses_gy=[10.0, 30.0], volumes_cc=[1.0, 1.0])
    >>> geud(dvh, 1.0), round(geud(dvh, 2.0), 4)
    (20.0, 22.3607)
    """
    if not isinstance(dvh, DVH):
        raise RadiobiologyError(f"geud needs a rtwin DVH; got {type(dvh).__name__}")
    return dvh.geud_gy(a)


@dataclass(frozen=True, slots=True, kw_only=True)
class LKBParameters:
    """Parameters of the Lyman-Kutcher-Burman NTCP model for one organ and endpoint.

    Parameters
    ----------
    td50_gy
        Uniform whole-organ dose with a 50 % complication probability, in
        Gy (> 0).
    m
        Slope parameter (> 0): the standard deviation of the probit
        dose-response as a fraction of TD50.
    n
        Volume parameter (> 0): gEUD is taken with ``a = 1/n``; ``n = 1``
        is the mean dose (parallel organ), small ``n`` tends to the maximum
        (serial organ). Not the number of fractions.
    organ, endpoint
        What the parameters describe (free text).
    source
        Where they come from (a citation); say which dose they refer to
        (physical dose in 1.8–2 Gy fractions or EQD2).

    Raises
    ------
    RadiobiologyError
        ``td50_gy``, ``m`` or ``n`` not a finite number > 0.

    Notes
    -----
    Published LKB fits (Burman et al. 1991, QUANTEC) are to the physical
    dose of conventionally fractionated courses, 1.8–2 Gy per fraction,
    which is (nearly) EQD2. Use them on a plan with another fractionation
    only after converting its DVH to EQD2 (:func:`lkb_ntcp` with
    ``n_fractions`` and ``alpha_beta_gy``).

    Examples
    --------
    >>> from rtwin.radiobiology import LKBParameters
    >>> p = LKBParameters(td50_gy=50.0, m=0.2, n=0.5, endpoint="illustration", source="made up")
    >>> p.a, p.ntcp(50.0), round(p.ntcp(60.0), 4)
    (2.0, 0.5, 0.8413)
    """

    td50_gy: float
    m: float
    n: float
    organ: str = ""
    endpoint: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "td50_gy", check_positive(self.td50_gy, "LKB td50_gy"))
        object.__setattr__(self, "m", check_positive(self.m, "LKB slope parameter m"))
        object.__setattr__(self, "n", check_positive(self.n, "LKB volume parameter n"))
        for name in ("organ", "endpoint", "source"):
            if not isinstance(getattr(self, name), str):
                raise RadiobiologyError(
                    f"LKBParameters.{name} must be a str; got {type(getattr(self, name)).__name__}"
                )

    @property
    def a(self) -> float:
        """The gEUD exponent ``1 / n``."""
        return 1.0 / self.n

    def ntcp(self, geud_gy: float) -> float:
        """NTCP for an organ whose gEUD (with ``a = 1/n``) is ``geud_gy``: ``Φ(t)``.

        ``t = (gEUD − TD50) / (m · TD50)`` and ``Φ`` is the standard normal
        cumulative distribution. ``ntcp(td50_gy)`` is 0.5.
        """
        if isinstance(geud_gy, bool) or not isinstance(geud_gy, numbers.Real):
            raise RadiobiologyError(f"gEUD must be a number in Gy; got {geud_gy!r}")
        value = float(geud_gy)
        if not math.isfinite(value) or value < 0:
            raise RadiobiologyError(f"gEUD must be a finite dose >= 0 Gy; got {geud_gy!r}")
        t = (value - self.td50_gy) / (self.m * self.td50_gy)
        return 0.5 * math.erfc(-t / math.sqrt(2.0))


def lkb_ntcp(
    dvh: DVH,
    parameters: LKBParameters,
    *,
    n_fractions: int | None = None,
    alpha_beta_gy: float | None = None,
) -> float:
    """Lyman-Kutcher-Burman normal-tissue complication probability of a DVH.

    Parameters
    ----------
    dvh
        The organ's DVH in physical dose (total dose of the course).
    parameters
        :class:`LKBParameters` (TD50, m, n), given by you or from
        :func:`lkb_parameters`.
    n_fractions, alpha_beta_gy
        Give both to convert the DVH to EQD2 first (:func:`eqd2`: each
        bin is a total dose in ``n_fractions`` equal fractions, α/β of the
        organ in Gy). Give neither to use the DVH's doses as they are.

    Returns
    -------
    float
        NTCP in 0–1.

    Raises
    ------
    RadiobiologyError
        Only one of ``n_fractions`` and ``alpha_beta_gy``, invalid values,
        negative doses, or not a DVH / LKBParameters.

    Notes
    -----
    .. math:: \\mathrm{NTCP} = \\Phi(t), \\qquad
              t = \\frac{\\mathrm{gEUD} - TD_{50}}{m\\,TD_{50}}, \\qquad
              \\mathrm{gEUD} = \\Big(\\sum_i \\frac{v_i}{V} D_i^{1/n}\\Big)^{n}

    with ``Φ`` the standard normal cumulative distribution and gEUD from
    :meth:`~rtwin.evaluation.DVH.geud_gy` (the Kutcher–Burman effective
    volume reduction written as a gEUD with ``a = 1/n``).

    **Which dose you get.** Without ``n_fractions`` / ``alpha_beta_gy``
    the gEUD is of the physical dose in the DVH. Published LKB
    parameters are fits to conventionally fractionated courses (1.8–2 Gy
    per fraction), so that is right only for such a plan. For any other
    fractionation pass both, and the gEUD is of the EQD2 DVH; α/β is the
    organ's (typically 2–4 Gy for late effects; see
    :func:`alpha_beta_values`).

    References
    ----------
    Lyman JT. Complication probability as assessed from dose-volume
    histograms. Radiat Res Suppl 8:S13-S19 (1985).

    Kutcher GJ, Burman C. Calculation of complication probability factors
    for non-uniform normal tissue irradiation: the effective volume
    method. Int J Radiat Oncol Biol Phys 16(6):1623-1630 (1989).

    Niemierko A. Reporting and analyzing dose distributions: a concept of
    equivalent uniform dose. Med Phys 24(1):103-110 (1997).
    doi:10.1118/1.598063

    Examples
    --------
    >>> from rtwin.evaluation import DVH
    >>> from rtwin.radiobiology import LKBParameters, lkb_ntcp
    >>> organ = LKBParameters(td50_gy=40.0, m=0.2, n=1.0, source="illustration")
    >>> dvh = DVH(name="Organ", doses_gy=[30.0, 50.0], volumes_cc=[1.0, 1.0])  # mean 40 Gy
    >>> lkb_ntcp(dvh, organ)
    0.5
    >>> round(lkb_ntcp(dvh, organ, n_fractions=5, alpha_beta_gy=3.0), 3)  # 6-10 Gy fractions
    1.0
    """
    if not isinstance(dvh, DVH):
        raise RadiobiologyError(f"lkb_ntcp needs a rtwin DVH; got {type(dvh).__name__}")
    if not isinstance(parameters, LKBParameters):
        raise RadiobiologyError(
            "lkb_ntcp needs LKBParameters(td50_gy=..., m=..., n=...); got "
            f"{type(parameters).__name__}"
        )
    if (n_fractions is None) != (alpha_beta_gy is None):
        raise RadiobiologyError(
            "give both n_fractions and alpha_beta_gy to convert the DVH to EQD2 before the "
            "LKB model, or neither to use its physical dose as it is; got "
            f"n_fractions={n_fractions!r}, alpha_beta_gy={alpha_beta_gy!r}"
        )
    if n_fractions is not None:
        dvh = eqd2(
            dvh,
            n_fractions=check_fractions(n_fractions),
            alpha_beta_gy=check_positive(alpha_beta_gy, "alpha_beta_gy (α/β in Gy)"),
        )
    return parameters.ntcp(geud(dvh, parameters.a))
