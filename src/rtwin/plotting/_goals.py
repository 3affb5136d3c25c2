"""The goal table of a plan comparison as a coloured figure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rtwin.compare._ranking import quantity
from rtwin.errors import EvaluationError
from rtwin.plotting._style import STATUS_COLORS, STATUS_LABELS, STATUS_MARKS

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from rtwin.compare import PlanComparison

__all__ = ["plot_goal_table"]

_WHITE = "#ffffff"
_HEADER = "#dde3ea"


def plot_goal_table(comparison: PlanComparison, *, title: str | None = None) -> Figure:
    """The goal table of a comparison: one row per goal, one column per plan, best plan first.

    Each cell shows the goal's value in its unit with a status mark and a
    background colour: green ✓ pass, amber ~ within the acceptable
    deviation, red ✗ fail, grey n/e not evaluated (the marks keep the
    table readable in grey print and for colour-blind readers).

    Parameters
    ----------
    comparison
        A :class:`~rtwin.compare.PlanComparison`.
    title
        Figure title; by default "Clinical goals (plans ranked best first)".

    Returns
    -------
    matplotlib.figure.Figure
        One axes holding the table (``figure.axes[0].tables[0]``) and a
        status legend.

    Examples
    --------
    >>> import numpy as np, rtwin
    >>> from rtwin.evaluation import GoalSet
    >>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5)
    >>> doses = {name: rtwin.dose.Dose(values=np.full(patient.grid.shape, gy), grid=patient.grid)
    ...          for name, gy in (("A", 60.0), ("B", 57.0))}
    >>> goals = GoalSet.parse(["Target D95% >= 58 Gy ± 1 Gy", "Body Dmax <= 61 Gy"])
    >>> figure = rtwin.plotting.plot_goal_table(rtwin.compare_plans(doses, patient.structures, goals))
    >>> figure.axes[0].tables[0][0, 2].get_text().get_text()
    '1. A'
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from rtwin.compare import PlanComparison

    if not isinstance(comparison, PlanComparison):
        raise EvaluationError(
            f"plot_goal_table needs a PlanComparison (rtwin.compare_plans); got "
            f"{type(comparison).__name__}"
        )
    plans = comparison.ranked_plans
    header = ["Goal", "Priority", *(f"{rank}. {plan.name}" for rank, plan in enumerate(plans, 1))]
    cells: list[list[str]] = []
    colors: list[list[str]] = []
    for index, goal in enumerate(comparison.goals):
        row = [str(goal), str(goal.priority)]
        row_colors = [_WHITE, _WHITE]
        for plan in plans:
            result = plan.goal_results[index]
            status = result.status.value
            mark = STATUS_MARKS[status]
            if result.value is None:
                row.append(mark)
            else:
                row.append(f"{mark} {quantity(result.value, result.unit)}")
            row_colors.append(STATUS_COLORS[status])
        cells.append(row)
        colors.append(row_colors)

    goal_chars = max(len(header[0]), *(len(row[0]) for row in cells)) if cells else 10
    plan_chars = [
        max(len(header[c]), *(len(row[c]) for row in cells)) if cells else len(header[c])
        for c in range(2, len(header))
    ]
    widths = [goal_chars + 2, 9, *(n + 2 for n in plan_chars)]
    total = sum(widths)
    width_in = min(max(0.085 * total + 0.6, 6.0), 22.0)
    height_in = 0.34 * (len(cells) + 1) + 1.3
    figure = Figure(figsize=(width_in, height_in), layout="constrained")
    axes = figure.add_subplot()
    axes.set_axis_off()
    table = axes.table(
        cellText=cells or [["(no goals)", "", *("" for _ in plans)]],
        cellColours=colors or None,
        colLabels=header,
        colWidths=[w / total for w in widths],
        cellLoc="center",
        bbox=(0.0, 0.0, 1.0, 1.0),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    for (row, column), cell in table.get_celld().items():
        cell.set_edgecolor("#9e9e9e")
        if row == 0:
            cell.set_facecolor(_HEADER)
            cell.get_text().set_fontweight("bold")
        if column == 0:
            cell.get_text().set_horizontalalignment("left")
            cell.PAD = 0.02
    handles = [
        Patch(facecolor=STATUS_COLORS[status], edgecolor="#9e9e9e", label=STATUS_LABELS[status])
        for status in STATUS_COLORS
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    figure.suptitle(title if title is not None else "Clinical goals (plans ranked best first)")
    return figure
