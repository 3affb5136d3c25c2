"""The ranking rule of a plan comparison: each plan's score, the sort keys, the deciding step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rtwin.errors import EvaluationError
from rtwin.evaluation import DVH, GoalResult, GoalResults, GoalStatus

__all__ = ["Coverage", "PlanScore", "RankingStep"]

#: Sort keys are rounded to this many decimals so float noise never decides a rank.
_KEY_DECIMALS = 6
_EPSILON = 1e-9


class RankingStep(StrEnum):
    """The criterion that separates two plans, in the order the rule applies them."""

    FAILED_GOALS = "failed goals"
    """Step 1a: failed goals, compared priority by priority (1 first)."""
    GOALS_WITHIN_TOLERANCE = "goals within tolerance"
    """Step 1b: goals missed within their acceptable deviation, priority by priority."""
    TARGET_COVERAGE = "target coverage"
    """Step 2: coverage of the worst-covered target, with a tolerance."""
    ORGAN_AT_RISK_GOALS = "organ-at-risk goals"
    """Step 3a: mean share of their limits that the organ-at-risk goals use."""
    ORGAN_AT_RISK_MEAN_DOSE = "organ-at-risk mean dose"
    """Step 3b: sum of the organs at risk's mean doses."""
    NAME = "name"
    """Equal on every criterion: alphabetical order of the names."""


_STEPS = tuple(RankingStep)


@dataclass(frozen=True, slots=True, kw_only=True)
class Coverage:
    """How well the worst-covered target of a plan is covered (step 2 of the ranking).

    Parameters
    ----------
    structure
        The target.
    metric
        The metric read (``"D95%"`` with a prescription, else the goal's
        metric).
    value
        Its value in ``unit``.
    unit
        ``"Gy"``, ``"%"`` or ``"cc"``.
    reference
        The prescription (Gy) or the goal's limit, in ``unit``.
    goal
        The goal string when the figure comes from a goal; ``""`` for the
        prescription.
    """

    structure: str
    metric: str
    value: float
    unit: str
    reference: float
    goal: str = ""

    @property
    def percent(self) -> float:
        """``100 × value / reference``: 100 means exactly the prescription (or limit)."""
        return 100.0 * self.value / self.reference

    @property
    def capped_percent(self) -> float:
        """:attr:`percent`, at most 100 (more than full coverage is no better coverage)."""
        return min(self.percent, 100.0)

    def describe(self) -> str:
        """``"PTV D95% = 74.88 Gy, 96.0% of the 78 Gy prescription"`` (or of the goal's limit)."""
        value = quantity(self.value, self.unit)
        reference = limit_text(self.reference, self.unit)
        of = f"the {reference} prescription" if not self.goal else f"the {reference} limit"
        return f"{self.structure} {self.metric} = {value}, {self.percent:.1f}% of {of}"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {
            "structure": self.structure,
            "metric": self.metric,
            "value": self.value,
            "unit": self.unit,
            "reference": self.reference,
            "basis": "goal" if self.goal else "prescription",
            "goal": self.goal,
            "percent": self.percent,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanScore:
    """What the ranking rule reads from one plan (see :func:`rtwin.compare.compare_plans`).

    Parameters
    ----------
    failed_by_priority
        Number of failed goals of priority 1, 2, …, up to the goal set's
        largest priority.
    within_tolerance_by_priority
        The same for goals missed within their acceptable deviation.
    coverage
        The worst-covered target, or ``None`` when no target has a
        prescription or a lower-limit goal.
    organ_at_risk_goal_load_percent
        Mean over the organ-at-risk goals (upper limits > 0 on structures
        that are not targets, evaluated) of ``100 × value / limit``;
        ``None`` without such goals.
    organ_at_risk_mean_dose_gy
        Sum of the mean doses of the structures with role
        ``organ_at_risk``; ``None`` without any.
    """

    failed_by_priority: tuple[int, ...]
    within_tolerance_by_priority: tuple[int, ...]
    coverage: Coverage | None
    organ_at_risk_goal_load_percent: float | None
    organ_at_risk_mean_dose_gy: float | None

    @property
    def n_failed(self) -> int:
        """Failed goals of any priority."""
        return sum(self.failed_by_priority)

    @property
    def n_within_tolerance(self) -> int:
        """Goals within tolerance of any priority."""
        return sum(self.within_tolerance_by_priority)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready); priorities are string keys ``"1"``, ``"2"``, …."""
        return {
            "failed_by_priority": _by_priority(self.failed_by_priority),
            "within_tolerance_by_priority": _by_priority(self.within_tolerance_by_priority),
            "coverage": None if self.coverage is None else self.coverage.to_dict(),
            "coverage_percent_capped": (
                None if self.coverage is None else self.coverage.capped_percent
            ),
            "organ_at_risk_goal_load_percent": self.organ_at_risk_goal_load_percent,
            "organ_at_risk_mean_dose_gy": self.organ_at_risk_mean_dose_gy,
        }


def _by_priority(counts: tuple[int, ...]) -> dict[str, int]:
    return {str(priority): count for priority, count in enumerate(counts, start=1)}


# ---------------------------------------------------------------------- scoring
def score_plan(
    goal_results: GoalResults,
    dvhs: Mapping[str, DVH],
    *,
    targets: Sequence[str],
    organs_at_risk: Sequence[str],
    prescription_gy: float | None,
    n_priorities: int,
) -> PlanScore:
    """The score of one plan from its goal table and DVHs."""
    failed = [0] * n_priorities
    deviating = [0] * n_priorities
    for row in goal_results:
        if row.status is GoalStatus.FAIL:
            failed[row.goal.priority - 1] += 1
        elif row.status is GoalStatus.WITHIN_TOLERANCE:
            deviating[row.goal.priority - 1] += 1
    loads = [load for row in goal_results if (load := goal_load(row, targets)) is not None]
    means = [dvhs[name].mean_gy for name in organs_at_risk if name in dvhs]
    return PlanScore(
        failed_by_priority=tuple(failed),
        within_tolerance_by_priority=tuple(deviating),
        coverage=_coverage(goal_results, dvhs, targets, prescription_gy),
        organ_at_risk_goal_load_percent=sum(loads) / len(loads) if loads else None,
        organ_at_risk_mean_dose_gy=sum(means) if means else None,
    )


def goal_load(row: GoalResult, targets: Sequence[str]) -> float | None:
    """``100 × value / limit`` of an evaluated organ-at-risk goal; ``None`` for other rows."""
    goal = row.goal
    if (
        row.value is None
        or row.structure in targets
        or not goal.comparator.is_upper_limit
        or goal.limit <= 0
    ):
        return None
    return 100.0 * row.value / goal.limit


def _coverage(
    goal_results: GoalResults,
    dvhs: Mapping[str, DVH],
    targets: Sequence[str],
    prescription_gy: float | None,
) -> Coverage | None:
    figures: list[Coverage] = []
    for target in targets:
        if target not in dvhs:
            continue
        if prescription_gy is not None:
            figures.append(
                Coverage(
                    structure=target,
                    metric="D95%",
                    value=dvhs[target].dose_at_volume(0.95),
                    unit="Gy",
                    reference=prescription_gy,
                )
            )
            continue
        for row in goal_results:
            goal = row.goal
            if (
                row.structure == target
                and row.value is not None
                and not goal.comparator.is_upper_limit
                and goal.limit > 0
            ):
                figures.append(
                    Coverage(
                        structure=target,
                        metric=str(goal.metric),
                        value=row.value,
                        unit=goal.unit,
                        reference=goal.limit,
                        goal=str(goal),
                    )
                )
    if not figures:
        return None
    return min(figures, key=lambda figure: figure.percent)  # first of equals: set order


# ---------------------------------------------------------------------- ranking
def rank(
    scores: Mapping[str, PlanScore], coverage_tolerance_percent: float
) -> tuple[tuple[str, ...], dict[str, tuple[Any, ...]]]:
    """Names best first, and each plan's sort key (one entry per :class:`RankingStep`).

    Coverage is compared in groups: among plans with the same goal
    outcome (step 1), sorted by coverage, a plan joins the group of the
    best-covered plan not yet grouped when it is within the tolerance of
    it, and starts the next group otherwise. The group number is the
    coverage part of the key.
    """
    outcome = {
        name: (score.failed_by_priority, score.within_tolerance_by_priority)
        for name, score in scores.items()
    }
    group: dict[str, int] = {}
    for key in sorted(set(outcome.values())):
        members = sorted(
            (name for name in scores if outcome[name] == key),
            key=lambda name: (-_coverage_value(scores[name]), name),
        )
        leader: float | None = None
        number = -1
        for name in members:
            value = _coverage_value(scores[name])
            if leader is None or value < leader - coverage_tolerance_percent - _EPSILON:
                number += 1
                leader = value
            group[name] = number
    keys = {
        name: (
            score.failed_by_priority,
            score.within_tolerance_by_priority,
            group[name],
            _rounded(score.organ_at_risk_goal_load_percent),
            _rounded(score.organ_at_risk_mean_dose_gy),
            name,
        )
        for name, score in scores.items()
    }
    ranking = tuple(sorted(scores, key=lambda name: keys[name]))
    return ranking, keys


def deciding_step(better: tuple[Any, ...], worse: tuple[Any, ...]) -> RankingStep:
    """The first step at which two sort keys differ."""
    for step, a, b in zip(_STEPS, better, worse, strict=True):
        if a != b:
            return step
    raise EvaluationError("a plan compared with itself has no deciding step")


def _coverage_value(score: PlanScore) -> float:
    return score.coverage.capped_percent if score.coverage is not None else 0.0


def _rounded(value: float | None) -> float:
    return 0.0 if value is None else round(value, _KEY_DECIMALS)


# ---------------------------------------------------------------------- wording helpers
def quantity(value: float, unit: str) -> str:
    """A measured value with its unit, two decimals: ``74.12 Gy``, ``12.40%``, ``1.25 cc``."""
    return f"{value:.2f}%" if unit == "%" else f"{value:.2f} {unit}"


def limit_text(value: float, unit: str) -> str:
    """A limit as written in goals: ``78 Gy``, ``20%``, ``0.5 cc``."""
    return f"{value:g}%" if unit == "%" else f"{value:g} {unit}"
