"""StructureSet: read-only mapping, helpful KeyError, one grid."""

from __future__ import annotations

import numpy as np
import pytest

from rtwin.anatomy import Structure, StructureSet
from rtwin.errors import StructureError, StructureNotFoundError
from rtwin.geometry import Grid


@pytest.fixture
def structures() -> StructureSet:
    grid = Grid.from_spacing((2, 2, 2), spacing_mm=1.0)
    mask = np.ones((2, 2, 2), bool)
    return StructureSet(
        [
            Structure(name="Body", mask=mask, grid=grid, role="external"),
            Structure(name="PTV", mask=mask, grid=grid, role="target"),
            Structure(name="Rectum", mask=mask, grid=grid, role="organ_at_risk"),
        ]
    )


def test_missing_name_lists_available(structures):
    with pytest.raises(KeyError) as info:
        structures["Bladder"]
    assert isinstance(info.value, StructureNotFoundError)
    assert (
        str(info.value) == "structure 'Bladder' not in the set; available: 'Body', 'PTV', 'Rectum'"
    )


def test_roles_and_mapping(structures):
    assert list(structures) == ["Body", "PTV", "Rectum"]
    assert structures.external.name == "Body"
    assert [s.name for s in structures.targets] == ["PTV"]
    assert [s.name for s in structures.organs_at_risk] == ["Rectum"]
    assert "PTV" in structures and len(structures) == 3


def test_read_only(structures):
    with pytest.raises(TypeError):
        structures["X"] = structures["PTV"]  # type: ignore[index]
    renamed = structures.renamed({"PTV": "PTV_50"})
    assert "PTV" in structures and "PTV_50" in renamed
    assert list(structures.without("Rectum")) == ["Body", "PTV"]


def test_duplicates_and_grids_rejected(structures):
    with pytest.raises(StructureError, match="appears twice"):
        StructureSet([structures["PTV"], structures["PTV"]])
    other = Structure(
        name="Far", mask=np.ones((2, 2, 2)), grid=Grid.from_spacing((2, 2, 2), spacing_mm=2.0)
    )
    with pytest.raises(StructureError, match="resample it first"):
        structures.with_structures(other)
