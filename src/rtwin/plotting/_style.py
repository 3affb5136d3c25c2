"""Shared look of rtwin figures: colours, line styles, status marks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rtwin.errors import EvaluationError
from rtwin.evaluation._goals import _STATUS_COLORS

__all__ = [
    "LINE_STYLES",
    "STATUS_COLORS",
    "STATUS_LABELS",
    "STATUS_MARKS",
    "cycle_color",
    "rgb",
]

#: Background colour per goal status value (shared with the HTML tables).
STATUS_COLORS = dict(_STATUS_COLORS)
#: Mark drawn next to a value so the status reads without colour too.
STATUS_MARKS = {"pass": "✓", "within tolerance": "~", "fail": "✗", "not evaluated": "n/e"}
#: Legend text per status.
STATUS_LABELS = {
    "pass": "✓ pass",
    "within tolerance": "~ within tolerance",
    "fail": "✗ fail",
    "not evaluated": "n/e not evaluated",
}
#: Line style per plan (solid, dashed, dotted, dash-dot, then denser dashes).
LINE_STYLES: tuple[Any, ...] = (
    "-",
    "--",
    ":",
    "-.",
    (0, (5, 1, 1, 1, 1, 1)),
    (0, (8, 2)),
    (0, (1, 3)),
    (0, (3, 1, 1, 1)),
)
_TAB10 = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def cycle_color(index: int) -> str:
    """The ``index``-th colour of matplotlib's ``tab10`` cycle."""
    return _TAB10[index % len(_TAB10)]


def rgb(color: Sequence[int] | None) -> tuple[float, float, float] | None:
    """A structure's 0-255 RGB colour as matplotlib's 0-1 floats (``None`` stays ``None``)."""
    if color is None:
        return None
    return tuple(float(c) / 255.0 for c in color)  # type: ignore[return-value]


def check_names(given: Sequence[str], available: Sequence[str], what: str) -> tuple[str, ...]:
    """``given`` as a tuple, after checking each is one of ``available``."""
    if isinstance(given, str):
        raise EvaluationError(f"{what} must be a list of names; got one string {given!r}")
    names = tuple(given)
    unknown = [name for name in names if name not in available]
    if unknown:
        raise EvaluationError(
            f"{what}: {', '.join(repr(n) for n in unknown)} not found; available: "
            f"{', '.join(repr(n) for n in available) or '(none)'}"
        )
    return names
