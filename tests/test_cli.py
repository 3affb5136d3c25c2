"""The rtwin command: demo runs on the embedded phantom; exit codes."""

from __future__ import annotations

import subprocess
import sys

from rtwin.cli import EXIT_BAD_INPUT, EXIT_OK, main


def test_demo_quick_prints_the_phantom(capsys):
    assert main(["demo", "--quick"]) == EXIT_OK
    output = capsys.readouterr().out
    for name in ("BODY", "Core", "OuterTarget"):
        assert name in output


def test_no_command_is_bad_input(capsys):
    assert main([]) == EXIT_BAD_INPUT


def test_python_dash_m_rtwin_version():
    result = subprocess.run(
        [sys.executable, "-m", "rtwin", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("rtwin ")
