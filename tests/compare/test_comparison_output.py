"""What a comparison says: explain(), table(), JSON, the HTML and text reprs."""

from __future__ import annotations

import json

import pytest
from _synthetic_plans import (  # noqa: F401 (fixtures)
    comparison_fixture,
    doses_fixture,
    falloff_dose,
    goals_fixture,
    prostate_fixture,
)

import rtwin
from rtwin.evaluation import DVH, GoalSet


def _value(comparison, plan, goal_index):
    return comparison[plan].goal_results[goal_index].value


def test_explain_names_the_recommended_plan_the_deciding_goals_and_the_numbers(comparison):
    text = comparison.explain()
    paragraphs = text.split("\n\n")
    assert paragraphs[0] == "Recommended plan: Best."
    assert paragraphs[1].startswith("Ranking, best first: 1. Best, 2. Wide, 3. Cold. Rule:")
    assert paragraphs[2].startswith("Best meets all 7 evaluated goals.")
    assert "PTV D95% = 78.00 Gy, 100.0% of the 78 Gy prescription" in paragraphs[2]

    # Wide: organ-at-risk sparing decided; the largest difference is the rectum mean dose.
    wide = next(p for p in paragraphs if p.startswith("Wide ranks 2nd"))
    best_load = comparison["Best"].score.organ_at_risk_goal_load_percent
    wide_load = comparison["Wide"].score.organ_at_risk_goal_load_percent
    assert wide.startswith(
        "Wide ranks 2nd: like Best, it meets every evaluated goal and covers the target as well "
        "(PTV D95% 100.0% against 100.0% of the prescription), but spares the organs at risk less"
    )
    assert (
        f"use {wide_load:.1f}% of their limits on average, against {best_load:.1f}% for Best"
        in wide
    )
    assert (
        f"The largest difference is Rectum Dmean <= 45 Gy: {_value(comparison, 'Wide', 3):.2f} Gy "
        f"against {_value(comparison, 'Best', 3):.2f} Gy for Best." in wide
    )

    # Cold: the failed priority-1 coverage goal decided, with the value and the shortfall.
    cold = next(p for p in paragraphs if p.startswith("Cold ranks 3rd"))
    assert (
        "it fails 1 priority-1 goal where Best fails none: PTV D95% >= 74 Gy ± 1 Gy is "
        "72.54 Gy, 1.46 Gy short of the limit (Best: 78.00 Gy, pass)." in cold
    )
    assert "In exchange, it spares the organs at risk better" in cold


def test_explain_is_deterministic(comparison):
    assert comparison.explain() == comparison.explain()


def test_explain_coverage_and_tolerance_steps(prostate, goals):
    doses = {
        "Best": falloff_dose(prostate, 8.0),
        "Cool": falloff_dose(prostate, 8.0, scale=0.96),
        "Tolerated": falloff_dose(prostate, 8.0, scale=0.94),
    }
    text = rtwin.compare_plans(doses, prostate.structures, goals, prescription_gy=78.0).explain()
    assert (
        "Cool ranks 2nd: like Best, it meets every evaluated goal, but covers the target less: "
        "PTV D95% = 74.88 Gy, 96.0% of the 78 Gy prescription, against 100.0% (78.00 Gy) for "
        "Best; 4.0 percentage points less." in text
    )
    assert (
        "Tolerated ranks 3rd: like Best, it fails no goal, but it misses 1 priority-1 goal "
        "within its acceptable deviation where Best misses none: PTV D95% >= 74 Gy ± 1 Gy is "
        "73.32 Gy, 0.68 Gy short of the limit" in text
    )


def test_explain_single_plan_and_failures(prostate, doses, goals):
    text = rtwin.compare_plans({"Cold": doses["Cold"]}, prostate.structures, goals).explain()
    assert text.startswith("Recommended plan: Cold.\n\nOnly one plan was compared")
    assert "Cold meets 6 of 7 evaluated goals; it fails 1 goal: PTV D95% >= 74 Gy" in text
    assert "Not evaluated for the plan" in text


def test_table_has_one_row_per_goal_and_one_column_per_plan(comparison, goals):
    lines = comparison.table().splitlines()
    header = lines[0]
    assert header.split()[:2] == ["goal", "priority"]
    assert header.index("1. Best") < header.index("2. Wide") < header.index("3. Cold")
    for goal in goals:
        assert any(line.startswith(str(goal)) for line in lines)
    cold_row = next(line for line in lines if line.startswith("PTV D95% >= 74 Gy"))
    assert cold_row.endswith("72.54 Gy FAIL")
    cord_row = next(line for line in lines if line.startswith("SpinalCord"))
    assert cord_row.split()[-3:] == ["n/e", "n/e", "n/e"]
    assert lines[-1].startswith("pass = goal met")


def test_to_json_round_trip(comparison):
    text = comparison.to_json()
    data = json.loads(text)
    assert data == comparison.to_dict()
    assert data["schema"] == "rtwin.plan_comparison" and data["schema_version"] == 1
    assert data["ranking"] == ["Best", "Wide", "Cold"] and data["recommended"] == "Best"
    assert data["explanation"] == comparison.explain()
    assert len(data["ranking_rule"]["steps"]) == 3
    plans = data["plans"]
    assert [(p["rank"], p["name"]) for p in plans] == [(1, "Best"), (2, "Wide"), (3, "Cold")]
    assert [p["deciding_step"] for p in plans] == [None, "organ-at-risk goals", "failed goals"]
    cold = plans[2]
    assert cold["score"]["failed_by_priority"] == {"1": 1, "2": 0, "3": 0}
    assert cold["goals"]["rows"][0]["status"] == "fail"
    assert cold["goals"]["rows"][-1]["status"] == "not evaluated"
    assert set(cold["dvhs"]) == {"PTV", "Rectum", "Bladder", "FemoralHead_L", "FemoralHead_R"}
    assert cold["targets"][0]["structure"] == "PTV"
    # The goal set reads back.
    assert [str(g) for g in GoalSet.from_dict(data["goal_set"])] == [
        str(g) for g in comparison.goals
    ]


def test_to_json_with_dvh_curves(comparison):
    data = json.loads(comparison.to_json(indent=None, dvh_bin_gy=1.0))
    curve = data["plans"][0]["dvhs"]["PTV"]["curve"]
    assert curve["dose_gy"][:3] == [0.0, 1.0, 2.0]
    assert curve["volume_fraction"][0] == 1.0 and curve["volume_fraction"][-1] == 0.0


def test_reprs(comparison):
    assert repr(comparison) == (
        "PlanComparison(3 plans, 8 goals; recommended 'Best'; ranking 'Best' > 'Wide' > 'Cold')"
    )
    assert repr(comparison["Cold"]) == "PlanEvaluation('Cold': 6 pass, 1 fail, 1 not evaluated)"
    results = comparison["Cold"].goal_results
    assert repr(results) == "GoalResults(8 goals: 6 pass, 1 fail, 1 not evaluated)"


def test_html_reprs_are_coloured_tables(comparison):
    page = comparison._repr_html_()
    assert page.count("<tr>") == 1 + len(comparison.goals)
    assert "Recommended: <b>Best</b>" in page
    assert "#f5b7b1" in page and "#c8e6c9" in page and "#e0e0e0" in page  # fail, pass, n/e
    goals_html = comparison["Cold"].goal_results._repr_html_()
    assert goals_html.count("<tr>") == 1 + len(comparison.goals)
    assert "not evaluated: structure &#x27;SpinalCord&#x27;" in goals_html
    dvh = DVH(name="<PTV>", doses_gy=[1.0, 2.0], volumes_cc=[1.0, 1.0])
    assert "DVH of &lt;PTV&gt;" in dvh._repr_html_() and "2.00 cc" in dvh._repr_html_()


def test_within_tolerance_colour(prostate, goals):
    comparison = rtwin.compare_plans(
        {"Tolerated": falloff_dose(prostate, 8.0, scale=0.94)}, prostate.structures, goals
    )
    assert "#ffe29a" in comparison._repr_html_()
    assert "tol" in comparison.table()


@pytest.mark.parametrize("bad", ["PTV", 3])
def test_getitem_message(comparison, bad):
    with pytest.raises(rtwin.errors.EvaluationError, match="is not in the comparison"):
        comparison[bad]
