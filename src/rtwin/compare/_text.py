"""Words and tables for a plan comparison: explain(), table(), the HTML repr."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from rtwin.compare._ranking import RankingStep, goal_load, quantity
from rtwin.evaluation import GoalResult, GoalStatus
from rtwin.evaluation._goals import _STATUS_COLORS

if TYPE_CHECKING:  # pragma: no cover
    from rtwin.compare._comparison import PlanComparison, PlanEvaluation

__all__ = ["explain", "html_table", "table"]

#: Differences smaller than this (percentage points) are not worth a sentence.
_NOTABLE_PERCENT = 0.05
_TEXT_MARKS = {
    GoalStatus.PASS: "pass",
    GoalStatus.WITHIN_TOLERANCE: "tol",
    GoalStatus.FAIL: "FAIL",
    GoalStatus.NOT_EVALUATED: "n/e",
}


# ---------------------------------------------------------------------- explain
def explain(comparison: PlanComparison) -> str:
    """The explanation text (see :meth:`PlanComparison.explain`)."""
    ranked = comparison.ranked_plans
    best = ranked[0]
    paragraphs = [f"Recommended plan: {best.name}."]
    if len(ranked) == 1:
        paragraphs.append("Only one plan was compared, so there is no ranking to explain.")
    else:
        order = ", ".join(f"{rank}. {plan.name}" for rank, plan in enumerate(ranked, 1))
        paragraphs.append(
            f"Ranking, best first: {order}. Rule: fewest failed goals, most important priority "
            "first; then target coverage (counted up to 100%; differences of up to "
            f"{_points(comparison.coverage_tolerance_percent)} count as equal); then "
            "organ-at-risk sparing."
        )
    paragraphs.append(_summary(comparison, best))
    for rank, plan in enumerate(ranked[1:], start=2):
        paragraphs.append(_why_below(comparison, plan, best, rank))
    missing = _not_evaluated(comparison)
    if missing:
        paragraphs.append(missing)
    biology = _radiobiology(comparison)
    if biology:
        paragraphs.append(biology)
    return "\n\n".join(paragraphs)


def _summary(comparison: PlanComparison, plan: PlanEvaluation) -> str:
    rows = [row for row in plan.goal_results if row.status is not GoalStatus.NOT_EVALUATED]
    passed = [row for row in rows if row.status is GoalStatus.PASS]
    deviating = [row for row in rows if row.status is GoalStatus.WITHIN_TOLERANCE]
    failed = [row for row in rows if row.status is GoalStatus.FAIL]
    sentences = []
    if not rows:
        sentences.append(f"{plan.name} has no evaluated goals.")
    elif not deviating and not failed:
        sentences.append(f"{plan.name} meets all {len(rows)} evaluated goals.")
    else:
        sentence = f"{plan.name} meets {len(passed)} of {len(rows)} evaluated goals"
        if deviating:
            sentence += (
                f"; {_count(len(deviating), 'goal')} within the acceptable deviation: "
                + "; ".join(_row_detail(row) for row in deviating)
            )
        if failed:
            sentence += f"; it fails {_count(len(failed), 'goal')}: " + "; ".join(
                _row_detail(row) for row in failed
            )
        sentences.append(sentence + ".")
        if failed and len(comparison) > 1:
            sentences.append("Every plan fails at least one goal.")
    score = plan.score
    if score.coverage is not None:
        sentences.append(f"Target coverage: {score.coverage.describe()}.")
    if score.organ_at_risk_goal_load_percent is not None:
        sentences.append(
            "Its organ-at-risk goals use "
            f"{score.organ_at_risk_goal_load_percent:.1f}% of their limits on average."
        )
    elif score.organ_at_risk_mean_dose_gy is not None:
        sentences.append(
            "The organs at risk's mean doses add up to "
            f"{quantity(score.organ_at_risk_mean_dose_gy, 'Gy')}."
        )
    for target in plan.targets:
        parts = []
        if target.conformity_index is not None:
            parts.append(f"Paddick CI {target.conformity_index:.2f}")
        if target.homogeneity_index is not None:
            parts.append(f"HI {target.homogeneity_index:.2f}")
        if target.gradient_index is not None:
            parts.append(f"GI {target.gradient_index:.2f}")
        if parts:
            sentences.append(f"{target.structure}: {', '.join(parts)}.")
    return " ".join(sentences)


def _why_below(
    comparison: PlanComparison, plan: PlanEvaluation, best: PlanEvaluation, rank: int
) -> str:
    step = comparison.deciding_step(plan.name)
    head = f"{plan.name} ranks {_ordinal(rank)}"
    if step in (RankingStep.FAILED_GOALS, RankingStep.GOALS_WITHIN_TOLERANCE):
        text = head + ": " + _goal_step(plan, best, step)
    elif step is RankingStep.TARGET_COVERAGE:
        own, other = plan.score.coverage, best.score.coverage
        assert own is not None and other is not None  # groups differ only with coverage
        same = own.structure == other.structure and own.metric == other.metric
        theirs = (
            f"{other.percent:.1f}% ({quantity(other.value, other.unit)})"
            if same
            else other.describe()
        )
        text = (
            f"{head}: {_same_goals(plan, best)}, but covers the target less: "
            f"{own.describe()}, against {theirs} for {best.name}; "
            f"{_points(other.capped_percent - own.capped_percent, 1)} less."
        )
    elif step is RankingStep.ORGAN_AT_RISK_GOALS:
        text = (
            f"{head}: {_same_goals(plan, best)} and covers the target as well"
            f"{_coverage_pair(plan, best)}, but spares the organs at risk less: its "
            "organ-at-risk goals use "
            f"{plan.score.organ_at_risk_goal_load_percent:.1f}% of their limits on average, "
            f"against {best.score.organ_at_risk_goal_load_percent:.1f}% for {best.name}."
        )
        worst = _largest_load_difference(comparison, plan, best)
        if worst is not None:
            own, other = worst
            text += (
                f" The largest difference is {own.goal}: {quantity(own.value, own.unit)} "
                f"against {quantity(other.value, other.unit)} for {best.name}."
            )
    elif step is RankingStep.ORGAN_AT_RISK_MEAN_DOSE:
        text = (
            f"{head}: {_same_goals(plan, best)}, covers the target as well and uses as much "
            "of the organ-at-risk limits, but the organs at risk receive more dose: their mean "
            "doses add up to "
            f"{quantity(plan.score.organ_at_risk_mean_dose_gy or 0.0, 'Gy')}, against "
            f"{quantity(best.score.organ_at_risk_mean_dose_gy or 0.0, 'Gy')} for {best.name}."
        )
    else:
        text = (
            f"{head}: it is equal to {best.name} on every step of the rule; "
            f"{best.name} comes first by name."
        )
    gains = _gains(comparison, plan, best, step)
    if gains:
        text += " In exchange, " + "; and ".join(gains) + "."
    return text


def _goal_step(plan: PlanEvaluation, best: PlanEvaluation, step: RankingStep) -> str:
    failed = step is RankingStep.FAILED_GOALS
    status = GoalStatus.FAIL if failed else GoalStatus.WITHIN_TOLERANCE
    own_counts = (
        plan.score.failed_by_priority if failed else plan.score.within_tolerance_by_priority
    )
    best_counts = (
        best.score.failed_by_priority if failed else best.score.within_tolerance_by_priority
    )
    priority = next(
        p for p, (a, b) in enumerate(zip(own_counts, best_counts, strict=True), 1) if a != b
    )
    own, other = own_counts[priority - 1], best_counts[priority - 1]
    verb = "fails" if failed else "misses"
    what = ""
    prefix = ""
    if not failed:
        what = (
            " within its acceptable deviation"
            if own == 1
            else " within their acceptable deviations"
        )
        prefix = (
            f"like {best.name}, it fails no goal, but "
            if plan.score.n_failed == 0
            else f"it fails as many goals of each priority as {best.name}, but "
        )
    extra = [
        (row, best_row)
        for row, best_row in zip(plan.goal_results, best.goal_results, strict=True)
        if row.goal.priority == priority and row.status is status and best_row.status is not status
    ]
    details = "; ".join(
        f"{_row_detail(row)} ({best.name}: {_value_text(best_row)})" for row, best_row in extra
    )
    goal_word = "goal" if own == 1 else "goals"
    return (
        f"{prefix}it {verb} {own} priority-{priority} {goal_word}{what} where {best.name} "
        f"{verb} {other or 'none'}: {details}."
    )


def _same_goals(plan: PlanEvaluation, best: PlanEvaluation) -> str:
    """What two plans tied at step 1 share, as a clause."""
    if plan.score.n_failed == 0 and plan.score.n_within_tolerance == 0:
        return f"like {best.name}, it meets every evaluated goal"
    return f"it misses as many goals of each priority as {best.name}"


def _gains(
    comparison: PlanComparison, plan: PlanEvaluation, best: PlanEvaluation, step: RankingStep
) -> list[str]:
    """What a lower-ranked plan does better than the recommended one (for "In exchange")."""
    gains = []
    order = list(RankingStep)
    own, other = plan.score.coverage, best.score.coverage
    if (
        step is not RankingStep.TARGET_COVERAGE
        and own is not None
        and other is not None
        and own.capped_percent > other.capped_percent + _NOTABLE_PERCENT
    ):
        gains.append(
            f"it covers the target better: {own.describe()}, against "
            f"{other.capped_percent:.1f}% for {best.name}"
        )
    own_load = plan.score.organ_at_risk_goal_load_percent
    best_load = best.score.organ_at_risk_goal_load_percent
    if (
        order.index(step) < order.index(RankingStep.ORGAN_AT_RISK_GOALS)
        and own_load is not None
        and best_load is not None
        and own_load < best_load - _NOTABLE_PERCENT
    ):
        pair = _largest_load_difference(comparison, best, plan)
        text = (
            f"it spares the organs at risk better: its organ-at-risk goals use {own_load:.1f}% "
            f"of their limits on average, against {best_load:.1f}% for {best.name}"
        )
        if pair is not None:
            better, worse = pair
            text += (
                f" (most of all {better.goal}: {quantity(worse.value, worse.unit)} against "
                f"{quantity(better.value, better.unit)} for {best.name})"
            )
        gains.append(text)
    return gains


def _largest_load_difference(
    comparison: PlanComparison, higher: PlanEvaluation, lower: PlanEvaluation
) -> tuple[GoalResult, GoalResult] | None:
    """The organ-at-risk goal where ``higher`` uses the most more of its limit than ``lower``."""
    found = None
    largest = _NOTABLE_PERCENT
    for row_high, row_low in zip(higher.goal_results, lower.goal_results, strict=True):
        load_high = goal_load(row_high, comparison.targets)
        load_low = goal_load(row_low, comparison.targets)
        if load_high is None or load_low is None:
            continue
        if load_high - load_low > largest:
            largest = load_high - load_low
            found = (row_high, row_low)
    return found


def _coverage_pair(plan: PlanEvaluation, best: PlanEvaluation) -> str:
    own, other = plan.score.coverage, best.score.coverage
    if own is None or other is None:
        return ""
    return (
        f" ({own.structure} {own.metric} {own.percent:.1f}% against {other.percent:.1f}% of "
        f"the {'prescription' if not own.goal else 'limit'})"
    )


def _row_detail(row: GoalResult) -> str:
    """``PTV D95% >= 74 Gy ± 1 Gy is 70.20 Gy, 3.80 Gy short of the limit``."""
    goal = row.goal
    if row.value is None or row.margin is None:
        return f"{goal} is not evaluated ({row.reason})"
    value = quantity(row.value, goal.unit)
    if row.margin >= 0:
        return f"{goal} is {value}"
    side = "over" if goal.comparator.is_upper_limit else "short of"
    return f"{goal} is {value}, {quantity(-row.margin, goal.unit)} {side} the limit"


def _value_text(row: GoalResult) -> str:
    if row.value is None:
        return "not evaluated"
    return f"{quantity(row.value, row.unit)}, {row.status.value}"


def _not_evaluated(comparison: PlanComparison) -> str:
    first = comparison.ranked_plans[0]
    rows = [
        index
        for index, row in enumerate(first.goal_results)
        if all(
            plan.goal_results[index].status is GoalStatus.NOT_EVALUATED for plan in comparison.plans
        )
    ]
    if not rows:
        return ""
    items = "; ".join(
        f"{first.goal_results[i].goal} ({first.goal_results[i].reason})" for i in rows
    )
    scope = "any plan" if len(comparison) > 1 else "the plan"
    return f"Not evaluated for {scope} and left out of the ranking: {items}."


def _radiobiology(comparison: PlanComparison) -> str:
    ranked = comparison.ranked_plans
    sentences = []
    for attribute, label in (("ntcp", "NTCP"), ("tcp", "TCP")):
        for index, result in enumerate(getattr(ranked[0], attribute)):
            values = []
            for plan in ranked:
                entry = getattr(plan, attribute)[index]
                values.append(
                    f"{plan.name} {100 * entry.probability:.1f}%"
                    if entry.probability is not None
                    else f"{plan.name} not computed ({entry.reason})"
                )
            sentences.append(
                f"{label} of {result.structure} ({result.model}, {result.dose}): "
                + ", ".join(values)
                + "."
            )
    if not sentences:
        return ""
    return "Radiobiology (reported, not part of the ranking): " + " ".join(sentences)


def _points(value: float, decimals: int | None = None) -> str:
    """``1 percentage point``, ``4.0 percentage points``."""
    number = f"{value:g}" if decimals is None else f"{value:.{decimals}f}"
    return f"{number} percentage point" + ("" if number == "1" else "s")


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# ---------------------------------------------------------------------- tables
def table(comparison: PlanComparison) -> str:
    """Plain-text goal table; see :meth:`PlanComparison.table`."""
    ranked = comparison.ranked_plans
    header = ["goal", "priority", *(f"{rank}. {plan.name}" for rank, plan in enumerate(ranked, 1))]
    lines = [header]
    for index, goal in enumerate(comparison.goals):
        cells = [str(goal), str(goal.priority)]
        for plan in ranked:
            row = plan.goal_results[index]
            mark = _TEXT_MARKS[row.status]
            cells.append(mark if row.value is None else f"{quantity(row.value, row.unit)} {mark}")
        lines.append(cells)
    lines.append(["failed goals (priority 1, 2, ...)", "", *(_counts(p) for p in ranked)])
    if any(plan.score.coverage is not None for plan in ranked):
        lines.append(
            [
                "target coverage (worst target)",
                "",
                *(
                    f"{p.score.coverage.percent:.1f}%" if p.score.coverage is not None else "-"
                    for p in ranked
                ),
            ]
        )
    if any(plan.score.organ_at_risk_goal_load_percent is not None for plan in ranked):
        lines.append(
            [
                "organ-at-risk goal load (mean % of limit)",
                "",
                *(
                    f"{p.score.organ_at_risk_goal_load_percent:.1f}%"
                    if p.score.organ_at_risk_goal_load_percent is not None
                    else "-"
                    for p in ranked
                ),
            ]
        )
    for t_index, target in enumerate(ranked[0].targets):
        for label, attribute in (
            ("Paddick CI", "conformity_index"),
            ("HI", "homogeneity_index"),
            ("GI", "gradient_index"),
        ):
            values = [getattr(plan.targets[t_index], attribute) for plan in ranked]
            if any(value is not None for value in values):
                lines.append(
                    [
                        f"{target.structure} {label}",
                        "",
                        *("-" if v is None else f"{v:.2f}" for v in values),
                    ]
                )
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    rendered = []
    for number, line in enumerate(lines):
        cells = [
            line[c].ljust(widths[c]) if c == 0 else line[c].rjust(widths[c])
            for c in range(len(header))
        ]
        rendered.append("  ".join(cells).rstrip())
        if number == 0 or number == len(comparison.goals):
            rendered.append("  ".join("-" * w for w in widths))
    rendered.append(
        "pass = goal met; tol = missed within the acceptable deviation; FAIL = missed; "
        "n/e = not evaluated"
    )
    return "\n".join(rendered)


def _counts(plan: PlanEvaluation) -> str:
    counts = plan.score.failed_by_priority
    return ", ".join(str(n) for n in counts) if counts else "-"


def html_table(comparison: PlanComparison) -> str:
    """The goal table as a small HTML table coloured by status (Jupyter)."""
    ranked = comparison.ranked_plans
    cell = "padding:2px 8px;border:1px solid #bbb"
    head = f'<th style="{cell}">goal</th><th style="{cell}">priority</th>' + "".join(
        f'<th style="{cell}">{rank}. {html.escape(plan.name)}</th>'
        for rank, plan in enumerate(ranked, 1)
    )
    body = []
    for index, goal in enumerate(comparison.goals):
        cells = [
            f'<td style="{cell};text-align:left">{html.escape(str(goal))}</td>',
            f'<td style="{cell}">{goal.priority}</td>',
        ]
        for plan in ranked:
            row = plan.goal_results[index]
            text = (
                _TEXT_MARKS[row.status]
                if row.value is None
                else f"{quantity(row.value, row.unit)} {_TEXT_MARKS[row.status]}"
            )
            title = html.escape(row.reason or row.status.value, quote=True)
            color = _STATUS_COLORS[row.status.value]
            cells.append(
                f'<td style="{cell};background:{color};color:#000" title="{title}">'
                f"{html.escape(text)}</td>"
            )
        body.append(f"<tr>{''.join(cells)}</tr>")
    caption = (
        f"Recommended: <b>{html.escape(comparison.recommended)}</b> "
        f"(ranking: {html.escape(', '.join(comparison.ranking))})"
    )
    return (
        f'<div><p style="margin:2px 0">{caption}</p>'
        f'<table style="border-collapse:collapse;font-size:90%">'
        f"<tr>{head}</tr>{''.join(body)}</table></div>"
    )
