"""DVH accuracy on the Nelms et al. (2015) analytic benchmark (a representative subset).

The full run (90 cases) is ``benchmarks/dvh_analytic.py``; its table is
``docs/dvh_analytic_results.md``. This test runs the same code on every shape
at every contour spacing, unshifted and shifted by half a CT pixel, with both
dose gradients, and asserts the goals of the evaluation issue (median
|volume error| <= 1 %, mean |ΔD95| <= 0.5 Gy) and the accuracy measured
(tighter bounds, so a regression shows).

Reference: B. E. Nelms et al., Med. Phys. 42(8), 4435-4448 (2015),
doi:10.1118/1.4923175.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "dvh_analytic.py"


def _benchmark():
    spec = importlib.util.spec_from_file_location("dvh_analytic", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("dvh_analytic", module)
    spec.loader.exec_module(module)
    return module


#: Unshifted shapes at 1, 2 and 3 mm and the half-pixel shifts at 3 mm, on the dose grid
#: of the contour spacing; the 0.2 mm sphere and cone on the 2 mm dose grid.
_SUBSET = {
    *(
        f"{shape}_{spacing}_0"
        for shape in ("Sphere", "Cylinder", "Cone", "RtCylinder", "RtCone")
        for spacing in ("10", "20", "30")
    ),
    *(f"{shape}_30_X15" for shape in ("Sphere", "Cone", "RtCone")),
    *(f"{shape}_30_X15Z15" for shape in ("Cylinder", "RtCylinder")),
    "Sphere_02_0",
    "Cone_02_0",
}


@pytest.fixture(scope="module")
def results(shared_data: Path):
    data = shared_data / "dvh-analytic" / "nelms2015"
    if not data.is_dir():
        pytest.skip("dvh-analytic/nelms2015 is not present")
    benchmark = _benchmark()
    cases = [
        case
        for case in benchmark.read_cases(data)
        if case.structure in _SUBSET
        and case.dose_voxel
        == ("2" if case.contour_spacing_mm < 1 else f"{case.contour_spacing_mm:g}")
    ]
    outcome, skipped = benchmark.run(cases, "fine", data)
    assert not skipped
    return benchmark, outcome


@pytest.mark.shared_data
def test_subset_covers_every_shape_spacing_and_gradient(results):
    _, outcome = results
    assert len(outcome) == 39
    assert {(r["shape"], r["contour_spacing_mm"], r["gradient"]) for r in outcome} >= {
        (shape, spacing, gradient)
        for shape in ("Sphere", "Cylinder", "Cone", "RtCylinder", "RtCone")
        for spacing in (1.0, 2.0, 3.0)
        for gradient in ("AP", "SI")
    }


@pytest.mark.shared_data
def test_goals_of_the_issue_are_met(results):
    benchmark, outcome = results
    summary = benchmark.summarize(outcome)
    assert summary["volume_error_median_abs_percent"] <= 1.0
    assert summary["D95_mean_abs_gy"] <= 0.5


@pytest.mark.shared_data
def test_accuracy_as_measured(results):
    benchmark, outcome = results
    summary = benchmark.summarize(outcome)
    # measured on this subset: median |volume error| 0.17 %, mean |ΔD95| 0.063 Gy (largest
    # 0.53), mean |ΔDmean| 0.003 Gy (largest 0.04)
    assert summary["volume_error_median_abs_percent"] <= 0.3
    assert summary["D95_mean_abs_gy"] <= 0.1
    assert summary["D95_max_abs_gy"] <= 0.6
    assert summary["Dmean_max_abs_gy"] <= 0.05
    # the mask reproduces the contour stack (contour areas x spacing) to 0.28 % here (1.2 %
    # in the full set, where a flat face lies exactly on a row of pixel centres); what
    # remains is the stack's own error: a cylinder lying on its side, contoured every 3 mm,
    # is 4.6 % short of the analytic volume before any rasterization
    vs_stack = [abs(r["volume_vs_stack_percent"]) for r in outcome]
    assert max(vs_stack) <= 0.5
    assert statistics.median(vs_stack) <= 0.15
    worst = min(outcome, key=lambda r: r["stack_error_percent"])
    assert worst["structure"].startswith("RtCylinder_30")
    assert worst["stack_error_percent"] == pytest.approx(-4.64, abs=0.05)
