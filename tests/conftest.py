"""Shared fixtures. Tests that need ../shared/ (reference data, DICOM, CORT) skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPOSITORY = Path(__file__).resolve().parents[1]


def _shared_root() -> Path | None:
    configured = os.environ.get("RTWIN_SHARED")
    candidates = [Path(configured)] if configured else []
    candidates.append(_REPOSITORY.parent / "shared")
    for candidate in candidates:
        if (candidate / "data").is_dir() or (candidate / "reference").is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def shared_root() -> Path:
    """The ../shared folder beside the checkout (or $RTWIN_SHARED); skips when absent."""
    root = _shared_root()
    if root is None:
        pytest.skip("../shared (test data) is not present beside this checkout")
    return root


@pytest.fixture(scope="session")
def shared_data(shared_root: Path) -> Path:
    """../shared/data; skips when absent."""
    path = shared_root / "data"
    if not path.is_dir():
        pytest.skip("../shared/data is not present")
    return path


@pytest.fixture(scope="session")
def shared_reference(shared_root: Path) -> Path:
    """../shared/reference; skips when absent."""
    path = shared_root / "reference"
    if not path.is_dir():
        pytest.skip("../shared/reference is not present")
    return path


@pytest.fixture(scope="session")
def cort_tg119(shared_data: Path) -> Path:
    """The CORT TG119 matRad file; skips when absent."""
    path = shared_data / "cort" / "TG119.mat"
    if not path.is_file():
        pytest.skip("CORT TG119.mat is not present")
    return path
