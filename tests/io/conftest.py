"""Fixtures for the DICOM tests: small synthetic series written by rtwin, and the shared data."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest

from rtwin.anatomy import Image, Structure, StructureSet
from rtwin.geometry import Grid
from rtwin.io import ImageSeries, write_image_series, write_rtstruct


@pytest.fixture(scope="session")
def dicom_data(shared_data: Path) -> Path:
    """../shared/data/dicom (skips when absent)."""
    folder = shared_data / "dicom"
    if not folder.is_dir():
        pytest.skip("../shared/data/dicom is not present")
    return folder


def _sha256_tree(folder: Path) -> dict[str, str]:
    paths = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="session")
def sha256_tree() -> Callable[[Path], dict[str, str]]:
    """SHA-256 of every file under a folder (or of one file), by path."""
    return _sha256_tree


@pytest.fixture
def small_grid() -> Grid:
    """6 slices of 10 x 12 non-square pixels, off-origin."""
    return Grid.from_spacing(
        (6, 10, 12), spacing_mm=(0.9, 1.3, 2.5), origin_mm=(-100.5, 37.2, -20.0)
    )


def _slice_coded_ct(grid: Grid) -> Image:
    k, _, i = np.indices(grid.shape)
    return Image(values=(100.0 * k + i).astype(np.float64), grid=grid, modality="CT")


@pytest.fixture(scope="session")
def slice_coded_ct() -> Callable[[Grid], Image]:
    """A CT whose slice k holds 100 k + column index (so order and orientation are testable)."""
    return _slice_coded_ct


@pytest.fixture
def write_series(tmp_path: Path) -> Callable[..., ImageSeries]:
    """Write an image as a series into tmp_path / name and return the ImageSeries."""

    def write(image: Image, name: str = "series", **keywords) -> ImageSeries:
        keywords.setdefault("patient_id", "TEST-ID-123")
        return write_image_series(image, tmp_path / name, **keywords)

    return write


def _edit_files(paths, change: Callable[[pydicom.Dataset, int], None]) -> None:
    for index, path in enumerate(paths):
        dataset = pydicom.dcmread(path)
        change(dataset, index)
        dataset.save_as(path, enforce_file_format=True)


@pytest.fixture(scope="session")
def edit_files() -> Callable[..., None]:
    """Rewrite our own test files with ``change(dataset, index)`` applied (set-up only)."""
    return _edit_files


def _ball_structures(grid: Grid) -> StructureSet:
    center = grid.center_mm

    def rel(x, y, z):
        return x - center[0], y - center[1], z - center[2]

    def body(x, y, z):
        a, b, _ = rel(x, y, z)
        return (a / 40.0) ** 2 + (b / 30.0) ** 2 < 1.0

    def ball(x, y, z):
        a, b, c = rel(x, y, z)
        return a**2 + b**2 + c**2 < 12.0**2

    def ring(x, y, z):
        a, b, c = rel(x, y, z)
        r2 = a**2 + b**2
        return (r2 < 24.0**2) & (r2 > 16.0**2) & (np.abs(c) < 9.0)

    return StructureSet(
        [
            Structure.from_function("Body", grid, body, role="external", color=(10, 200, 30)),
            Structure.from_function("PTV", grid, ball, role="target"),
            Structure.from_function("Ring", grid, ring, role="organ_at_risk"),
        ]
    )


@pytest.fixture(scope="session")
def ball_structures() -> Callable[[Grid], StructureSet]:
    """Body (external), a ball target and a ring (with a hole) organ at risk on a grid."""
    return _ball_structures


@pytest.fixture
def phantom_folder(tmp_path: Path) -> tuple[Path, Image, StructureSet, ImageSeries]:
    """A CT + RTSTRUCT written by rtwin: non-square pixels, non-zero origin."""
    grid = Grid.from_spacing(
        (16, 60, 90), spacing_mm=(0.9, 1.3, 2.5), origin_mm=(-100.5, 37.2, -20.0)
    )
    structures = _ball_structures(grid)
    rng = np.random.default_rng(7)
    values = np.where(structures["Body"].mask, 30.0, -1000.0) + rng.normal(0.0, 15.0, grid.shape)
    ct = Image(values=values, grid=grid, modality="CT")
    folder = tmp_path / "patient"
    series = write_image_series(
        ct, folder / "CT", patient_id="MRN-REAL-0042", patient_name="Doe^Jane"
    )
    write_rtstruct(structures, series, folder / "RS.dcm")
    return folder, ct, structures, series
