"""The shipped parameter tables match rtwin's reference table row by row; nothing is invented."""

from __future__ import annotations

import csv
import re

import pytest

from rtwin.errors import RadiobiologyError
from rtwin.radiobiology import (
    LKBParameters,
    _tables,
    alpha_beta_values,
    lkb_parameter_table,
    lkb_parameters,
)


def _reference(shared_reference):
    with open(shared_reference / "lkb_ntcp_parameters.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _identifier(source: str) -> str:
    match = re.search(r"PMID \d+|doi[: ]\S+", source)
    assert match, source
    return match.group()


def test_alpha_beta_rows_match_the_reference_table(shared_reference):
    reference = _reference(shared_reference)
    shipped = alpha_beta_values()
    assert len(shipped) == 6
    for value in shipped:
        rows = [
            (i, r)
            for i, r in enumerate(reference)
            if r["model"] == "LQ"
            and r["organ_or_tissue"] == value.tissue
            and r["endpoint"] == value.endpoint
            and r["parameter"] == value.parameter
            and r["value"] == repr(value.alpha_beta_gy)
        ]
        assert len(rows) == 1, value
        index, row = rows[0]
        assert row["ci_or_range"] == value.interval
        assert row["verification"] == value.verification == "primary_abstract"
        if row["primary_source"].startswith("same"):
            # written out in full: the citation of the earlier row of the same tissue it refers to
            earlier = [
                r["primary_source"]
                for r in reference[:index]
                if r["organ_or_tissue"] == value.tissue
                and not r["primary_source"].startswith("same")
            ]
            assert _identifier(earlier[-1]) in value.source
        else:
            assert row["primary_source"] == value.source
    # every single-valued LQ row with a primary source is shipped; the rest is left out
    kept = {(v.tissue, v.parameter, v.alpha_beta_gy) for v in shipped}
    for row in reference:
        single = re.fullmatch(r"\d+(\.\d+)?", row["value"]) is not None
        wanted = row["model"] == "LQ" and single and row["verification"].startswith("primary")
        key = (row["organ_or_tissue"], row["parameter"], float(row["value"]) if single else None)
        assert (key in kept) == wanted, row


def test_lkb_table_holds_exactly_the_reference_lkb_triplets(shared_reference):
    reference = _reference(shared_reference)
    lkb_rows = [r for r in reference if r["model"].upper().startswith("LKB")]
    assert lkb_rows == []  # the reference table has no LKB (TD50, m, n) with a source
    assert lkb_parameter_table() == ()
    with pytest.raises(
        RadiobiologyError, match=r"ships no LKB parameters for organ 'rectum'.*LKBParameters\("
    ):
        lkb_parameters("rectum")


def test_lookup_rules_on_a_filled_table(monkeypatch):
    rows = [
        {
            "organ": "Rectum",
            "endpoint": "bleeding",
            "td50_gy": "76.9",
            "m": "0.13",
            "n": "0.09",
            "source": "test row",
            "verification": "test",
        },
        {
            "organ": "Rectum",
            "endpoint": "necrosis",
            "td50_gy": "80",
            "m": "0.15",
            "n": "0.12",
            "source": "test row",
            "verification": "test",
        },
        {
            "organ": "Lung",
            "endpoint": "pneumonitis",
            "td50_gy": "30",
            "m": "0.35",
            "n": "1",
            "source": "test row",
            "verification": "test",
        },
    ]  # fictitious values: they only exercise the lookup
    monkeypatch.setattr(_tables, "_rows", lambda name: rows if name == "lkb.csv" else [])
    lung = lkb_parameters("lung")
    assert isinstance(lung, LKBParameters)
    assert (lung.td50_gy, lung.m, lung.n, lung.endpoint) == (30.0, 0.35, 1.0, "pneumonitis")
    assert lung.source == "test row (verification: test)"
    assert lkb_parameters("RECTUM", endpoint="Necrosis").td50_gy == 80.0
    with pytest.raises(RadiobiologyError, match="several endpoints .*'bleeding', 'necrosis'"):
        lkb_parameters("rectum")
    with pytest.raises(RadiobiologyError, match="the table has 'Rectum', 'Lung'"):
        lkb_parameters("heart")
    with pytest.raises(RadiobiologyError, match="its endpoints are 'bleeding', 'necrosis'"):
        lkb_parameters("rectum", endpoint="stricture")


def test_every_shipped_value_names_its_source():
    for value in alpha_beta_values():
        assert value.source and value.verification and value.alpha_beta_gy > 0
