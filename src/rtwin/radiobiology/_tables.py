"""Published parameter tables shipped with rtwin: LKB (TD50, m, n) and α/β values."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

from rtwin.errors import RadiobiologyError
from rtwin.radiobiology._ntcp import LKBParameters

__all__ = ["AlphaBetaValue", "alpha_beta_values", "lkb_parameter_table", "lkb_parameters"]


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("rtwin.radiobiology").joinpath(f"data/{name}").read_text("utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


@dataclass(frozen=True, slots=True, kw_only=True)
class AlphaBetaValue:
    """One published α/β value with its source.

    Parameters
    ----------
    tissue
        Tissue or tumour (``"spinal cord (cervical)"``, ``"prostate cancer"``).
    endpoint
        The effect the value was fitted to.
    parameter
        What was estimated, with the cohort where the source gives several
        (``"alpha_beta (SBRT cohort)"``).
    alpha_beta_gy
        α/β in Gy.
    interval
        Confidence interval or range as the source states it (``""`` when none).
    source
        Citation.
    verification
        How the value was checked when the reference table was compiled
        (``"primary_abstract"``: read in the original report's abstract).

    Examples
    --------
    >>> from rtwin.radiobiology import alpha_beta_values
    >>> cord = [v for v in alpha_beta_values() if v.tissue.startswith("spinal cord")]
    >>> cord[0].alpha_beta_gy, cord[0].endpoint
    (0.87, 'myelopathy')
    """

    tissue: str
    endpoint: str
    parameter: str
    alpha_beta_gy: float
    interval: str
    source: str
    verification: str


def alpha_beta_values() -> tuple[AlphaBetaValue, ...]:
    """The published α/β values rtwin ships, each with its source.

    Copied from rtwin's reference table (``lkb_ntcp_parameters.csv``):
    the linear-quadratic rows that state a single value from a published
    study. Ranges, inequalities ("≥ 10 Gy for tumours") and clinic
    planning conventions are left out; ``docs/radiobiology.md`` lists them.
    Values for one tissue differ between studies (prostate: 1.12–8.3 Gy);
    choose one for your case and cite it.

    Returns
    -------
    tuple of AlphaBetaValue
        In the order of the table.

    Examples
    --------
    >>> from rtwin.radiobiology import alpha_beta_values
    >>> sorted({v.tissue for v in alpha_beta_values()})
    ['prostate cancer', 'spinal cord (cervical)']
    """
    return tuple(
        AlphaBetaValue(
            tissue=row["tissue"],
            endpoint=row["endpoint"],
            parameter=row["parameter"],
            alpha_beta_gy=float(row["alpha_beta_gy"]),
            interval=row["ci_or_range"],
            source=row["source"],
            verification=row["verification"],
        )
        for row in _rows("alpha_beta.csv")
    )


def lkb_parameter_table() -> tuple[LKBParameters, ...]:
    """The LKB parameter sets rtwin ships, each with its published source.

    Built from rtwin's reference table (``lkb_ntcp_parameters.csv``),
    leaving out every value without a published source. That table holds
    no LKB (TD50, m, n) triplet — the Burman et al. (1991) and QUANTEC fits
    could not be verified — so **this table is empty** until they are
    added with their sources. Give the parameters yourself with
    :class:`LKBParameters`.

    Returns
    -------
    tuple of LKBParameters
        Currently empty.

    Examples
    --------
    >>> from rtwin.radiobiology import lkb_parameter_table
    >>> lkb_parameter_table()
    ()
    """
    return tuple(
        LKBParameters(
            td50_gy=float(row["td50_gy"]),
            m=float(row["m"]),
            n=float(row["n"]),
            organ=row["organ"],
            endpoint=row["endpoint"],
            source=f"{row['source']} (verification: {row['verification']})",
        )
        for row in _rows("lkb.csv")
    )


def lkb_parameters(organ: str, *, endpoint: str | None = None) -> LKBParameters:
    """The shipped LKB parameters of an organ (and endpoint), by name (case-insensitive).

    Raises
    ------
    RadiobiologyError
        No parameters for that organ / endpoint (the message lists what
        there is), or several endpoints and none chosen. With the current,
        empty table (:func:`lkb_parameter_table`) every lookup raises.

    Examples
    --------
    >>> from rtwin.radiobiology import lkb_parameters
    >>> lkb_parameters("rectum")
    Traceback (most recent call last):
    ...
    rtwin.errors.RadiobiologyError: rtwin ships no LKB parameters for organ 'rectum': its table is empty, because no LKB (TD50, m, n) with a verified published source was available (see docs/radiobiology.md). Give them yourself: LKBParameters(td50_gy=..., m=..., n=..., endpoint=..., source=...)
    """
    if not isinstance(organ, str):
        raise RadiobiologyError(f"organ must be a str; got {type(organ).__name__}")
    table = lkb_parameter_table()
    fix = "Give them yourself: LKBParameters(td50_gy=..., m=..., n=..., endpoint=..., source=...)"
    if not table:
        raise RadiobiologyError(
            f"rtwin ships no LKB parameters for organ {organ!r}: its table is empty, because no "
            "LKB (TD50, m, n) with a verified published source was available (see "
            f"docs/radiobiology.md). {fix}"
        )
    key = organ.strip().lower()
    matches = [p for p in table if p.organ.lower() == key]
    if not matches:
        available = ", ".join(repr(o) for o in dict.fromkeys(p.organ for p in table))
        raise RadiobiologyError(
            f"no LKB parameters for organ {organ!r}; the table has {available}. {fix}"
        )
    if endpoint is not None:
        chosen = [p for p in matches if p.endpoint.lower() == endpoint.strip().lower()]
        if not chosen:
            endpoints = ", ".join(repr(p.endpoint) for p in matches)
            raise RadiobiologyError(
                f"no LKB parameters for organ {organ!r} and endpoint {endpoint!r}; its endpoints "
                f"are {endpoints}"
            )
        matches = chosen
    if len(matches) > 1:
        endpoints = ", ".join(repr(p.endpoint) for p in matches)
        raise RadiobiologyError(
            f"organ {organ!r} has LKB parameters for several endpoints ({endpoints}); choose one "
            "with endpoint=..."
        )
    return matches[0]
