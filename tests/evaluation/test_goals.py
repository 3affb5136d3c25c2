"""Clinical goals: string grammar, judging, goal sets, files, evaluation, QUANTEC preset."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtwin.anatomy import Structure, StructureSet
from rtwin.dose import Dose
from rtwin.errors import EvaluationError
from rtwin.evaluation import (
    DVH,
    ClinicalGoal,
    Comparator,
    GoalResult,
    GoalResults,
    GoalSet,
    GoalStatus,
    Metric,
)

# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "structure", "metric", "comparator", "limit", "tolerance", "canonical"),
    [
        ("Core D10% <= 25 Gy", "Core", "D10%", "<=", 25.0, 0.0, "Core D10% <= 25 Gy"),
        ("PTV D95% >= 50 Gy ± 1 Gy", "PTV", "D95%", ">=", 50.0, 1.0, "PTV D95% >= 50 Gy ± 1 Gy"),
        (
            "PTV D95% >= 50 Gy +- 1.5 gy",
            "PTV",
            "D95%",
            ">=",
            50.0,
            1.5,
            "PTV D95% >= 50 Gy ± 1.5 Gy",
        ),
        ("PTV D95%>=50Gy±1Gy", "PTV", "D95%", ">=", 50.0, 1.0, "PTV D95% >= 50 Gy ± 1 Gy"),
        (
            "'Spinal Cord' Dmax < 45 Gy",
            "Spinal Cord",
            "Dmax",
            "<",
            45.0,
            0.0,
            "'Spinal Cord' Dmax < 45 Gy",
        ),
        (
            '"Spinal Cord" dmax < 45 GY',
            "Spinal Cord",
            "Dmax",
            "<",
            45.0,
            0.0,
            "'Spinal Cord' Dmax < 45 Gy",
        ),
        (
            '"Bob\'s gland" Dmean < 20 Gy',
            "Bob's gland",
            "Dmean",
            "<",
            20.0,
            0.0,
            '"Bob\'s gland" Dmean < 20 Gy',
        ),
        ("Lung V20Gy <= 30 %", "Lung", "V20Gy", "<=", 30.0, 0.0, "Lung V20Gy <= 30%"),
        (
            "Bowel V45Gy[cc] < 195 cc",
            "Bowel",
            "V45Gy[cc]",
            "<",
            195.0,
            0.0,
            "Bowel V45Gy[cc] < 195 cc",
        ),
        ("Cord D0.03cc < 45 Gy", "Cord", "D0.03cc", "<", 45.0, 0.0, "Cord D0.03cc < 45 Gy"),
        (
            "Parotid gEUD(a=1) < 26 Gy",
            "Parotid",
            "gEUD(a=1)",
            "<",
            26.0,
            0.0,
            "Parotid gEUD(a=1) < 26 Gy",
        ),
        ("  PTV   D98%  >  47.5  Gy  ", "PTV", "D98%", ">", 47.5, 0.0, "PTV D98% > 47.5 Gy"),
    ],
)
def test_goal_spellings(text, structure, metric, comparator, limit, tolerance, canonical):
    goal = ClinicalGoal.parse(text)
    assert goal.structure == structure
    assert goal.metric == Metric.parse(metric)
    assert goal.comparator is Comparator(comparator)
    assert (goal.limit, goal.tolerance) == (limit, tolerance)
    assert str(goal) == canonical
    assert ClinicalGoal.parse(canonical) == goal


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Spinal Cord Dmax < 45 Gy",
            "goal 'Spinal Cord Dmax < 45 Gy': at position 8 expected a metric (D95%, Dmax, V20Gy, "
            "...); a structure name with spaces must be quoted: 'Spinal Cord' Dmax < 45 Gy; got 'C'",
        ),
        (
            "Spinal Dmax Cord < 45 Gy",
            "at position 13 expected a comparator '<', '<=', '>' or '>=' (a structure name with "
            "spaces must be quoted: 'Spinal Cord' Dmax < 45 Gy); got 'C'",
        ),
        (
            "PTV D95% => 50 Gy",
            "at position 10 expected a comparator '<', '<=', '>' or '>='; got '='",
        ),
        ("PTV D95% >= Gy", "at position 13 expected a number (the limit in Gy); got 'G'"),
        (
            "PTV D95% >= 50",
            "at position 15 expected 'Gy' (the unit of D95%); got the end of the text",
        ),
        ("PTV D95% >= 95 %", "at position 16 expected 'Gy' (the unit of D95%); got '%'"),
        (
            "Lung V20Gy < 30 Gy",
            "at position 17 expected '%' (the unit of V20Gy; write V20Gy[cc] for cm³)",
        ),
        (
            "Bowel V45Gy[cc] < 19 %",
            "at position 22 expected 'cc' (the unit of V45Gy[cc]; write V45Gy for percent)",
        ),
        (
            "PTV D95% >= 50 Gy 1 Gy",
            "at position 19 expected the end of the goal or an acceptable deviation such as '± 1 Gy'",
        ),
        ("PTV D95% >= 50 Gy ± 1 %", "at position 23 expected 'Gy' (the unit of D95%); got '%'"),
        ("PTV D95% >= 50 Gy ± 1 Gy extra", "at position 26 expected the end of the goal; got 'e'"),
        ("PTV D95% >= -5 Gy", "at position 13 expected a number (the limit in Gy); got '-'"),
        ("'Spinal Cord Dmax < 45 Gy", "at position 26 expected a closing ' for the structure name"),
        ("'' Dmax < 45 Gy", "at position 2 expected a structure name inside the quotes"),
        ("", "goal '': at position 1 expected a structure name"),
        (
            "PTV",
            "goal 'PTV': at position 4 expected a space between the structure name and the metric",
        ),
        (
            "Lung V20Gy < 130 %",
            "goal 'Lung V20Gy < 130 %': goal for 'Lung': V20Gy is a percentage, so the limit must be within 0-100 %; got 130",
        ),
    ],
)
def test_goal_errors_give_position_and_expectation(text, message):
    with pytest.raises(EvaluationError) as caught:
        ClinicalGoal.parse(text)
    assert message in str(caught.value)


def test_goal_fields_are_validated():
    metric = Metric.parse("Dmax")
    with pytest.raises(EvaluationError, match=r"must be a Metric \(use Metric.parse"):
        ClinicalGoal(structure="Cord", metric="Dmax", comparator="<", limit=45)
    with pytest.raises(
        EvaluationError, match=r"comparator must be one of \['<', '<=', '>', '>='\]; got '='"
    ):
        ClinicalGoal(structure="Cord", metric=metric, comparator="=", limit=45)
    with pytest.raises(EvaluationError, match="priority must be an integer >= 1"):
        ClinicalGoal(structure="Cord", metric=metric, comparator="<", limit=45, priority=0)
    with pytest.raises(EvaluationError, match="tolerance must be >= 0 Gy"):
        ClinicalGoal(structure="Cord", metric=metric, comparator="<", limit=45, tolerance=-1)
    with pytest.raises(EvaluationError, match="has leading/trailing spaces"):
        ClinicalGoal(structure=" Cord", metric=metric, comparator="<", limit=45)
    with pytest.raises(EvaluationError, match="both quote characters"):
        ClinicalGoal(structure="a 'b\" c", metric=metric, comparator="<", limit=45)


def test_parse_keywords_fill_the_other_fields():
    goal = ClinicalGoal.parse(
        "Rectum V70Gy < 20 %", priority=2, source="QUANTEC", endpoint="bleeding", risk="<10%"
    )
    assert (goal.priority, goal.source, goal.endpoint, goal.risk) == (
        2,
        "QUANTEC",
        "bleeding",
        "<10%",
    )
    assert repr(goal) == "ClinicalGoal('Rectum V70Gy < 20%', priority=2)"


_names = st.text(
    alphabet=st.sampled_from("ABCDEFabcdef_0123456789 -'()"), min_size=1, max_size=12
).filter(lambda s: s == s.strip() and s.strip())
_limits = st.one_of(st.integers(0, 100).map(float), st.floats(0, 100))


@st.composite
def _goals(draw):
    metric = Metric.parse(
        draw(
            st.sampled_from(
                ["D95%", "D2cc", "D0.03cc", "V20Gy", "V20Gy[cc]", "Dmean", "Dmax", "gEUD(a=-8)"]
            )
        )
    )
    return ClinicalGoal(
        structure=draw(_names),
        metric=metric,
        comparator=draw(st.sampled_from(list(Comparator))),
        limit=draw(_limits),
        tolerance=draw(st.one_of(st.just(0.0), _limits)),
    )


@settings(max_examples=200, deadline=None)
@given(_goals())
def test_goal_string_round_trips(goal):
    assert ClinicalGoal.parse(str(goal)) == goal


# ---------------------------------------------------------------- judging


@pytest.mark.parametrize(
    ("text", "value", "status", "margin"),
    [
        ("Cord Dmax < 45 Gy", 40.0, "pass", 5.0),
        ("Cord Dmax < 45 Gy", 45.0, "fail", 0.0),  # strict: equality fails
        ("Cord Dmax <= 45 Gy", 45.0, "pass", 0.0),
        ("Cord Dmax <= 45 Gy ± 2 Gy", 46.5, "within tolerance", -1.5),
        ("Cord Dmax <= 45 Gy ± 2 Gy", 47.0, "within tolerance", -2.0),
        ("Cord Dmax <= 45 Gy ± 2 Gy", 47.5, "fail", -2.5),
        ("PTV D95% >= 50 Gy", 51.0, "pass", 1.0),
        ("PTV D95% > 50 Gy", 50.0, "fail", 0.0),
        ("PTV D95% >= 50 Gy ± 1 Gy", 49.25, "within tolerance", -0.75),
        ("PTV D95% >= 50 Gy ± 1 Gy", 48.0, "fail", -2.0),
        ("PTV D95% > 50 Gy ± 1 Gy", 50.0, "within tolerance", 0.0),
    ],
)
def test_judge(text, value, status, margin):
    assert ClinicalGoal.parse(text).judge(value) == (GoalStatus(status), margin)


# ---------------------------------------------------------------- evaluation on a dose

_GRID = __import__("rtwin.geometry", fromlist=["Grid"]).Grid.from_spacing(
    (10, 10, 10), spacing_mm=10.0
)


def _case():
    """1 cc voxels. PTV: 8 voxels at 50 Gy, 2 at 48 Gy; Cord: 4 voxels at 10, 20, 30, 40 Gy."""
    values = np.zeros(_GRID.shape)
    ptv = np.zeros(_GRID.shape, bool)
    ptv[2, 2, 0:10] = True
    values[2, 2, 0:8] = 50.0
    values[2, 2, 8:10] = 48.0
    cord = np.zeros(_GRID.shape, bool)
    cord[6, 6, 0:4] = True
    values[6, 6, 0:4] = [10.0, 20.0, 30.0, 40.0]
    structures = StructureSet(
        [
            Structure(name="PTV", mask=ptv, grid=_GRID, role="target"),
            Structure(name="Cord", mask=cord, grid=_GRID, role="organ_at_risk"),
            Structure(name="Empty", mask=np.zeros(_GRID.shape, bool), grid=_GRID),
        ]
    )
    return Dose(values=values, grid=_GRID), structures


def test_evaluate_by_hand():
    dose, structures = _case()
    goals = GoalSet.parse(
        [
            "PTV D95% >= 49 Gy ± 1 Gy",
            "PTV D60% >= 49 Gy",
            "PTV Dmean >= 49.5 Gy",
            "PTV V49Gy >= 80 %",
            "'Spinal cord' Dmax <= 45 Gy",
            "Cord V25Gy[cc] < 2 cc",
            "Cord D2cc < 30 Gy",
            "Cord D5cc < 30 Gy",
            "Heart Dmean < 26 Gy",
            "Empty Dmax < 1 Gy",
        ],
        name="hand",
    )
    results = goals.evaluate(dose, structures, names={"Spinal cord": "Cord"})
    assert isinstance(results, GoalResults)
    assert len(results) == 10
    table = [(r.structure, r.status.value, r.value, r.margin) for r in results.rows[:7]]
    # PTV: 2 cc at 48 Gy (step mid-height 9 cc from the top), 8 cc at 50 Gy (mid-height 4 cc)
    assert table[0] == ("PTV", "within tolerance", 48.0, -1.0)  # 9.5 cc: below the last mid-height
    assert table[1] == (
        "PTV",
        "pass",
        pytest.approx(49.2),
        pytest.approx(0.2),
    )  # 6 cc: 50 - 2 * 2/5
    assert table[2] == ("PTV", "pass", pytest.approx(49.6), pytest.approx(0.1))
    assert table[3] == ("PTV", "pass", 80.0, 0.0)
    # Cord: 1 cc each at 10, 20, 30, 40 Gy (mid-heights 3.5, 2.5, 1.5, 0.5 cc)
    assert table[4] == ("Cord", "pass", 40.0, 5.0)
    assert table[5] == ("Cord", "fail", 2.0, 0.0)  # strict '<' fails at equality
    assert table[6] == ("Cord", "pass", 25.0, 5.0)  # 2 cc: midway between 30 and 20 Gy
    assert results[7].status is GoalStatus.NOT_EVALUATED
    assert "cannot take the dose to 5 cc of a 4 cc structure" in results[7].reason
    assert results[8].status is GoalStatus.NOT_EVALUATED
    assert results[8].reason.startswith(
        "structure 'Heart' not in the structures; available: 'PTV', 'Cord', 'Empty'"
    )
    assert results[9].reason == "structure 'Empty' is empty"
    assert (results[7].value, results[7].margin) == (None, None)
    assert results.counts == {"pass": 5, "within tolerance": 1, "fail": 1, "not evaluated": 3}
    assert [str(r.goal) for r in results.with_status("fail")] == ["Cord V25Gy[cc] < 2 cc"]


def test_evaluate_values_are_those_of_the_dvh():
    dose, structures = _case()
    cord = DVH.compute(dose, structures["Cord"])
    assert (
        cord.dose_at_volume_cc(2.0) == 25.0
    )  # midway between mid-heights 1.5 cc (30) and 2.5 cc (20)
    goals = GoalSet.parse(["Cord D2cc < 25 Gy", "Cord D2cc <= 25 Gy", "Cord V25Gy[cc] < 2 cc"])
    results = goals.evaluate(dose, structures)
    assert [(r.status.value, r.value) for r in results] == [
        ("fail", 25.0),
        ("pass", 25.0),
        ("fail", 2.0),
    ]


def test_missing_mapped_structure_names_both_names():
    dose, structures = _case()
    goals = GoalSet.parse(["'Spinal cord' Dmax < 45 Gy"])
    results = goals.evaluate(dose, structures, names={"Spinal cord": "SpinalCord"})
    assert results[0].reason.startswith(
        "structure 'SpinalCord' (for goal structure 'Spinal cord') not in the structures"
    )


def test_names_must_match_goal_structures():
    dose, structures = _case()
    goals = GoalSet.parse(["'Spinal cord' Dmax < 45 Gy", "PTV D95% > 1 Gy"])
    with pytest.raises(
        EvaluationError,
        match=r"names maps 'Spinal Cord', which no goal uses; the goals' structures are "
        r"'Spinal cord', 'PTV'",
    ):
        goals.evaluate(dose, structures, names={"Spinal Cord": "Cord"})


def test_renamed_and_structures():
    goals = GoalSet.parse(["'Spinal cord' Dmax < 45 Gy", "PTV D95% > 1 Gy", "PTV Dmax < 60 Gy"])
    assert goals.structures == ("Spinal cord", "PTV")
    renamed = goals.renamed({"Spinal cord": "Cord"})
    assert renamed.structures == ("Cord", "PTV")
    assert goals.structures == ("Spinal cord", "PTV")  # unchanged
    with pytest.raises(EvaluationError, match="names maps 'Lung', which no goal uses"):
        goals.renamed({"Lung": "Lungs"})


def test_results_table_and_dict():
    dose, structures = _case()
    goals = GoalSet.parse(["PTV D95% >= 49 Gy ± 1 Gy", "Cord Dmax <= 45 Gy", "Heart Dmean < 26 Gy"])
    results = goals.evaluate(dose, structures)
    text = str(results)
    lines = text.splitlines()
    assert lines[0].split() == ["structure", "goal", "value", "margin", "status"]
    assert lines[1] == "PTV        D95% >= 49 Gy ± 1 Gy  48.00 Gy   -1.00  within tolerance"
    assert lines[2] == "Cord       Dmax <= 45 Gy         40.00 Gy   +5.00  pass"
    assert lines[3].startswith(
        "Heart      Dmean < 26 Gy                -       -  not evaluated: structure 'Heart'"
    )
    data = results.to_dict()
    json.dumps(data)  # JSON-ready
    assert data["counts"] == {"pass": 1, "within tolerance": 1, "fail": 0, "not evaluated": 1}
    row = data["rows"][0]
    assert row["goal"] == "PTV D95% >= 49 Gy ± 1 Gy"
    assert (row["value"], row["margin"], row["unit"], row["status"]) == (
        48.0,
        -1.0,
        "Gy",
        "within tolerance",
    )
    assert data["rows"][2]["value"] is None


def test_goal_evaluate_on_a_dvh():
    goal = ClinicalGoal.parse("Cochlea D2cc < 30 Gy")
    result = goal.evaluate(DVH(name="Cochlea", doses_gy=[10.0], volumes_cc=[0.4]))
    assert result.status is GoalStatus.NOT_EVALUATED
    assert "0.4 cc structure" in result.reason
    with pytest.raises(EvaluationError, match="needs a reason|needs the reason"):
        GoalResult(goal=goal, structure="Cochlea", status="not evaluated")
    with pytest.raises(EvaluationError, match="needs a value and a margin"):
        GoalResult(goal=goal, structure="Cochlea", status="pass")


def test_evaluate_argument_errors():
    dose, structures = _case()
    goals = GoalSet.parse(["PTV D95% > 1 Gy"])
    with pytest.raises(EvaluationError, match="evaluated on a rtwin Dose; got ndarray"):
        goals.evaluate(dose.values, structures)
    with pytest.raises(EvaluationError, match="structures must be a StructureSet or a mapping"):
        goals.evaluate(dose, [structures["PTV"]])
    with pytest.raises(EvaluationError, match="takes a list of goal strings; got one string"):
        GoalSet.parse("PTV D95% > 1 Gy")
    with pytest.raises(EvaluationError, match="holds ClinicalGoal objects"):
        GoalSet(goals=("PTV D95% > 1 Gy",))


# ---------------------------------------------------------------- files

_TOML = """
name = "Prostate"

[[goals]]
goal = "PTV D95% >= 74.1 Gy ± 1 Gy"
priority = 1

[[goals]]
goal = "Rectum V70Gy < 20 %"
priority = 2
source = "QUANTEC, Michalski et al. 2010"
endpoint = "grade >=3 late rectal toxicity"
"""


def test_read_toml_and_json(tmp_path):
    toml_path = tmp_path / "prostate.toml"
    toml_path.write_text(_TOML, encoding="utf-8")
    goals = GoalSet.read(toml_path)
    assert goals.name == "Prostate"
    assert [str(g) for g in goals] == ["PTV D95% >= 74.1 Gy ± 1 Gy", "Rectum V70Gy < 20%"]
    assert goals[1].priority == 2
    assert goals[1].endpoint == "grade >=3 late rectal toxicity"
    json_path = tmp_path / "goals.json"
    json_path.write_text(json.dumps(goals.to_dict()), encoding="utf-8")
    again = GoalSet.read(json_path)
    assert again == goals
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"goals": ["Cord Dmax < 45 Gy"]}), encoding="utf-8")
    assert GoalSet.read(plain).name == "plain"  # the file name when the file has none


@pytest.mark.parametrize(
    ("suffix", "content", "message"),
    [
        (".yaml", "goals: []", "unknown suffix '.yaml'; use .toml or .json"),
        (".json", "{not json", "is not valid JSON"),
        (".toml", "goals = [", "is not valid TOML"),
        (
            ".json",
            '{"goal": []}',
            r"unknown goal-file keys \['goal'\]; valid top-level keys: \['name', 'goals'\]",
        ),
        (".json", '{"goals": "PTV D95% > 1 Gy"}', "needs a list 'goals'"),
        (
            ".json",
            '{"goals": [{"priority": 1}]}',
            "goal 1: an entry is a goal string or a table with a 'goal' string",
        ),
        (
            ".json",
            '{"goals": [{"goal": "PTV D95% > 1 Gy", "weight": 2}]}',
            r"goal 1 \('PTV D95% > 1 Gy'\): unknown keys \['weight'\]",
        ),
        (".json", '{"goals": ["PTV D95 > 1 Gy"]}', "at position 8 expected '%' or 'cc'"),
    ],
)
def test_goal_file_errors(tmp_path, suffix, content, message):
    path = tmp_path / f"goals{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(EvaluationError, match=message):
        GoalSet.read(path)


# ---------------------------------------------------------------- QUANTEC preset


def test_quantec_preset_contents():
    goals = GoalSet.quantec()
    assert len(goals) == 49
    assert goals.name.startswith("QUANTEC")
    assert all(goal.comparator.is_upper_limit for goal in goals)
    assert all(goal.source.startswith("Marks et al.") for goal in goals)
    strings = {str(goal) for goal in goals}
    assert "'Small bowel (peritoneal cavity)' V45Gy[cc] < 195 cc" in strings
    assert "Stomach D100% < 45 Gy" in strings
    assert "'Lung (total)' V20Gy <= 30%" in strings
    # left out: '=' risk points, single-fraction limits, ranges, ambiguous rows
    assert not any("Penile" in goal.structure for goal in goals)
    assert sum(goal.structure == "Spinal cord" for goal in goals) == 3
    assert not any(
        goal.limit in (12.5, 13.0) for goal in goals if goal.metric == Metric.parse("Dmax")
    )


def test_quantec_rows_match_the_reference_table(shared_reference):
    with open(shared_reference / "quantec_constraints.csv", encoding="utf-8") as handle:
        reference = list(csv.DictReader(handle))
    assert len(reference) == 62
    goals = GoalSet.quantec()

    def find(organ, metric, limit):
        matches = [
            g
            for g in goals
            if g.structure == organ and str(g.metric) == metric and g.limit == limit
        ]
        assert len(matches) == 1, (organ, metric, limit)
        return matches[0]

    kept = 0
    for row in reference:
        metric = row["metric"]
        expressible = metric in ("Dmax", "Dmean", "D100") or (
            metric.startswith("V") and metric.endswith("Gy")
        )
        if row["comparator"] not in ("<", "<=") or not expressible:
            continue
        kept += 1
        rtwin_metric = {"D100": "D100%"}.get(metric, metric)
        if row["limit_unit"] == "cc":
            rtwin_metric += "[cc]"
        goal = find(row["organ"], rtwin_metric, float(row["limit"]))
        assert goal.comparator.value == row["comparator"]
        assert goal.unit == row["limit_unit"]
        assert goal.endpoint == row["endpoint"]
        assert goal.risk == row["risk"]
        assert goal.fractionation == row["fractionation"]
        assert goal.source.startswith(row["primary_source"])
    assert kept == len(goals) == 49
    cord = find("Spinal cord", "Dmax", 50.0)
    assert (cord.comparator.value, cord.endpoint, cord.risk) == ("<=", "myelopathy", "0.2%")
    bowel = find("Small bowel (peritoneal cavity)", "V45Gy[cc]", 195.0)
    assert bowel.comparator is Comparator.LESS


def test_quantec_on_a_patient_without_those_organs():
    dose, structures = _case()
    results = GoalSet.quantec().evaluate(dose, structures, names={"Spinal cord": "Cord"})
    evaluated = [r for r in results if r.status is not GoalStatus.NOT_EVALUATED]
    assert [str(r.goal) for r in evaluated] == [
        "'Spinal cord' Dmax <= 50 Gy",
        "'Spinal cord' Dmax <= 60 Gy",
        "'Spinal cord' Dmax <= 69 Gy",
    ]
    assert all(r.status is GoalStatus.PASS for r in evaluated)
    assert results.counts["not evaluated"] == 46
