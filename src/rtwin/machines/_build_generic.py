"""Regenerate ``data/generic_6mv.json``: the generic 6 MV machine from the BJR-25 6 MV rows.

Run from a checkout (writes into the package's data folder, or to the path given)::

    python -m rtwin.machines._build_generic [path/to/generic_6mv.json]

The test suite re-runs :func:`build_generic_6mv` and compares with the shipped file.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from rtwin.machines._fit import MachineFit, fit_photon_machine
from rtwin.machines._measurements import BJR25_SOURCE, bjr25_depth_doses

__all__ = ["GENERIC_NAME", "build_generic_6mv", "main"]

logger = logging.getLogger(__name__)

GENERIC_NAME = "rtwin generic 6 MV"


def build_generic_6mv() -> MachineFit:
    """Fit the model to the six BJR-25 6 MV points with rtwin's default priors.

    The data hold no build-up point, so the soft d_max constraint (1.5 cm for
    10 x 10 cm² at SSD 100 cm, ± 0.1 cm) applies; the primary width stays at
    its prior (no profiles).
    """
    fit = fit_photon_machine(bjr25_depth_doses(6), energy_mv=6.0, name=GENERIC_NAME)
    return fit


def main(argv: list[str] | None = None) -> int:
    """Write the generic machine file; returns a process exit code."""
    arguments = sys.argv[1:] if argv is None else argv
    default = Path(__file__).resolve().parent / "data" / "generic_6mv.json"
    target = Path(arguments[0]) if arguments else default
    fit = build_generic_6mv()
    if not fit.converged:
        logger.error("the generic 6 MV fit did not converge: %s", fit.message)
        return 1
    machine = fit.machine
    described = machine.__class__(
        name=machine.name,
        nominal_energy_mv=machine.nominal_energy_mv,
        parameters=machine.parameters,
        source_axis_distance_mm=machine.source_axis_distance_mm,
        reference_dose_gy=machine.reference_dose_gy,
        sources=machine.sources,
        description=(
            f"Generic 6 MV photon beam fitted by rtwin.machines.fit_photon_machine to "
            f"{BJR25_SOURCE} (6 MV: PDD at 10 and 20 cm, 6/7/10 cm fields, SSD 100 cm); "
            f"RMS {fit.rms_pp:.2f} pp, max {fit.max_abs_pp:.2f} pp; d_max soft constraint "
            f"{fit.dmax_target_cm:g} cm. Regenerate with python -m rtwin.machines._build_generic"
        ),
    )
    described.write_json(target)
    logger.info("wrote %s (RMS %.3f pp)", target, fit.rms_pp)
    return 0


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO)
    raise SystemExit(main())
