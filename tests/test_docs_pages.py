"""docs/getting-started.md runs as written and prints what the page shows.

The page is one Python session: every ```python block followed by a plain
``` block is run in order in one namespace (a fresh interpreter, working
directory a temporary folder), and what it prints is compared with the
page's output block: the same text with the numbers masked. The numbers
on the page are rtwin's own output, pasted as an illustration; they are
not asserted here (validation against references lives in the other
tests, listed in docs/validation.md).

Regenerate the output blocks after a deliberate change::

    python tests/test_docs_pages.py --update docs/getting-started.md
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "docs" / "getting-started.md"]
_BLOCK = re.compile(r"```python\n(.*?)```\n\n```\n(.*?)```", flags=re.S)
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")

_RUNNER = """
import contextlib, io, json, sys
blocks = json.load(sys.stdin)
namespace = {}
outputs = []
for code in blocks:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, "<page>", "exec"), namespace)
    outputs.append(buffer.getvalue())
print(json.dumps(outputs))
"""


def run_page(page: Path, workdir: Path) -> list[tuple[str, str]]:
    """``(page output, run output)`` for every code block of ``page``."""
    blocks = _BLOCK.findall(page.read_text(encoding="utf-8"))
    env = {**os.environ, "MPLBACKEND": "Agg"}
    completed = subprocess.run(
        [sys.executable, "-c", _RUNNER],
        input=json.dumps([code for code, _ in blocks]),
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        check=True,
    )
    outputs = json.loads(completed.stdout.strip().splitlines()[-1])
    return [(expected, got) for (_, expected), got in zip(blocks, outputs, strict=True)]


def _close(expected: str, got: str) -> bool:
    """The same text, with every number masked and runs of spaces (table alignment) as one."""

    def masked(text: str) -> str:
        return re.sub(r" +", " ", _NUMBER.sub("#", text))

    return masked(expected) == masked(got)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_prints_what_it_shows(page, tmp_path):
    pairs = run_page(page, tmp_path)
    assert len(pairs) >= 5
    for expected, got in pairs:
        assert _close(expected, got), f"page shows:\n{expected}\nrun prints:\n{got}"


def _update(page: Path) -> None:
    import tempfile

    text = page.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as folder:
        pairs = run_page(page, Path(folder))
    pieces = _BLOCK.split(text)
    # split yields: text, code, output, text, code, output, ..., text
    for index, (_, got) in enumerate(pairs):
        pieces[3 * index + 2] = got
    rebuilt = pieces[0]
    for index in range(len(pairs)):
        code, output, after = pieces[3 * index + 1 : 3 * index + 4]
        rebuilt += f"```python\n{code}```\n\n```\n{output}```" + after
    page.write_text(rebuilt, encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--update"]:
        for name in sys.argv[2:]:
            _update(Path(name))
