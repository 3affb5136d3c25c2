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
        "demo",
        help="plan, compare and report three candidate plans on the embedded phantom",
        description=(
            "Plans a 5-field and a 9-field photon IMRT and a 2-field proton IMPT on the "
            "embedded TG-119-like C-shape phantom, evaluates them against the TG-119 goals, "
            "ranks them, explains the ranking and writes an HTML report, figures and a JSON."
        ),
    )
    demo.add_argument(
        "--out", type=Path, default=Path("rtwin-demo"), help="output folder (default ./rtwin-demo)"
    )
    demo.add_argument(
        "--force", action="store_true", help="replace the report in a non-empty --out"
    )
    demo.add_argument("--quick", action="store_true", help="coarser phantom, fewer iterations")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")

    compare = commands.add_parser(
        "compare",
        help="plan, compare and report candidate plans for your patient (a TOML study file)",
        description="Runs the study a TOML file describes (see docs/cli.md for the keys).",
    )
    compare.add_argument("spec", type=Path, help="the study file (TOML)")
    compare.add_argument(
        "--out", type=Path, default=None, help="output folder (overrides the file)"
    )
    compare.add_argument(
        "--force", action="store_true", help="replace the report in a non-empty folder"
    )
    compare.add_argument("--quiet", action="store_true", help="no progress bar")

    dvh = commands.add_parser(
        "dvh", help="DVH metrics and a goal table for an existing plan (RTDOSE + RTSTRUCT)"
    )
    dvh.add_argument("--dose", type=Path, required=True, help="RTDOSE file")
    dvh.add_argument("--structures", type=Path, required=True, help="RTSTRUCT file")
    dvh.add_argument("--goals", type=Path, default=None, help="goal file (.toml or .json)")
    dvh.add_argument(
        "--reference-dose",
        type=float,
        default=None,
        help="Gy of 100 %% for an RTDOSE in relative units",
    )
    dvh.add_argument(
        "--repair", action="store_true", help="repair what the RTSTRUCT reader can (each reported)"
    )
    dvh.add_argument(
        "--ignore-frame-of-reference",
        action="store_true",
        help="accept a dose and structures in different frames of reference (you vouch for them)",
    )

    gamma = commands.add_parser("gamma", help="3D gamma of an evaluated dose against a reference")
    gamma.add_argument("reference", type=Path, help="reference RTDOSE")
    gamma.add_argument("evaluated", type=Path, help="evaluated RTDOSE")
    gamma.add_argument("--criteria", default="3%/3mm", help="dose %%/distance mm (default 3%%/3mm)")
    gamma.add_argument("--local", action="store_true", help="local dose difference")
    gamma.add_argument(
        "--cutoff", default="10%", help="lower dose cutoff, %% of max (default 10%%)"
    )
    return parser


class _Progress:
    """A one-line progress bar on a terminal's stderr; silent otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.enabled = not quiet and sys.stderr.isatty()

    def __call__(self, step) -> None:  # a rtwin.planning.PlanningStep
        if not self.enabled:
            return
        width = 24
        filled = int(width * step.done / max(step.total, 1))
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r[{bar}] {step.done}/{step.total} {step.message[:60]:<60}")
        if step.done == step.total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def note(self, message: str) -> None:
        if self.enabled:
            sys.stderr.write(f"\r{message:<96}\n")
            sys.stderr.flush()


def _demo(arguments: argparse.Namespace) -> int:
    import time

    from rtwin.demo import run_demo

    started = time.perf_counter()
    progress = _Progress(arguments.quiet)
    outcome = run_demo(
        arguments.out, quick=arguments.quick, force=arguments.force, progress=progress
    )
    comparison = outcome.comparison
    print(f"rtwin {__version__} demo: {outcome.description}")
    print()
    print(comparison.table())
    print()
    print(comparison.explain())
    print()
    print(f"report:  {outcome.files.report}")
    print(f"results: {outcome.files.results}")
    print(f"({time.perf_counter() - started:.0f} s)")
    return EXIT_OK


def _compare(arguments: argparse.Namespace) -> int:
    import dataclasses
    import time

    from rtwin.planning import StudySpec, run_study

    started = time.perf_counter()
    spec = StudySpec.read(arguments.spec)
    if arguments.out is not None:
        spec = dataclasses.replace(spec, output_folder=arguments.out)
    outcome = run_study(spec, force=arguments.force, progress=_Progress(arguments.quiet))
    print(f"rtwin {__version__} compare: {outcome.description}")
    print()
    print(outcome.comparison.table())
    print()
    print(outcome.comparison.explain())
    print()
    print(f"report:  {outcome.files.report}")
    print(f"results: {outcome.files.results}")
    print(f"({time.perf_counter() - started:.0f} s)")
    return EXIT_OK


def _dvh(arguments: argparse.Namespace) -> int:
    from rtwin.errors import GeometryError
    from rtwin.evaluation import DVH, GoalSet
    from rtwin.io import read_rtdose, read_rtstruct

    dose_file = read_rtdose(arguments.dose, reference_dose_gy=arguments.reference_dose)
    dose = dose_file.dose
    # structures on a grid as fine as 1 mm in-plane over the dose's extent
    spacing = dose.grid.spacing_mm
    fine = dose.grid.with_spacing((min(spacing[0], 1.0), min(spacing[1], 1.0), spacing[2]))
    structures = read_rtstruct(
        arguments.structures,
        fine,
        frame_of_reference_uid=dose_file.frame_of_reference_uid or None,
        ignore_frame_of_reference=arguments.ignore_frame_of_reference,
        repair=arguments.repair,
    ).structures
    if len(structures) == 0:
        raise GeometryError(f"{arguments.structures} has no closed-planar contours to evaluate")
    print(f"{'structure':<24}{'volume (cc)':>12}{'Dmean':>9}{'Dmax':>9}{'D98%':>9}{'D2%':>9}")
    for name, structure in structures.items():
        if structure.is_empty:
            continue
        dvh = DVH.compute(dose, structure)
        print(
            f"{name:<24}{dvh.volume_cc:>12.2f}{dvh.mean_gy:>9.2f}{dvh.max_gy:>9.2f}"
            f"{dvh.dose_at_volume(0.98):>9.2f}{dvh.dose_at_volume(0.02):>9.2f}"
        )
    if arguments.goals is not None:
        print()
        print(GoalSet.read(arguments.goals).evaluate(dose, structures))
    return EXIT_OK


def _percent(text: str, what: str) -> float:
    from rtwin.errors import EvaluationError

    value = text.strip().removesuffix("%")
    try:
        return float(value)
    except ValueError:
        raise EvaluationError(f"{what} must look like '10%'; got {text!r}") from None


def _gamma(arguments: argparse.Namespace) -> int:
    import re

    from rtwin.errors import EvaluationError
    from rtwin.evaluation import gamma
    from rtwin.io import read_rtdose

    match = re.fullmatch(r"\s*([0-9.]+)\s*%\s*/\s*([0-9.]+)\s*mm\s*", arguments.criteria)
    if match is None:
        raise EvaluationError(f"--criteria must look like '3%/3mm'; got {arguments.criteria!r}")
    reference = read_rtdose(arguments.reference).dose
    evaluated = read_rtdose(arguments.evaluated).dose
    result = gamma(
        reference,
        evaluated,
        dose_percent=float(match.group(1)),
        distance_mm=float(match.group(2)),
        local=arguments.local,
        lower_cutoff_percent=_percent(arguments.cutoff, "--cutoff"),
    )
    print(result.summary)
    return EXIT_OK


#: Library keyword hints in error messages, as the command's options.
_CLI_HINTS = (
    (
        "pass reference_dose_gy=<the dose in Gy that relative value 1 stands for>",
        "pass --reference-dose GY",
    ),
    ("pass ignore_frame_of_reference=True", "pass --ignore-frame-of-reference"),
    ("pass repair=True", "pass --repair"),
)


def _as_cli_hint(message: str) -> str:
    for library, command in _CLI_HINTS:
        message = message.replace(library, command)
    return message


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if arguments.debug else logging.WARNING)
    if not arguments.debug:  # rtwin reports what matters about a file itself
        logging.getLogger("pydicom").setLevel(logging.ERROR)
    if arguments.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    from rtwin.errors import RtwinError

    try:
        commands = {"demo": _demo, "compare": _compare, "dvh": _dvh, "gamma": _gamma}
        return commands[arguments.command](arguments)
    except BrokenPipeError:  # output piped into e.g. `head`: not an error
        sys.stderr.close()
        return EXIT_OK
    except RtwinError as error:
        if arguments.debug:
            raise
        print(f"rtwin: error: {_as_cli_hint(str(error))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:
        if arguments.debug:
            raise
        print(
            f"rtwin: internal error: {type(error).__name__}: {error} (rerun with --debug)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
