"""The shipped proton data and constants against ../shared/reference (skipped when absent)."""

from __future__ import annotations

import csv
import io
from importlib import resources

import pytest

from rtwin.dose.proton import (
    HIGHLAND_ENERGY_MEV,
    HIGHLAND_LOG_COEFFICIENT,
    PROTON_MASS_MEV,
    WATER_RADIATION_LENGTH_MM,
    BortfeldParameters,
    csda_range_mm,
)

pytestmark = pytest.mark.shared_data

COLUMNS = ("energy_MeV", "csda_range_g_cm2", "total_mass_stopping_power_MeV_cm2_g")


def _rows(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def test_shipped_pstar_table_is_the_reference_table(shared_reference):
    reference = _rows((shared_reference / "proton_csda_range_water.csv").read_text("utf-8"))
    shipped = _rows(
        resources.files("rtwin.dose.proton").joinpath("data/pstar_water.csv").read_text()
    )
    assert [tuple(r[c] for c in COLUMNS) for r in shipped] == [
        tuple(r[c] for c in COLUMNS) for r in reference
    ]
    for row in reference:  # the derived Bragg-Kleeman column is 0.0022 E^1.77 (3 decimals)
        energy = float(row["energy_MeV"])
        assert float(row["bragg_kleeman_range_cm_DERIVED"]) == pytest.approx(
            0.0022 * energy**1.77, abs=6e-4
        )
        assert float(csda_range_mm(energy)) == pytest.approx(10 * float(row["csda_range_g_cm2"]))


def test_model_constants_are_the_reference_values(shared_reference):
    rows = _rows((shared_reference / "proton_model_parameters.csv").read_text("utf-8"))
    value = {(r["model"], r["parameter"]): float(r["value"]) for r in rows if _number(r["value"])}
    defaults = BortfeldParameters()
    assert defaults.range_energy_exponent == value[("bragg_kleeman", "p")]
    assert defaults.nuclear_loss_per_cm == value[("bortfeld_1997", "beta")]
    assert defaults.local_nuclear_fraction == value[("bortfeld_1997", "gamma")]
    assert defaults.straggling_coefficient == value[("bortfeld_1997", "sigma_mono_coefficient")]
    assert defaults.straggling_exponent == value[("bortfeld_1997", "sigma_mono_exponent")]
    assert HIGHLAND_ENERGY_MEV == value[("highland_pdg", "E_s")]
    assert HIGHLAND_LOG_COEFFICIENT == value[("highland_pdg", "log_coefficient")]
    assert WATER_RADIATION_LENGTH_MM == pytest.approx(10 * value[("water", "X0_radiation_length")])
    assert PROTON_MASS_MEV == pytest.approx(value[("proton", "rest_energy")], abs=1e-3)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
