"""DVH metrics and the one parser for their clinical spelling (``D95%``, ``V20Gy``, ...)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from rtwin.errors import EvaluationError

if TYPE_CHECKING:  # pragma: no cover
    from rtwin.evaluation._dvh import DVH

__all__ = ["Metric", "MetricKind"]

VolumeUnit = Literal["%", "cc"]

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EXAMPLES = "D95%, D2cc, D0.03cc, V20Gy, V20Gy[cc], Dmean, Dmax, Dmin or gEUD(a=8)"


class MetricKind(StrEnum):
    """What a :class:`Metric` measures."""

    DOSE_AT_VOLUME = "dose_at_volume"
    """``D95%``, ``D2cc``: the dose covering a volume (Gy)."""
    VOLUME_AT_DOSE = "volume_at_dose"
    """``V20Gy`` (%), ``V20Gy[cc]`` (cc): the volume receiving at least a dose."""
    MEAN = "mean"
    """``Dmean``: volume-weighted mean dose (Gy)."""
    MAX = "max"
    """``Dmax``: highest sample dose (Gy)."""
    MIN = "min"
    """``Dmin``: lowest sample dose (Gy)."""
    GEUD = "geud"
    """``gEUD(a=8)``: generalized equivalent uniform dose (Gy)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """One number read from a DVH, written the way clinics write it.

    Build metrics with :meth:`parse`; ``str(metric)`` gives the canonical
    spelling back (``Metric.parse(str(m)) == m``).

    Parameters
    ----------
    kind
        :class:`MetricKind` or its value.
    value
        The metric's parameter: the volume for ``dose_at_volume`` (in
        ``volume_unit``), the dose in Gy for ``volume_at_dose``, ``a`` for
        ``geud``; ``None`` for ``mean``, ``max`` and ``min``.
    volume_unit
        ``"%"`` or ``"cc"``: the unit of the volume *parameter* of
        ``dose_at_volume`` and of the *result* of ``volume_at_dose``;
        ``None`` for the others.

    Notes
    -----
    Grammar (case-insensitive, no spaces except inside ``gEUD( )``)::

        D<volume>%     dose covering <volume> percent of the structure (Gy)
        D<volume>cc    dose covering the hottest <volume> cm³ (Gy)
        V<dose>Gy      percentage of the volume receiving at least <dose> Gy (%)
        V<dose>Gy[cc]  the same volume in cm³ (cc)
        Dmean, Dmax, Dmin
        gEUD(a=<a>)    generalized EUD with volume parameter a ≠ 0 (Gy)

    Numbers are decimals (``0.03``, ``.5``, ``1e-3``). ``Dmax`` is the
    highest sample dose; the near-maximum conventions are ``D2%`` (ICRU 83)
    and ``D0.03cc``. Dx values are read from the cumulative DVH by linear
    interpolation (see :class:`~rtwin.evaluation.DVH`). Bad strings raise
    :class:`~rtwin.errors.EvaluationError` naming the position (1-based
    column) and what was expected there.

    Examples
    --------
    >>> from rtwin.evaluation import Metric
    >>> metric = Metric.parse("v20gy[CC]")
    >>> str(metric), metric.unit
    ('V20Gy[cc]', 'cc')
    >>> Metric.parse("D95x")
    Traceback (most recent call last):
    ...
    rtwin.errors.EvaluationError: metric 'D95x': at position 4 expected '%' or 'cc' (the unit of the volume, as in D95% or D2cc); got 'x'
    """

    kind: MetricKind
    value: float | None = None
    volume_unit: VolumeUnit | None = None

    def __post_init__(self) -> None:
        try:
            kind = MetricKind(self.kind)
        except ValueError:
            raise EvaluationError(
                f"unknown metric kind {self.kind!r}; use one of {[k.value for k in MetricKind]}"
            ) from None
        object.__setattr__(self, "kind", kind)
        if kind in (MetricKind.MEAN, MetricKind.MAX, MetricKind.MIN):
            if self.value is not None or self.volume_unit is not None:
                raise EvaluationError(
                    f"metric D{kind.value} takes no value or volume unit; got value={self.value!r}, "
                    f"volume_unit={self.volume_unit!r}"
                )
            return
        if self.value is None or isinstance(self.value, bool):
            raise EvaluationError(f"metric kind {kind.value!r} needs a value; got {self.value!r}")
        try:
            value = float(self.value)
        except (TypeError, ValueError):
            raise EvaluationError(
                f"metric value must be a number; got {self.value!r} for kind {kind.value!r}"
            ) from None
        if not math.isfinite(value):
            raise EvaluationError(f"metric value must be finite; got {self.value!r}")
        object.__setattr__(self, "value", value)
        if kind is MetricKind.GEUD:
            if self.volume_unit is not None:
                raise EvaluationError(
                    f"metric gEUD takes no volume unit; got volume_unit={self.volume_unit!r}"
                )
            if value == 0:
                raise EvaluationError(
                    "gEUD parameter a must be non-zero (a = 1 is the mean dose, large a tends to "
                    "the maximum, negative a to the minimum)"
                )
            return
        if self.volume_unit not in ("%", "cc"):
            raise EvaluationError(
                f"metric kind {kind.value!r} needs volume_unit '%' or 'cc'; got {self.volume_unit!r}"
            )
        if value < 0:
            what = "volume" if kind is MetricKind.DOSE_AT_VOLUME else "dose"
            raise EvaluationError(f"the {what} of metric {self} must be >= 0; got {value:g}")
        if kind is MetricKind.DOSE_AT_VOLUME and self.volume_unit == "%" and value > 100:
            raise EvaluationError(
                f"metric D{_format_number(value)}%: the volume must be within 0-100 %"
            )

    # ------------------------------------------------------------------ parsing
    @classmethod
    def parse(cls, text: str) -> Metric:
        """Read a metric from its clinical spelling (see the class Notes for the grammar).

        Raises
        ------
        EvaluationError
            The text is not a metric; the message gives the 1-based
            position and what was expected there.
        """
        if not isinstance(text, str):
            raise EvaluationError(f"a metric is written as a string such as 'D95%'; got {text!r}")
        scanner = _Scanner(text, "metric")
        scanner.skip_spaces()
        metric = scanner.metric()
        scanner.skip_spaces()
        scanner.expect_end("the end of the metric")
        return metric

    # ------------------------------------------------------------------ use
    @property
    def unit(self) -> str:
        """Unit of the result: ``"Gy"``, ``"%"`` or ``"cc"``."""
        if self.kind is MetricKind.VOLUME_AT_DOSE:
            return str(self.volume_unit)
        return "Gy"

    def evaluate(self, dvh: DVH) -> float:
        """The metric's value on a DVH, in :attr:`unit`.

        Raises
        ------
        EvaluationError
            The metric is undefined for this DVH (e.g. ``D2cc`` of a 1 cc
            structure).

        Examples
        --------
        >>> from rtwin.evaluation import DVH, Metric
        >>> dvh = DVH(name="Organ", doses_gy=[10.0, 30.0], volumes_cc=[3.0, 1.0])
        >>> Metric.parse("V20Gy").evaluate(dvh), Metric.parse("Dmean").evaluate(dvh)
        (25.0, 15.0)
        """
        kind = self.kind
        if kind is MetricKind.MEAN:
            return dvh.mean_gy
        if kind is MetricKind.MAX:
            return dvh.max_gy
        if kind is MetricKind.MIN:
            return dvh.min_gy
        value = float(self.value)  # type: ignore[arg-type]
        if kind is MetricKind.GEUD:
            return dvh.geud_gy(value)
        if kind is MetricKind.DOSE_AT_VOLUME:
            if self.volume_unit == "%":
                return dvh.dose_at_volume(value / 100.0)
            return dvh.dose_at_volume_cc(value)
        if self.volume_unit == "%":
            return 100.0 * dvh.volume_at_dose(value)
        return dvh.volume_at_dose_cc(value)

    def __str__(self) -> str:
        kind = self.kind
        if kind in (MetricKind.MEAN, MetricKind.MAX, MetricKind.MIN):
            return f"D{kind.value}"
        number = _format_number(float(self.value))  # type: ignore[arg-type]
        if kind is MetricKind.GEUD:
            return f"gEUD(a={number})"
        if kind is MetricKind.DOSE_AT_VOLUME:
            return f"D{number}{self.volume_unit}"
        return f"V{number}Gy" + ("[cc]" if self.volume_unit == "cc" else "")

    def __repr__(self) -> str:
        return f"Metric({str(self)!r})"


def _format_number(value: float) -> str:
    """The shortest text that reads back as the same float (``50``, ``0.03``, ``1e-05``)."""
    text = repr(float(value))
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


class _Scanner:
    """A cursor over a metric or goal string that reports errors by 1-based column."""

    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what
        self.position = 0

    # ---------------------------------------------------------------- primitives
    def at_end(self) -> bool:
        return self.position >= len(self.text)

    def peek(self) -> str:
        return self.text[self.position] if not self.at_end() else ""

    def skip_spaces(self) -> int:
        start = self.position
        while not self.at_end() and self.text[self.position].isspace():
            self.position += 1
        return self.position - start

    def take_word(self, word: str) -> bool:
        """Consume ``word`` (case-insensitive) when the text continues with it."""
        end = self.position + len(word)
        if self.text[self.position : end].lower() == word.lower():
            self.position = end
            return True
        return False

    def fail(self, expected: str, position: int | None = None) -> EvaluationError:
        where = self.position if position is None else position
        if where >= len(self.text):
            found = "the end of the text"
        else:
            found = repr(self.text[where])
        return EvaluationError(
            f"{self.what} {self.text!r}: at position {where + 1} expected {expected}; got {found}"
        )

    def expect_end(self, expected: str) -> None:
        if not self.at_end():
            raise self.fail(expected)

    def number(self, expected: str, *, signed: bool = False) -> float:
        match = _NUMBER.match(self.text, self.position)
        if match is None or (not signed and match.group()[0] in "+-"):
            raise self.fail(expected)
        self.position = match.end()
        return float(match.group())

    # ---------------------------------------------------------------- metric grammar
    def metric(self) -> Metric:
        start = self.position
        first = self.peek().lower()
        if first == "d":
            self.position += 1
            for word, kind in (
                ("mean", MetricKind.MEAN),
                ("max", MetricKind.MAX),
                ("min", MetricKind.MIN),
            ):
                if self.take_word(word):
                    return Metric(kind=kind)
            volume = self.number(
                "a volume (as in D95% or D2cc) or 'mean', 'max', 'min' (as in Dmean)"
            )
            if self.take_word("%"):
                unit: VolumeUnit = "%"
            elif self.take_word("cc"):
                unit = "cc"
            else:
                raise self.fail("'%' or 'cc' (the unit of the volume, as in D95% or D2cc)")
            if unit == "%" and volume > 100:
                raise self.fail("a volume percentage within 0-100", start + 1)
            return Metric(kind=MetricKind.DOSE_AT_VOLUME, value=volume, volume_unit=unit)
        if first == "v":
            self.position += 1
            dose = self.number("a dose in Gy (as in V20Gy)")
            if not self.take_word("gy"):
                raise self.fail("'Gy' (V metrics take an absolute dose, as in V20Gy or V20Gy[cc])")
            if self.take_word("[cc]"):
                return Metric(kind=MetricKind.VOLUME_AT_DOSE, value=dose, volume_unit="cc")
            if self.peek() == "[":
                raise self.fail("'[cc]' (write V20Gy for percent, V20Gy[cc] for cm³)")
            return Metric(kind=MetricKind.VOLUME_AT_DOSE, value=dose, volume_unit="%")
        if first == "g":
            if not self.take_word("geud"):
                raise self.fail(f"a metric ({_EXAMPLES})")
            self.skip_spaces()
            if not self.take_word("("):
                raise self.fail("'(' (as in gEUD(a=8))")
            self.skip_spaces()
            if not self.take_word("a"):
                raise self.fail("'a' (as in gEUD(a=8))")
            self.skip_spaces()
            if not self.take_word("="):
                raise self.fail("'=' (as in gEUD(a=8))")
            self.skip_spaces()
            position = self.position
            a = self.number("a number for a (as in gEUD(a=8) or gEUD(a=-10))", signed=True)
            if a == 0:
                raise self.fail("a non-zero a (a = 1 is the mean dose)", position)
            self.skip_spaces()
            if not self.take_word(")"):
                raise self.fail("')' (as in gEUD(a=8))")
            return Metric(kind=MetricKind.GEUD, value=a)
        raise self.fail(f"a metric ({_EXAMPLES})")
