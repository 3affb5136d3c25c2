"""DVH figures: several plans and structures on one set of axes, or one panel per structure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from rtwin.errors import EvaluationError
from rtwin.evaluation import DVH
from rtwin.plotting._style import LINE_STYLES, check_names, cycle_color

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_dvh"]

_LAYOUTS = ("overlay", "per_structure")
_POINTS_PER_CURVE = 600


def plot_dvh(
    dvhs: Mapping[str, Mapping[str, DVH]],
    *,
    structures: Sequence[str] | None = None,
    layout: Literal["overlay", "per_structure"] = "overlay",
    colors: Mapping[str, Any] | None = None,
    prescription_gy: float | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Cumulative DVHs of several plans and structures.

    Parameters
    ----------
    dvhs
        ``{plan name: {structure name: DVH}}``; plans are drawn in this
        order (a :class:`~rtwin.compare.PlanComparison` gives them best
        first through ``comparison.dvhs``). A plan may lack a structure.
        One plan named ``""`` is a single unnamed plan (no plan legend).
    structures
        The structures to draw, in this order; by default every structure
        of any plan, in first-seen order.
    layout
        ``"overlay"``: one set of axes, one colour per structure and one
        line style per plan (solid, dashed, dotted, dash-dot, ...), with a
        structure legend and a plan legend beside the axes. Reads well up
        to about 4 plans × 6 structures. ``"per_structure"``: one panel
        per structure (small multiples, up to three per row), one colour
        and line style per plan; better for many plans or close curves.
    colors
        Colour per structure (any matplotlib colour, e.g. a structure's
        ``color`` scaled to 0-1) for ``"overlay"``; others take the
        ``tab10`` cycle.
    prescription_gy
        Draw a vertical line at the prescription dose.
    title
        Figure title; by default "Dose-volume histograms" (or "DVH of
        <structure>" for one curve).
    figsize
        Inches; by default sized to the layout.

    Returns
    -------
    matplotlib.figure.Figure
        Axes labelled "Dose (Gy)" and "Volume (%)".

    Raises
    ------
    EvaluationError
        No DVH, an unknown layout or structure, or an entry that is not a
        DVH.

    Examples
    --------
    >>> from rtwin.evaluation import DVH
    >>> from rtwin.plotting import plot_dvh
    >>> ptv = DVH(name="PTV", doses_gy=[59.0, 61.0], volumes_cc=[1.0, 1.0])
    >>> cord = DVH(name="Cord", doses_gy=[10.0, 30.0], volumes_cc=[1.0, 1.0])
    >>> figure = plot_dvh({"A": {"PTV": ptv, "Cord": cord}, "B": {"PTV": ptv}},
    ...                   layout="per_structure")
    >>> [axes.get_title() for axes in figure.axes]
    ['PTV', 'Cord']
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    plans = _check_dvhs(dvhs)
    available = tuple(dict.fromkeys(name for curves in plans.values() for name in curves))
    names = available if structures is None else check_names(structures, available, "structures")
    if not names:
        raise EvaluationError("plot_dvh: no structure to draw")
    if layout not in _LAYOUTS:
        raise EvaluationError(f"plot_dvh: unknown layout {layout!r}; use one of {list(_LAYOUTS)}")
    rx = _optional_positive(prescription_gy, "prescription_gy")
    plan_names = tuple(plans)
    named_plans = plan_names != ("",)
    max_gy = max(plans[p][s].max_gy for p in plan_names for s in names if s in plans[p])
    upper_gy = max(max_gy, rx or 0.0) * 1.05 or 1.0
    bin_gy = max(upper_gy / _POINTS_PER_CURVE, 1e-3)
    n_curves = sum(s in plans[p] for p in plan_names for s in names)
    if title is None:
        title = f"DVH of {names[0]}" if n_curves == 1 else "Dose-volume histograms"

    if layout == "overlay":
        figure = Figure(figsize=figsize or (8.5, 5.0), layout="constrained")
        axes = figure.add_subplot()
        structure_colors = {
            name: (colors or {}).get(name) or cycle_color(index) for index, name in enumerate(names)
        }
        for p_index, plan in enumerate(plan_names):
            for name in names:
                if name in plans[plan]:
                    _draw(axes, plans[plan][name], bin_gy, structure_colors[name], p_index)
        _decorate(axes, upper_gy, rx)
        structure_handles = [
            Line2D([], [], color=structure_colors[name], linewidth=2.0, label=name)
            for name in names
        ]
        plan_handles = [
            Line2D([], [], color="0.15", linestyle=_style(i), linewidth=1.6, label=plan)
            for i, plan in enumerate(plan_names)
        ]
        extra = _prescription_handle(rx)
        if named_plans:
            figure.legend(handles=structure_handles, title="Structure", loc="outside right upper")
            figure.legend(handles=plan_handles + extra, title="Plan", loc="outside right lower")
        else:
            figure.legend(
                handles=structure_handles + extra, title="Structure", loc="outside right upper"
            )
    else:
        n_cols = min(3, len(names))
        n_rows = math.ceil(len(names) / n_cols)
        figure = Figure(
            figsize=figsize or (3.6 * n_cols + 1.8, 3.0 * n_rows + 0.6), layout="constrained"
        )
        grid = figure.subplots(n_rows, n_cols, squeeze=False, sharex=True, sharey=True)
        for index, name in enumerate(names):
            axes = grid[index // n_cols][index % n_cols]
            for p_index, plan in enumerate(plan_names):
                if name in plans[plan]:
                    _draw(axes, plans[plan][name], bin_gy, cycle_color(p_index), p_index)
            _decorate(axes, upper_gy, rx)
            axes.set_title(name)
            if index % n_cols:
                axes.set_ylabel("")
            if index + n_cols < len(names):
                axes.set_xlabel("")  # a panel below carries the label
            else:
                axes.tick_params(labelbottom=True)  # last panel of its column
        for index in range(len(names), n_rows * n_cols):
            grid[index // n_cols][index % n_cols].remove()
        handles = [
            Line2D([], [], color=cycle_color(i), linestyle=_style(i), linewidth=1.6, label=plan)
            for i, plan in enumerate(plan_names)
        ]
        handles = (handles if named_plans else []) + _prescription_handle(rx)
        if handles:
            figure.legend(handles=handles, title="Plan", loc="outside right upper")
    figure.suptitle(title)
    return figure


def _check_dvhs(dvhs: Mapping[str, Mapping[str, DVH]]) -> dict[str, dict[str, DVH]]:
    if not isinstance(dvhs, Mapping) or not dvhs:
        raise EvaluationError(
            "plot_dvh needs {plan name: {structure name: DVH}} with at least one plan; got "
            f"{type(dvhs).__name__}"
        )
    plans: dict[str, dict[str, DVH]] = {}
    for plan, curves in dvhs.items():
        if not isinstance(plan, str):
            raise EvaluationError(f"plot_dvh: plan names must be text; got {plan!r}")
        if not isinstance(curves, Mapping):
            raise EvaluationError(
                f"plot_dvh: plan {plan!r} must map structure names to DVHs; got "
                f"{type(curves).__name__}"
            )
        for name, dvh in curves.items():
            if not isinstance(dvh, DVH):
                raise EvaluationError(
                    f"plot_dvh: plan {plan!r}, structure {name!r} is a {type(dvh).__name__}, "
                    "not a DVH (use DVH.compute)"
                )
        plans[plan] = dict(curves)
    return plans


def _optional_positive(value: float | None, what: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise EvaluationError(f"{what} must be a dose in Gy; got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise EvaluationError(f"{what} must be a finite dose > 0 Gy; got {value!r}")
    return number


def _style(index: int) -> Any:
    return LINE_STYLES[index % len(LINE_STYLES)]


def _draw(axes: Axes, dvh: DVH, bin_gy: float, color: Any, plan_index: int) -> None:
    doses, fractions = dvh.curve(bin_gy)
    axes.plot(doses, 100.0 * fractions, color=color, linestyle=_style(plan_index), linewidth=1.6)


def _decorate(axes: Axes, upper_gy: float, prescription_gy: float | None) -> None:
    if prescription_gy is not None:
        axes.axvline(prescription_gy, color="0.35", linewidth=0.9, linestyle=(0, (2, 2)))
    axes.set_xlim(0.0, upper_gy)
    axes.set_ylim(0.0, 102.0)
    axes.set_xlabel("Dose (Gy)")
    axes.set_ylabel("Volume (%)")
    axes.grid(True, color="0.88", linewidth=0.6)


def _prescription_handle(prescription_gy: float | None) -> list[Any]:
    from matplotlib.lines import Line2D

    if prescription_gy is None:
        return []
    return [
        Line2D(
            [],
            [],
            color="0.35",
            linewidth=0.9,
            linestyle=(0, (2, 2)),
            label=f"Prescription {prescription_gy:g} Gy",
        )
    ]
