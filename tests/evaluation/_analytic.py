"""Analytic DVH benchmark: a sphere in a linear or a radially symmetric dose.

Run ``python tests/evaluation/_analytic.py`` to print the accuracy table of
``docs/evaluation.md`` (many sphere positions); the tests use a few.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rtwin.anatomy import Structure
from rtwin.dose import Dose
from rtwin.evaluation import DVH
from rtwin.geometry import Grid

RADIUS_MM = 20.0
FRACTIONS = (0.02, 0.05, 0.50, 0.95, 0.98)


def cap_position(fraction: float) -> float:
    """``t = x0 / R`` such that the cap ``x >= x0`` of a unit ball holds ``fraction`` of it.

    The cap of height ``h = R (1 − t)`` has volume ``π h² (3R − h) / 3``, so
    its fraction is ``(1 − t)² (2 + t) / 4``: the depressed cubic
    ``t³ − 3t + 2 − 4f = 0``, whose root in [−1, 1] is
    ``2 cos((arccos(2f − 1) − 2π) / 3)``.
    """
    return 2.0 * math.cos((math.acos(2.0 * fraction - 1.0) - 2.0 * math.pi) / 3.0)


@dataclass(frozen=True)
class LinearDose:
    """``d = a + b (u · (p − c))``: the DVH of a ball is the spherical-cap fraction."""

    a_gy: float = 50.0
    b_gy_per_mm: float = 0.5
    direction: tuple[float, float, float] = (1.0, 0.0, 0.0)

    def values(self, points_mm, centre_mm):
        u = np.asarray(self.direction, dtype=float)
        u = u / np.linalg.norm(u)
        return self.a_gy + self.b_gy_per_mm * ((points_mm - centre_mm) @ u)

    def dose_at_volume(self, fraction):
        return self.a_gy + self.b_gy_per_mm * RADIUS_MM * cap_position(fraction)

    def volume_at_dose(self, gy):
        t = np.clip((gy - self.a_gy) / (self.b_gy_per_mm * RADIUS_MM), -1.0, 1.0)
        return (1.0 - t) ** 2 * (2.0 + t) / 4.0

    @property
    def mean_gy(self):
        return self.a_gy

    @property
    def max_gy(self):
        return self.a_gy + self.b_gy_per_mm * RADIUS_MM


@dataclass(frozen=True)
class ConeDose:
    """``d = d0 − s r``, concentric with the ball: ``V(≥ d) = (r(d) / R)³``."""

    peak_gy: float = 60.0
    slope_gy_per_mm: float = 1.0

    def values(self, points_mm, centre_mm):
        return self.peak_gy - self.slope_gy_per_mm * np.linalg.norm(points_mm - centre_mm, axis=-1)

    def dose_at_volume(self, fraction):
        return self.peak_gy - self.slope_gy_per_mm * RADIUS_MM * fraction ** (1.0 / 3.0)

    def volume_at_dose(self, gy):
        r = np.clip((self.peak_gy - gy) / self.slope_gy_per_mm, 0.0, RADIUS_MM)
        return (r / RADIUS_MM) ** 3

    @property
    def mean_gy(self):
        # ∫ (d0 − s r) 3 r² / R³ dr over [0, R]
        return self.peak_gy - 0.75 * self.slope_gy_per_mm * RADIUS_MM

    @property
    def max_gy(self):
        return self.peak_gy


def sphere_dvh(field, *, spacing_mm, dose_spacing_mm=None, offset, supersampling=None):
    """DVH of the analytic ball centred at ``offset`` (fractions of a voxel) and its centre."""
    centre = np.asarray(offset, dtype=float) * spacing_mm
    n = int(math.ceil(2 * RADIUS_MM / spacing_mm)) + 5
    grid = Grid.from_spacing((n, n, n), spacing_mm=spacing_mm, origin_mm=-(n - 1) / 2 * spacing_mm)
    ball = Structure.from_function(
        "Ball",
        grid,
        lambda x, y, z: (
            (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2 <= RADIUS_MM**2
        ),
    )
    if dose_spacing_mm is None:
        dose_grid = grid
    else:
        m = int(math.ceil((2 * RADIUS_MM + 4 * spacing_mm) / dose_spacing_mm)) + 2
        dose_grid = Grid.from_spacing(
            (m, m, m), spacing_mm=dose_spacing_mm, origin_mm=-(m - 1) / 2 * dose_spacing_mm + 0.37
        )
    dose = Dose(values=field.values(dose_grid.voxel_centers_mm(), centre), grid=dose_grid)
    return DVH.compute(dose, ball, supersampling=supersampling), ball


def errors(field, dvh):
    """Metric errors (computed − analytic) in Gy, and the volume error in %."""
    result = {
        f"D{round(100 * f)}%": dvh.dose_at_volume(f) - field.dose_at_volume(f) for f in FRACTIONS
    }
    result["Dmean"] = dvh.mean_gy - field.mean_gy
    result["volume %"] = 100.0 * (
        dvh.volume_cc / (4.0 / 3.0 * math.pi * RADIUS_MM**3 / 1000.0) - 1.0
    )
    return result


FIELDS = {
    "linear, along x": LinearDose(),
    "linear, oblique (1, 2, 2)/3": LinearDose(direction=(1.0, 2.0, 2.0)),
    "cone 60 - r Gy": ConeDose(),
}


def accuracy_table(n_positions: int = 24, seed: int = 5) -> str:
    """Mean and largest |error| over random sphere positions, per field and grid."""
    rng = np.random.default_rng(seed)
    lines = [
        "| dose | voxels (structure / dose) | "
        + " | ".join(
            f"{k}" for k in (*(f"D{round(100 * f)}%" for f in FRACTIONS), "Dmean", "volume %")
        )
        + " |",
        "|---|---|" + "---|" * (len(FRACTIONS) + 2),
    ]
    for label, field in FIELDS.items():
        for spacing, dose_spacing in ((2.0, None), (3.0, None), (2.0, 4.0)):
            collected: dict[str, list[float]] = {}
            for _ in range(n_positions):
                offset = rng.uniform(-0.5, 0.5, 3)
                dvh, _ = sphere_dvh(
                    field, spacing_mm=spacing, dose_spacing_mm=dose_spacing, offset=offset
                )
                for key, value in errors(field, dvh).items():
                    collected.setdefault(key, []).append(abs(value))
            grid = f"{spacing:g} / {dose_spacing or spacing:g} mm"
            cells = " | ".join(f"{np.mean(v):.3f} ({np.max(v):.3f})" for v in collected.values())
            lines.append(f"| {label} | {grid} | {cells} |")
    return "\n".join(lines)


def boundary_supersampled_dvh(field, *, spacing_mm, offset, subdivisions=3):
    """The rejected alternative: boundary voxels split into sub-voxels that all count as inside.

    A voxel is on the boundary when one of its six face neighbours is
    outside the mask; each is split into ``subdivisions³`` sub-voxels whose
    doses are the analytic dose at their centres (the mask's voxels are the
    structure, as in :meth:`DVH.compute`). Interior voxels keep their centre.
    """
    from scipy import ndimage

    _, ball = sphere_dvh(field, spacing_mm=spacing_mm, offset=offset)
    centre = np.asarray(offset, dtype=float) * spacing_mm
    interior = ndimage.binary_erosion(ball.mask, border_value=0)
    voxel_cc = ball.grid.voxel_volume_mm3 / 1000.0
    k, j, i = np.nonzero(ball.mask & interior)
    points = [ball.grid.index_to_patient(np.stack((i, j, k), axis=-1).astype(float))]
    volumes = [np.full(k.size, voxel_cc)]
    k, j, i = np.nonzero(ball.mask & ~interior)
    steps = (np.arange(subdivisions) + 0.5) / subdivisions - 0.5
    sub = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(-1, 3)
    index = (np.stack((i, j, k), axis=-1)[:, None, :] + sub[None]).reshape(-1, 3)
    points.append(ball.grid.index_to_patient(index))
    volumes.append(np.full(len(index), voxel_cc / subdivisions**3))
    points_mm = np.concatenate(points)
    return DVH(
        name="Ball",
        doses_gy=field.values(points_mm, centre).astype(np.float32),
        volumes_cc=np.concatenate(volumes),
    )


def method_comparison_table(n_positions: int = 24, seed: int = 7) -> str:
    """rtwin's voxel-centre sampling vs boundary supersampling (D2 %, D95 %, D98 % errors)."""
    rng = np.random.default_rng(seed)
    keys = ("D2%", "D95%", "D98%")
    lines = [
        "| dose | voxels | method | " + " | ".join(keys) + " |",
        "|---|---|---|" + "---|" * len(keys),
    ]
    for label in ("linear, along x", "cone 60 - r Gy"):
        field = FIELDS[label]
        for spacing in (2.0, 3.0):
            offsets = [rng.uniform(-0.5, 0.5, 3) for _ in range(n_positions)]
            for method in ("voxel centres (rtwin)", "boundary voxels 3×3×3"):
                collected: dict[str, list[float]] = {key: [] for key in keys}
                for offset in offsets:
                    if method.startswith("voxel"):
                        dvh, _ = sphere_dvh(field, spacing_mm=spacing, offset=offset)
                    else:
                        dvh = boundary_supersampled_dvh(field, spacing_mm=spacing, offset=offset)
                    found = errors(field, dvh)
                    for key in keys:
                        collected[key].append(found[key])
                cells = " | ".join(
                    f"{np.mean(v):+.3f} ({np.max(np.abs(v)):.3f})" for v in collected.values()
                )
                lines.append(f"| {label} | {spacing:g} mm | {method} | {cells} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(accuracy_table())
    print()
    print(method_comparison_table())
