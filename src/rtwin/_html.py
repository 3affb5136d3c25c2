"""Small HTML tables for Jupyter reprs (private)."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

__all__ = ["html_table"]


def html_table(title: str, rows: Iterable[tuple[str, Any]]) -> str:
    """A two-column table (item, value) under a bold title."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<div><b>{html.escape(title)}</b><table>{body}</table></div>"
