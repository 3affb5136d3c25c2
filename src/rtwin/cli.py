"""The ``rtwin`` command.

Exit codes: 0 success, 2 bad input (one-line message; ``--debug`` shows the
traceback), 1 internal error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from rtwin._version import __version__

__all__ = ["main"]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtwin",
        description="Radiotherapy planning simulation on a patient's digital twin.",
    )
    parser.add_argument("--version", action="version", version=f"rtwin {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="build the embedded phantom and show the twin's anatomy (no data needed)"
    )
    demo.add_argument("--quick", action="store_true", help="coarser voxels for a faster run")
    demo.add_argument("--out", type=Path, default=None, help="folder for results (unused for now)")
    return parser


def _demo(arguments: argparse.Namespace) -> int:
    import numpy as np

    from rtwin import phantoms

    patient = phantoms.cshape(voxel_mm=6.0) if arguments.quick else phantoms.cshape()
    voxel = "x".join(f"{s:g}" for s in patient.grid.spacing_mm)
    red = patient.relative_electron_density.values
    lines = [
        f"rtwin {__version__} demo: TG-119-like C-shape phantom ({voxel} mm voxels)",
        f"  grid {patient.grid.shape} (slices, rows, columns), spacing {patient.grid.spacing_mm.tolist()} mm",
        f"  calibration: {patient.calibration.name}",
        "",
        f"  {'structure':<14}{'role':<16}{'volume (cc)':>12}{'mean RED':>10}",
    ]
    for name, structure in patient.structures.items():
        mean_red = float(np.mean(red[structure.mask])) if structure.n_voxels else float("nan")
        lines.append(
            f"  {name:<14}{structure.role.value:<16}{structure.volume_cc:>12.1f}{mean_red:>10.3f}"
        )
    lines += [
        "",
        "Planning, plan comparison and the HTML report come with the dose engine,",
        "optimizer and evaluation issues; this demo shows the anatomy they build on.",
    ]
    print("\n".join(lines))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if arguments.debug else logging.WARNING)
    if arguments.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    from rtwin.errors import RtwinError

    try:
        return {"demo": _demo}[arguments.command](arguments)
    except BrokenPipeError:  # output piped into e.g. `head`: not an error
        sys.stderr.close()
        return EXIT_OK
    except RtwinError as error:
        if arguments.debug:
            raise
        print(f"rtwin: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:
        if arguments.debug:
            raise
        print(
            f"rtwin: internal error: {type(error).__name__}: {error} (rerun with --debug)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
