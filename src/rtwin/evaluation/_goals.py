"""Clinical goals ("PTV D95% >= 50 Gy"), goal sets and their results on a dose."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from rtwin.anatomy import Structure
from rtwin.dose import Dose
from rtwin.errors import EvaluationError
from rtwin.evaluation._dvh import DVH
from rtwin.evaluation._metric import Metric, MetricKind, _format_number, _Scanner

__all__ = [
    "ClinicalGoal",
    "Comparator",
    "GoalResult",
    "GoalResults",
    "GoalSet",
    "GoalStatus",
]

_UNITS = {"gy": "Gy", "%": "%", "cc": "cc"}
_TOLERANCE_SIGNS = ("±", "+-")
_GOAL_KEYS = ("goal", "priority", "source", "endpoint", "risk", "fractionation")
_FILE_KEYS = ("name", "goals")
#: Light background colours of the goal statuses in HTML tables and figures (text stays black).
_STATUS_COLORS = {
    "pass": "#c8e6c9",
    "within tolerance": "#ffe29a",
    "fail": "#f5b7b1",
    "not evaluated": "#e0e0e0",
}


class Comparator(StrEnum):
    """How a goal's value must relate to its limit."""

    LESS = "<"
    LESS_EQUAL = "<="
    GREATER = ">"
    GREATER_EQUAL = ">="

    @property
    def is_upper_limit(self) -> bool:
        """True for ``<`` and ``<=`` (the value must stay below the limit)."""
        return self in (Comparator.LESS, Comparator.LESS_EQUAL)


class GoalStatus(StrEnum):
    """Outcome of one goal on one dose."""

    PASS = "pass"
    """The comparison holds."""
    WITHIN_TOLERANCE = "within tolerance"
    """It fails, but by no more than the goal's acceptable deviation."""
    FAIL = "fail"
    """It fails by more than the acceptable deviation."""
    NOT_EVALUATED = "not evaluated"
    """The structure is missing or empty, or the metric is undefined for it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicalGoal:
    """A dose-volume goal for one structure: ``PTV D95% >= 50 Gy ± 1 Gy``.

    Parameters
    ----------
    structure
        Structure name (as the goal's author wrote it; map it to the
        patient's names with ``names=`` in :meth:`GoalSet.evaluate`).
    metric
        The :class:`~rtwin.evaluation.Metric` compared.
    comparator
        :class:`Comparator` or ``"<"``, ``"<="``, ``">"``, ``">="``.
    limit
        The limit in the metric's unit (Gy, % or cc).
    tolerance
        Acceptable deviation beyond the limit, same unit, ``>= 0``; a goal
        missed by no more than this is ``within tolerance``. 0 for none.
    priority
        1 is the most important; larger numbers matter less.
    source
        Citation or protocol the goal comes from (free text).
    endpoint, risk, fractionation
        For published constraints: the complication the limit guards
        against, its risk at the limit, and the fractionation it assumes.

    Notes
    -----
    Goal strings (:meth:`parse`)::

        <structure> <metric> <comparator> <limit> <unit> [± <tolerance> <unit>]

    ``<structure>`` is one word, or quoted with ``'...'`` or ``"..."`` when it
    contains spaces (``'Spinal Cord' Dmax < 45 Gy``). ``<metric>`` follows
    the :class:`~rtwin.evaluation.Metric` grammar, ``<unit>`` is the
    metric's unit (``Gy`` for D metrics, ``%`` for ``V20Gy``, ``cc`` for
    ``V20Gy[cc]``), and the acceptable deviation is written with ``±`` (or
    ASCII ``+-``) in the same unit. Units and metric names are
    case-insensitive.

    **Margin.** ``limit − value`` for upper limits (``<``, ``<=``) and
    ``value − limit`` for lower limits: positive means passing by that
    much. A strict comparison fails at equality (margin 0). Values within
    ``FLOAT32_EQUAL`` (2⁻²², about 2.4e-7) relative of the limit count as
    equal to it: doses are stored in float32, so a dose normalized to a
    D95 of 50 Gy reads 49.9999977 Gy.

    Examples
    --------
    >>> from rtwin.evaluation import ClinicalGoal, DVH
    >>> goal = ClinicalGoal.parse("PTV D95% >= 50 Gy +- 1 Gy", priority=1)
    >>> str(goal)
    'PTV D95% >= 50 Gy ± 1 Gy'
    >>> dvh = DVH(name="PTV", doses_gy=[49.5], volumes_cc=[10.0])
    >>> result = goal.evaluate(dvh)
    >>> result.status.value, result.margin
    ('within tolerance', -0.5)
    """

    structure: str
    metric: Metric
    comparator: Comparator
    limit: float
    tolerance: float = 0.0
    priority: int = 1
    source: str = ""
    endpoint: str = ""
    risk: str = ""
    fractionation: str = ""

    def __post_init__(self) -> None:
        structure = self.structure
        if not isinstance(structure, str) or not structure.strip():
            raise EvaluationError(f"goal structure must be a non-empty name; got {structure!r}")
        if structure != structure.strip() or "\n" in structure or "\r" in structure:
            raise EvaluationError(
                f"goal structure name {structure!r} has leading/trailing spaces or a line break; "
                "strip it"
            )
        if _needs_quotes(structure) and "'" in structure and '"' in structure:
            raise EvaluationError(
                f"goal structure name {structure!r} has spaces and both quote characters, so it "
                "cannot be written in a goal string; rename the structure"
            )
        if not isinstance(self.metric, Metric):
            raise EvaluationError(
                f"goal metric must be a Metric (use Metric.parse('D95%')); got {self.metric!r}"
            )
        try:
            comparator = Comparator(self.comparator)
        except ValueError:
            raise EvaluationError(
                f"goal comparator must be one of {[c.value for c in Comparator]}; "
                f"got {self.comparator!r}"
            ) from None
        limit = _number(self.limit, "limit", structure)
        tolerance = _number(self.tolerance, "tolerance", structure)
        unit = self.metric.unit
        if limit < 0:
            raise EvaluationError(
                f"goal for {structure!r}: limit must be >= 0 {unit}; got {self.limit!r}"
            )
        if unit == "%" and limit > 100:
            raise EvaluationError(
                f"goal for {structure!r}: {self.metric} is a percentage, so the limit must be "
                f"within 0-100 %; got {limit:g}"
            )
        if tolerance < 0:
            raise EvaluationError(
                f"goal for {structure!r}: tolerance must be >= 0 {unit}; got {self.tolerance!r}"
            )
        if (
            isinstance(self.priority, bool)
            or not isinstance(self.priority, int)
            or self.priority < 1
        ):
            raise EvaluationError(
                f"goal for {structure!r}: priority must be an integer >= 1 (1 = most important); "
                f"got {self.priority!r}"
            )
        for name in ("source", "endpoint", "risk", "fractionation"):
            if not isinstance(getattr(self, name), str):
                raise EvaluationError(
                    f"goal for {structure!r}: {name} must be text; got {getattr(self, name)!r}"
                )
        object.__setattr__(self, "comparator", comparator)
        object.__setattr__(self, "limit", limit)
        object.__setattr__(self, "tolerance", tolerance)

    # ------------------------------------------------------------------ parsing
    @classmethod
    def parse(
        cls,
        text: str,
        *,
        priority: int = 1,
        source: str = "",
        endpoint: str = "",
        risk: str = "",
        fractionation: str = "",
    ) -> ClinicalGoal:
        """Read a goal string (grammar in the class Notes); the keywords fill the other fields.

        Raises
        ------
        EvaluationError
            The text is not a goal; the message gives the 1-based position
            and what was expected there.

        Examples
        --------
        >>> from rtwin.evaluation import ClinicalGoal
        >>> ClinicalGoal.parse("'Spinal Cord' Dmax < 45 Gy").structure
        'Spinal Cord'
        >>> ClinicalGoal.parse("Rectum V70Gy < 20 Gy")
        Traceback (most recent call last):
        ...
        rtwin.errors.EvaluationError: goal 'Rectum V70Gy < 20 Gy': at position 19 expected '%' (the unit of V70Gy; write V70Gy[cc] for cm³); got 'G'
        """
        if not isinstance(text, str):
            raise EvaluationError(
                f"a goal is written as a string such as 'PTV D95% >= 50 Gy'; got {text!r}"
            )
        scanner = _Scanner(text, "goal")
        scanner.skip_spaces()
        structure = _structure_name(scanner)
        if scanner.skip_spaces() == 0:
            raise scanner.fail("a space between the structure name and the metric")
        start = scanner.position
        try:
            metric = scanner.metric()
        except EvaluationError:
            if scanner.position != start:
                raise
            raise scanner.fail(
                "a metric (D95%, Dmax, V20Gy, ...); a structure name with spaces must be quoted: "
                "'Spinal Cord' Dmax < 45 Gy"
            ) from None
        scanner.skip_spaces()
        comparator = _comparator(scanner)
        scanner.skip_spaces()
        limit = scanner.number(f"a number (the limit in {metric.unit})")
        scanner.skip_spaces()
        _unit(scanner, metric)
        scanner.skip_spaces()
        tolerance = 0.0
        if not scanner.at_end():
            if not any(scanner.take_word(sign) for sign in _TOLERANCE_SIGNS):
                raise scanner.fail(
                    "the end of the goal or an acceptable deviation such as '± 1 Gy' (or '+- 1 Gy')"
                )
            scanner.skip_spaces()
            tolerance = scanner.number(f"a number (the acceptable deviation in {metric.unit})")
            scanner.skip_spaces()
            _unit(scanner, metric)
            scanner.skip_spaces()
            scanner.expect_end("the end of the goal")
        try:
            return cls(
                structure=structure,
                metric=metric,
                comparator=comparator,
                limit=limit,
                tolerance=tolerance,
                priority=priority,
                source=source,
                endpoint=endpoint,
                risk=risk,
                fractionation=fractionation,
            )
        except EvaluationError as error:
            raise EvaluationError(f"goal {text!r}: {error}") from None

    # ------------------------------------------------------------------ use
    @property
    def unit(self) -> str:
        """Unit of the limit and tolerance (the metric's unit)."""
        return self.metric.unit

    def judge(self, value: float) -> tuple[GoalStatus, float]:
        """Status and signed margin (positive = passing by that much) of a metric value."""
        number = float(value)
        comparator = self.comparator
        margin = self.limit - number if comparator.is_upper_limit else number - self.limit
        # doses are float32 (7 significant digits): a value within the float32
        # rounding of the limit *is* the limit (a plan normalized to D95 = 50 Gy
        # reads 49.9999977 Gy)
        if abs(margin) <= FLOAT32_EQUAL * max(abs(self.limit), abs(number)):
            margin = 0.0
        strict = comparator in (Comparator.LESS, Comparator.GREATER)
        if margin > 0 or (margin == 0 and not strict):
            return GoalStatus.PASS, margin
        if self.tolerance > 0 and -margin <= self.tolerance:
            return GoalStatus.WITHIN_TOLERANCE, margin
        return GoalStatus.FAIL, margin

    def evaluate(self, dvh: DVH, *, structure: str | None = None) -> GoalResult:
        """This goal on a DVH (``structure``: the patient's name for it, default the DVH's name).

        A metric that is undefined for the DVH (``D2cc`` of a 1 cc
        structure) gives a ``not evaluated`` result with the reason.
        """
        if not isinstance(dvh, DVH):
            raise EvaluationError(f"a goal is evaluated on a DVH; got {type(dvh).__name__}")
        name = dvh.name if structure is None else structure
        try:
            value = self.metric.evaluate(dvh)
        except EvaluationError as error:
            return GoalResult(
                goal=self, structure=name, status=GoalStatus.NOT_EVALUATED, reason=str(error)
            )
        status, margin = self.judge(value)
        return GoalResult(goal=self, structure=name, status=status, value=value, margin=margin)

    def renamed(self, structure: str) -> ClinicalGoal:
        """The same goal for another structure name."""
        return replace(self, structure=structure)

    def to_dict(self) -> dict[str, Any]:
        """The goal as plain data (the goal string plus its other fields)."""
        return {
            "goal": str(self),
            "priority": self.priority,
            "source": self.source,
            "endpoint": self.endpoint,
            "risk": self.risk,
            "fractionation": self.fractionation,
        }

    def __str__(self) -> str:
        text = (
            f"{_quoted(self.structure)} {self.metric} {self.comparator.value} "
            f"{_with_unit(self.limit, self.unit)}"
        )
        if self.tolerance > 0:
            text += f" ± {_with_unit(self.tolerance, self.unit)}"
        return text

    def __repr__(self) -> str:
        return f"ClinicalGoal({str(self)!r}, priority={self.priority})"


#: Relative difference below which a metric value equals a goal's limit
#: (twice float32's unit roundoff).
FLOAT32_EQUAL = 2.0**-22


@dataclass(frozen=True, slots=True, kw_only=True)
class GoalResult:
    """One goal evaluated on one dose (a row of :class:`GoalResults`).

    Parameters
    ----------
    goal
        The goal.
    structure
        The patient structure it was evaluated on (after name mapping).
    status
        :class:`GoalStatus`.
    value
        The metric's value in ``goal.unit``; ``None`` when not evaluated.
    margin
        Signed margin (positive = passing by that much) in ``goal.unit``;
        ``None`` when not evaluated.
    reason
        Why the goal was not evaluated; empty otherwise.
    """

    goal: ClinicalGoal
    structure: str
    status: GoalStatus
    value: float | None = None
    margin: float | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        status = GoalStatus(self.status)
        object.__setattr__(self, "status", status)
        evaluated = status is not GoalStatus.NOT_EVALUATED
        if evaluated and (self.value is None or self.margin is None):
            raise EvaluationError(f"a {status.value!r} result needs a value and a margin")
        if not evaluated and not self.reason:
            raise EvaluationError("a 'not evaluated' result needs the reason")

    @property
    def unit(self) -> str:
        """Unit of value, limit and margin."""
        return self.goal.unit

    def to_dict(self) -> dict[str, Any]:
        """The row as plain data (JSON-ready)."""
        return {
            "structure": self.structure,
            "goal": str(self.goal),
            "metric": str(self.goal.metric),
            "comparator": self.goal.comparator.value,
            "limit": self.goal.limit,
            "tolerance": self.goal.tolerance,
            "unit": self.unit,
            "value": self.value,
            "margin": self.margin,
            "status": self.status.value,
            "reason": self.reason,
            "priority": self.goal.priority,
            "source": self.goal.source,
            "endpoint": self.goal.endpoint,
            "risk": self.goal.risk,
            "fractionation": self.goal.fractionation,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class GoalResults:
    """The goal table of one dose: one :class:`GoalResult` per goal, in the set's order.

    ``str(results)`` is a plain-text table; :meth:`to_dict` is JSON-ready.
    Iterating gives the rows.
    """

    rows: tuple[GoalResult, ...]

    def __post_init__(self) -> None:
        rows = tuple(self.rows)
        for row in rows:
            if not isinstance(row, GoalResult):
                raise EvaluationError(
                    f"GoalResults holds GoalResult rows; got {type(row).__name__}"
                )
        object.__setattr__(self, "rows", rows)

    def __iter__(self) -> Iterator[GoalResult]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> GoalResult:
        return self.rows[index]

    def with_status(self, status: GoalStatus | str) -> tuple[GoalResult, ...]:
        """The rows with one status."""
        wanted = GoalStatus(status)
        return tuple(row for row in self.rows if row.status is wanted)

    @property
    def counts(self) -> dict[str, int]:
        """Number of rows per status value (every status listed)."""
        return {s.value: sum(row.status is s for row in self.rows) for s in GoalStatus}

    def to_dict(self) -> dict[str, Any]:
        """``{"rows": [...], "counts": {...}}`` as plain data."""
        return {"rows": [row.to_dict() for row in self.rows], "counts": self.counts}

    def __str__(self) -> str:
        header = ("structure", "goal", "value", "margin", "status")
        lines = [header]
        for row in self.rows:
            goal = row.goal
            target = f"{goal.metric} {goal.comparator.value} {_with_unit(goal.limit, goal.unit)}"
            if goal.tolerance > 0:
                target += f" ± {_with_unit(goal.tolerance, goal.unit)}"
            if row.value is None or row.margin is None:
                value = margin = "-"
                status = f"not evaluated: {row.reason}"
            else:
                value = f"{row.value:.2f} {goal.unit}"
                margin = f"{row.margin:+.2f}"
                status = row.status.value
            lines.append((row.structure, target, value, margin, status))
        widths = [max(len(line[c]) for line in lines) for c in range(4)]
        text = []
        for line in lines:
            cells = [
                line[c].ljust(widths[c]) if c < 2 else line[c].rjust(widths[c]) for c in range(4)
            ]
            text.append("  ".join([*cells, line[4]]).rstrip())
        return "\n".join(text)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in self.counts.items() if n)
        return f"GoalResults({len(self.rows)} goals: {counts or 'none'})"

    def _repr_html_(self) -> str:
        """A small HTML table for Jupyter, one row per goal coloured by status."""
        cell = "padding:2px 8px;border:1px solid #bbb"
        head = "".join(
            f'<th style="{cell}">{h}</th>'
            for h in ("structure", "goal", "value", "margin", "status")
        )
        body = []
        for row in self.rows:
            goal = row.goal
            target = f"{goal.metric} {goal.comparator.value} {_with_unit(goal.limit, goal.unit)}"
            if goal.tolerance > 0:
                target += f" ± {_with_unit(goal.tolerance, goal.unit)}"
            if row.value is None or row.margin is None:
                value = margin = "-"
                status = f"not evaluated: {row.reason}"
            else:
                value, margin = f"{row.value:.2f} {goal.unit}", f"{row.margin:+.2f}"
                status = row.status.value
            color = _STATUS_COLORS[row.status.value]
            cells = (row.structure, target, value, margin, status)
            body.append(
                "<tr>"
                + "".join(
                    f'<td style="{cell};background:{color};color:#000">{html.escape(c)}</td>'
                    for c in cells
                )
                + "</tr>"
            )
        return (
            '<table style="border-collapse:collapse;font-size:90%">'
            f"<tr>{head}</tr>{''.join(body)}</table>"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class GoalSet:
    """An ordered set of clinical goals (a protocol), evaluated together.

    Parameters
    ----------
    goals
        The goals, in the order the table shows them.
    name
        Name of the protocol.

    Notes
    -----
    **Goal files** (:meth:`read`): TOML or JSON with a list ``goals``;
    each entry is a goal string or a table with the string under ``goal``
    and optional ``priority``, ``source``, ``endpoint``, ``risk``,
    ``fractionation``; an optional top-level ``name``::

        name = "Prostate 78 Gy"

        [[goals]]
        goal = "PTV D95% >= 74.1 Gy ± 1 Gy"
        priority = 1

        [[goals]]
        goal = "Rectum V70Gy < 20 %"
        priority = 2
        source = "QUANTEC, Michalski et al. 2010"

    The JSON form is ``{"name": ..., "goals": ["PTV D95% >= 74.1 Gy",
    {"goal": ..., "priority": 2}]}``. Unknown keys raise.

    **QUANTEC** (:meth:`quantec`): the conventional-fractionation organ
    limits of Marks et al. 2010, shipped with rtwin; ``docs/evaluation.md``
    lists the rows left out and why.

    Examples
    --------
    >>> import numpy as np
    >>> import rtwin
    >>> from rtwin.evaluation import GoalSet
    >>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5)
    >>> dose = rtwin.dose.Dose(values=np.full(patient.grid.shape, 50.0), grid=patient.grid)
    >>> goals = GoalSet.parse(["Target D95% >= 49 Gy", "Body Dmax <= 52 Gy", "Cord Dmax < 45 Gy"])
    >>> [row.status.value for row in goals.evaluate(dose, patient.structures)]
    ['pass', 'pass', 'not evaluated']
    """

    goals: tuple[ClinicalGoal, ...]
    name: str = ""

    def __post_init__(self) -> None:
        goals = tuple(self.goals)
        for goal in goals:
            if not isinstance(goal, ClinicalGoal):
                raise EvaluationError(
                    f"a GoalSet holds ClinicalGoal objects (use GoalSet.parse for strings); got "
                    f"{goal!r}"
                )
        if not isinstance(self.name, str):
            raise EvaluationError(f"goal set name must be text; got {self.name!r}")
        object.__setattr__(self, "goals", goals)

    # ------------------------------------------------------------------ construction
    @classmethod
    def parse(cls, goals: Iterable[str | ClinicalGoal], *, name: str = "") -> GoalSet:
        """A set from goal strings and/or :class:`ClinicalGoal` objects."""
        if isinstance(goals, str):
            raise EvaluationError(
                "GoalSet.parse takes a list of goal strings; got one string (wrap it in a list)"
            )
        parsed = [
            goal if isinstance(goal, ClinicalGoal) else ClinicalGoal.parse(goal) for goal in goals
        ]
        return cls(goals=tuple(parsed), name=name)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GoalSet:
        """A set from plain data: ``{"name": ..., "goals": [string or {"goal": ..., ...}]}``."""
        if not isinstance(data, Mapping):
            raise EvaluationError(f"goal data must be a mapping with a 'goals' list; got {data!r}")
        unknown = sorted(set(data) - set(_FILE_KEYS))
        if unknown:
            raise EvaluationError(
                f"unknown goal-file keys {unknown}; valid top-level keys: {list(_FILE_KEYS)}"
            )
        entries = data.get("goals")
        if not isinstance(entries, list):
            raise EvaluationError(f"goal data needs a list 'goals'; got {entries!r}")
        goals = []
        for number, entry in enumerate(entries, start=1):
            if isinstance(entry, str):
                goals.append(ClinicalGoal.parse(entry))
                continue
            if not isinstance(entry, Mapping) or "goal" not in entry:
                raise EvaluationError(
                    f"goal {number}: an entry is a goal string or a table with a 'goal' string; "
                    f"got {entry!r}"
                )
            unknown = sorted(set(entry) - set(_GOAL_KEYS))
            if unknown:
                raise EvaluationError(
                    f"goal {number} ({entry['goal']!r}): unknown keys {unknown}; valid keys: "
                    f"{list(_GOAL_KEYS)}"
                )
            options = {key: entry[key] for key in _GOAL_KEYS[1:] if key in entry}
            goals.append(ClinicalGoal.parse(entry["goal"], **options))
        return cls(goals=tuple(goals), name=data.get("name", ""))

    @classmethod
    def read(cls, path: str | Path) -> GoalSet:
        """A set from a ``.toml`` or ``.json`` goal file (format in the class Notes).

        Raises
        ------
        EvaluationError
            Unknown suffix, unreadable file content, or a bad goal.
        FileNotFoundError
            The file does not exist.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".toml", ".json"):
            raise EvaluationError(
                f"goal file {str(path)!r}: unknown suffix {path.suffix!r}; use .toml or .json"
            )
        text = path.read_text(encoding="utf-8")
        try:
            if suffix == ".toml":
                import tomllib

                data = tomllib.loads(text)
            else:
                data = json.loads(text)
        except (ValueError, TypeError) as error:
            raise EvaluationError(
                f"goal file {str(path)!r} is not valid {suffix[1:].upper()}: {error}"
            ) from None
        try:
            goals = cls.from_dict(data)
        except EvaluationError as error:
            raise EvaluationError(f"goal file {str(path)!r}: {error}") from None
        return goals if goals.name else replace(goals, name=path.stem)

    @classmethod
    def quantec(cls) -> GoalSet:
        """QUANTEC organ-at-risk limits for conventional fractionation (Marks et al. 2010).

        Structure names are the organs as QUANTEC names them (``"Spinal
        cord"``, ``"Lung (total)"``, ``"Kidneys (bilateral)"``); map them to
        the patient's names with ``names=`` in :meth:`evaluate` or with
        :meth:`renamed`. Each goal keeps its endpoint, risk, fractionation
        and citation. Rows whose metric is not a single DVH metric, or that
        state a dose-risk point rather than a limit, are left out (listed
        in ``docs/evaluation.md``).

        Notes
        -----
        The limits are population estimates tied to the contouring and
        fractionation of the studies behind them; use them as flags for
        plan comparison, not as safety guarantees (the QUANTEC authors'
        own caution).

        References
        ----------
        Marks LB et al. Use of normal tissue complication probability models
        in the clinic. Int J Radiat Oncol Biol Phys 76(3 Suppl):S10-S19
        (2010). doi:10.1016/j.ijrobp.2009.07.1754

        Examples
        --------
        >>> from rtwin.evaluation import GoalSet
        >>> goals = GoalSet.quantec()
        >>> len(goals)
        49
        >>> for goal in goals:
        ...     if goal.structure == "Spinal cord":
        ...         print(goal, "|", goal.endpoint, goal.risk)
        'Spinal cord' Dmax <= 50 Gy | myelopathy 0.2%
        'Spinal cord' Dmax <= 60 Gy | myelopathy 6%
        'Spinal cord' Dmax <= 69 Gy | myelopathy 50%
        """
        text = resources.files("rtwin.evaluation").joinpath("data/quantec.csv").read_text("utf-8")
        lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        goals = []
        for row in csv.DictReader(io.StringIO("\n".join(lines))):
            metric = Metric.parse(row["metric"])
            goals.append(
                ClinicalGoal(
                    structure=row["organ"],
                    metric=metric,
                    comparator=Comparator(row["comparator"]),
                    limit=float(row["limit"]),
                    source=f"{row['primary_source']}; {row['volume']}",
                    endpoint=row["endpoint"],
                    risk=row["risk"],
                    fractionation=row["fractionation"],
                )
            )
        return cls(goals=tuple(goals), name="QUANTEC (Marks et al. 2010)")

    # ------------------------------------------------------------------ sequence
    def __iter__(self) -> Iterator[ClinicalGoal]:
        return iter(self.goals)

    def __len__(self) -> int:
        return len(self.goals)

    def __getitem__(self, index: int) -> ClinicalGoal:
        return self.goals[index]

    @property
    def structures(self) -> tuple[str, ...]:
        """The structure names the goals refer to, in first-use order."""
        return tuple(dict.fromkeys(goal.structure for goal in self.goals))

    # ------------------------------------------------------------------ new sets
    def renamed(self, names: Mapping[str, str]) -> GoalSet:
        """The set with goal structure names replaced ``{goal name: patient name}``."""
        self._check_names(names)
        return replace(
            self,
            goals=tuple(
                goal.renamed(names[goal.structure]) if goal.structure in names else goal
                for goal in self.goals
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back (write it with ``json.dump``)."""
        return {"name": self.name, "goals": [goal.to_dict() for goal in self.goals]}

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        dose: Dose,
        structures: Mapping[str, Structure],
        *,
        names: Mapping[str, str] | None = None,
        supersampling: int | None = None,
    ) -> GoalResults:
        """Every goal on a dose.

        Parameters
        ----------
        dose
            The dose.
        structures
            The patient's structures by name (a
            :class:`~rtwin.anatomy.StructureSet` or any mapping).
        names
            ``{goal structure: patient structure}`` for names that differ
            (``{"Spinal cord": "Cord"}``); every key must be a structure of
            some goal.
        supersampling
            Passed to :meth:`DVH.compute` (one DVH per structure).

        Returns
        -------
        GoalResults
            One row per goal. A goal whose structure is missing or empty,
            or whose metric is undefined for it, is ``not evaluated`` with
            the reason; it does not stop the others.
        """
        if not isinstance(dose, Dose):
            raise EvaluationError(f"goals are evaluated on a rtwin Dose; got {type(dose).__name__}")
        if not isinstance(structures, Mapping):
            raise EvaluationError(
                f"structures must be a StructureSet or a mapping of names to structures; got "
                f"{type(structures).__name__}"
            )
        mapping = dict(names or {})
        self._check_names(mapping)
        dvhs: dict[str, DVH | str] = {}
        rows = []
        for goal in self.goals:
            patient_name = mapping.get(goal.structure, goal.structure)
            if patient_name not in dvhs:
                dvhs[patient_name] = _dvh_or_reason(
                    dose, structures, patient_name, goal.structure, supersampling
                )
            found = dvhs[patient_name]
            if isinstance(found, str):
                rows.append(
                    GoalResult(
                        goal=goal,
                        structure=patient_name,
                        status=GoalStatus.NOT_EVALUATED,
                        reason=found,
                    )
                )
            else:
                rows.append(goal.evaluate(found, structure=patient_name))
        return GoalResults(rows=tuple(rows))

    def _check_names(self, names: Mapping[str, str]) -> None:
        if not isinstance(names, Mapping):
            raise EvaluationError(
                f"names must be a mapping {{goal structure: patient structure}}; got {names!r}"
            )
        known = self.structures
        unknown = [key for key in names if key not in known]
        if unknown:
            raise EvaluationError(
                f"names maps {', '.join(repr(u) for u in unknown)}, which no goal uses; the goals' "
                f"structures are {', '.join(repr(k) for k in known) or '(none)'}"
            )
        for key, value in names.items():
            if not isinstance(value, str) or not value.strip():
                raise EvaluationError(f"names[{key!r}] must be a structure name; got {value!r}")

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"GoalSet({label}{len(self.goals)} goals)"


def _dvh_or_reason(
    dose: Dose,
    structures: Mapping[str, Structure],
    patient_name: str,
    goal_name: str,
    supersampling: int | None,
) -> DVH | str:
    """The DVH of a structure, or the reason there is none."""
    mapped = f" (for goal structure {goal_name!r})" if patient_name != goal_name else ""
    if patient_name not in structures:
        available = ", ".join(repr(n) for n in structures) or "(none)"
        return (
            f"structure {patient_name!r}{mapped} not in the structures; available: {available} "
            "(map names with names={goal name: patient name})"
        )
    structure = structures[patient_name]
    if not isinstance(structure, Structure):
        raise EvaluationError(
            f"structures[{patient_name!r}] must be a rtwin Structure; got {type(structure).__name__}"
        )
    if structure.is_empty:
        return f"structure {patient_name!r}{mapped} is empty"
    return DVH.compute(dose, structure, supersampling=supersampling)


def _needs_quotes(name: str) -> bool:
    return any(c.isspace() for c in name) or name[0] in "'\""


def _quoted(name: str) -> str:
    if not _needs_quotes(name):
        return name
    quote = '"' if "'" in name else "'"
    return f"{quote}{name}{quote}"


def _with_unit(value: float, unit: str) -> str:
    number = _format_number(value)
    return f"{number}%" if unit == "%" else f"{number} {unit}"


def _number(value: Any, what: str, structure: str) -> float:
    if isinstance(value, bool):
        raise EvaluationError(f"goal for {structure!r}: {what} must be a number; got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise EvaluationError(
            f"goal for {structure!r}: {what} must be a number; got {value!r}"
        ) from None
    if not math.isfinite(number):
        raise EvaluationError(f"goal for {structure!r}: {what} must be finite; got {value!r}")
    return number


def _structure_name(scanner: _Scanner) -> str:
    start = scanner.position
    quote = scanner.peek()
    if quote in ("'", '"'):
        end = scanner.text.find(quote, start + 1)
        if end < 0:
            raise scanner.fail(f"a closing {quote} for the structure name", len(scanner.text))
        name = scanner.text[start + 1 : end]
        if not name.strip():
            raise scanner.fail("a structure name inside the quotes", start + 1)
        scanner.position = end + 1
        return name
    while not scanner.at_end() and not scanner.peek().isspace():
        scanner.position += 1
    if scanner.position == start:
        raise scanner.fail("a structure name (quote it if it has spaces: 'Spinal Cord')")
    return scanner.text[start : scanner.position]


def _comparator(scanner: _Scanner) -> Comparator:
    for symbol in ("<=", ">=", "<", ">"):
        if scanner.take_word(symbol):
            return Comparator(symbol)
    hint = ""
    if scanner.peek().isalnum() or scanner.peek() in "'\"":
        hint = " (a structure name with spaces must be quoted: 'Spinal Cord' Dmax < 45 Gy)"
    raise scanner.fail(f"a comparator '<', '<=', '>' or '>='{hint}")


def _unit(scanner: _Scanner, metric: Metric) -> None:
    position = scanner.position
    for text in ("gy", "cc", "%"):
        if scanner.take_word(text):
            if _UNITS[text] == metric.unit:
                return
            break
    scanner.position = position
    unit = metric.unit
    if metric.kind is MetricKind.VOLUME_AT_DOSE:
        other = (
            f"write V{_format_number(float(metric.value))}Gy[cc] for cm³"  # type: ignore[arg-type]
            if unit == "%"
            else f"write V{_format_number(float(metric.value))}Gy for percent"  # type: ignore[arg-type]
        )
        raise scanner.fail(f"{unit!r} (the unit of {metric}; {other})")
    raise scanner.fail(f"'Gy' (the unit of {metric})")
