"""Metric grammar: spellings, canonical round trips, error positions, evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtwin.errors import EvaluationError, RtwinError
from rtwin.evaluation import DVH, Metric, MetricKind


@pytest.mark.parametrize(
    ("text", "kind", "value", "volume_unit", "canonical", "unit"),
    [
        ("D95%", MetricKind.DOSE_AT_VOLUME, 95.0, "%", "D95%", "Gy"),
        ("d2%", MetricKind.DOSE_AT_VOLUME, 2.0, "%", "D2%", "Gy"),
        ("D2cc", MetricKind.DOSE_AT_VOLUME, 2.0, "cc", "D2cc", "Gy"),
        ("D0.03cc", MetricKind.DOSE_AT_VOLUME, 0.03, "cc", "D0.03cc", "Gy"),
        ("D.5CC", MetricKind.DOSE_AT_VOLUME, 0.5, "cc", "D0.5cc", "Gy"),
        ("D100%", MetricKind.DOSE_AT_VOLUME, 100.0, "%", "D100%", "Gy"),
        ("V20Gy", MetricKind.VOLUME_AT_DOSE, 20.0, "%", "V20Gy", "%"),
        ("v20gy", MetricKind.VOLUME_AT_DOSE, 20.0, "%", "V20Gy", "%"),
        ("V20Gy[cc]", MetricKind.VOLUME_AT_DOSE, 20.0, "cc", "V20Gy[cc]", "cc"),
        ("V4.5GY[CC]", MetricKind.VOLUME_AT_DOSE, 4.5, "cc", "V4.5Gy[cc]", "cc"),
        ("Dmean", MetricKind.MEAN, None, None, "Dmean", "Gy"),
        ("DMAX", MetricKind.MAX, None, None, "Dmax", "Gy"),
        ("dmin", MetricKind.MIN, None, None, "Dmin", "Gy"),
        ("gEUD(a=8)", MetricKind.GEUD, 8.0, None, "gEUD(a=8)", "Gy"),
        ("GEUD( a = -10 )", MetricKind.GEUD, -10.0, None, "gEUD(a=-10)", "Gy"),
        ("geud(a=0.5)", MetricKind.GEUD, 0.5, None, "gEUD(a=0.5)", "Gy"),
        ("  D95%  ", MetricKind.DOSE_AT_VOLUME, 95.0, "%", "D95%", "Gy"),
        ("D1e-2cc", MetricKind.DOSE_AT_VOLUME, 0.01, "cc", "D0.01cc", "Gy"),
    ],
)
def test_spellings(text, kind, value, volume_unit, canonical, unit):
    metric = Metric.parse(text)
    assert metric.kind is kind
    assert metric.value == value
    assert metric.volume_unit == volume_unit
    assert str(metric) == canonical
    assert metric.unit == unit
    assert Metric.parse(canonical) == metric
    assert repr(metric) == f"Metric({canonical!r})"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "D95x",
            "metric 'D95x': at position 4 expected '%' or 'cc' (the unit of the volume, as in "
            "D95% or D2cc); got 'x'",
        ),
        ("D95", "metric 'D95': at position 4 expected '%' or 'cc'"),
        (
            "D95 %",
            "at position 4 expected '%' or 'cc' (the unit of the volume, as in D95% or D2cc); got ' '",
        ),
        ("X95%", "metric 'X95%': at position 1 expected a metric (D95%, D2cc, D0.03cc, V20Gy"),
        ("", "metric '': at position 1 expected a metric"),
        ("Dmedian", "at position 2 expected a volume (as in D95% or D2cc) or 'mean', 'max', 'min'"),
        ("D-5%", "at position 2 expected a volume"),
        ("D150%", "metric 'D150%': at position 2 expected a volume percentage within 0-100"),
        ("V20", "metric 'V20': at position 4 expected 'Gy' (V metrics take an absolute dose"),
        ("V95%", "at position 4 expected 'Gy'"),
        ("VGy", "at position 2 expected a dose in Gy (as in V20Gy)"),
        ("V20Gy[%]", "at position 6 expected '[cc]' (write V20Gy for percent, V20Gy[cc] for cm³)"),
        ("V20Gy_cc", "metric 'V20Gy_cc': at position 6 expected the end of the metric; got '_'"),
        ("Dmaxx", "at position 5 expected the end of the metric; got 'x'"),
        ("gEUD", "at position 5 expected '(' (as in gEUD(a=8)); got the end of the text"),
        ("gEUD(b=8)", "at position 6 expected 'a' (as in gEUD(a=8))"),
        ("gEUD(a8)", "at position 7 expected '=' (as in gEUD(a=8))"),
        ("gEUD(a=)", "at position 8 expected a number for a"),
        ("gEUD(a=0)", "at position 8 expected a non-zero a (a = 1 is the mean dose)"),
        ("gEUD(a=8", "at position 9 expected ')' (as in gEUD(a=8)); got the end of the text"),
        ("gamma", "at position 1 expected a metric"),
    ],
)
def test_errors_give_position_and_expectation(text, message):
    with pytest.raises(EvaluationError) as caught:
        Metric.parse(text)
    assert message in str(caught.value)
    assert isinstance(caught.value, RtwinError)
    assert isinstance(caught.value, ValueError)


def test_parse_needs_a_string():
    with pytest.raises(EvaluationError, match="written as a string such as 'D95%'; got 95"):
        Metric.parse(95)


def test_direct_construction_is_validated():
    assert Metric(kind="dose_at_volume", value=95, volume_unit="%") == Metric.parse("D95%")
    with pytest.raises(EvaluationError, match="unknown metric kind 'median'"):
        Metric(kind="median")
    with pytest.raises(EvaluationError, match="Dmean takes no value"):
        Metric(kind="mean", value=3.0)
    with pytest.raises(EvaluationError, match="needs volume_unit '%' or 'cc'; got 'ml'"):
        Metric(kind="volume_at_dose", value=20.0, volume_unit="ml")
    with pytest.raises(EvaluationError, match="needs a value"):
        Metric(kind="geud")
    with pytest.raises(EvaluationError, match="the dose of metric .* must be >= 0"):
        Metric(kind="volume_at_dose", value=-1.0, volume_unit="%")


def test_evaluate_on_a_hand_made_dvh():
    # 3 cc at 10 Gy, 1 cc at 30 Gy
    dvh = DVH(name="Organ", doses_gy=[10.0, 30.0], volumes_cc=[3.0, 1.0])
    values = {
        "Dmean": 15.0,
        "Dmax": 30.0,
        "Dmin": 10.0,
        "V20Gy": 25.0,
        "V20Gy[cc]": 1.0,
        "V10Gy": 100.0,
        "D0.5cc": 30.0,  # inside the top step's upper half
        "D1cc": 25.0,  # halfway between mid-heights 0.5 cc (30 Gy) and 2.5 cc (10 Gy)
        "D25%": 25.0,
        "D100%": 10.0,
        "gEUD(a=1)": 15.0,
    }
    for text, expected in values.items():
        assert Metric.parse(text).evaluate(dvh) == pytest.approx(expected), text


def test_evaluate_raises_when_undefined():
    dvh = DVH(name="Cochlea", doses_gy=[30.0], volumes_cc=[0.5])
    with pytest.raises(EvaluationError, match="cannot take the dose to 2 cc of a 0.5 cc structure"):
        Metric.parse("D2cc").evaluate(dvh)


# ---------------------------------------------------------------- round trips

_numbers = st.one_of(
    st.integers(0, 100).map(float),
    st.floats(0, 100, allow_nan=False, allow_infinity=False),
    st.floats(1e-6, 1e-2),
)


@st.composite
def _metrics(draw):
    kind = draw(st.sampled_from(list(MetricKind)))
    if kind in (MetricKind.MEAN, MetricKind.MAX, MetricKind.MIN):
        return Metric(kind=kind)
    if kind is MetricKind.GEUD:
        a = draw(st.floats(-50, 50).filter(lambda x: x != 0))
        return Metric(kind=kind, value=a)
    return Metric(kind=kind, value=draw(_numbers), volume_unit=draw(st.sampled_from(["%", "cc"])))


@settings(max_examples=200, deadline=None)
@given(_metrics())
def test_canonical_string_round_trips(metric):
    assert Metric.parse(str(metric)) == metric
    assert Metric.parse(str(metric).lower()) == metric
