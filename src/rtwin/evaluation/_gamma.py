"""Gamma index (Low et al. 1998): dose difference and distance to agreement in one number."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from rtwin._arrays import frozen
from rtwin.dose import Dose
from rtwin.errors import EvaluationError
from rtwin.evaluation._kernels import gamma_search, window_bounds
from rtwin.geometry import Grid

__all__ = ["GammaResult", "gamma"]

#: Default number of search steps per distance criterion (pymedphys's ``interp_fraction``).
_STEPS_PER_DISTANCE = 10
#: Most search offsets per reference point (memory and time guard).
_MAX_SEARCH_POINTS = 2_000_000
#: Search-point patterns of :func:`gamma`.
_SEARCH_PATTERNS = ("lattice", "shells")
#: Slack when deciding whether a lattice point lies on the search sphere.
_SPHERE_SLACK = 1e-9
#: A reference voxel centre this close (mm, per axis) to an evaluated voxel centre sits on it.
_ON_CENTRE_MM = 1e-6


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class GammaResult:
    """The outcome of a gamma comparison: the map, the pass rate and the settings used.

    Parameters
    ----------
    values
        Gamma ``(nz, ny, nx)`` on the reference grid, float64 (stored
        read-only; float32 would round values just above 1 to 1), capped at
        ``max_gamma``; NaN where not evaluated (below the lower cutoff, or
        no search point inside the evaluated grid).
    grid
        The reference dose grid.
    dose_percent, distance_mm, local, lower_cutoff_percent, max_gamma, search_step_mm, search_pattern
        The settings, as passed to :func:`gamma` (``search_step_mm``
        resolved).
    normalization_gy
        Dose that ``dose_percent`` (global) and ``lower_cutoff_percent`` are
        percentages of.
    cutoff_gy
        Reference doses below this were not evaluated.

    Attributes
    ----------
    n_evaluated
        Voxels with a gamma value.
    n_passed
        Voxels with gamma ≤ 1.
    pass_rate
        ``100 * n_passed / n_evaluated`` in percent.
    """

    values: NDArray[np.float64] = field(repr=False)
    grid: Grid
    dose_percent: float
    distance_mm: float
    local: bool
    lower_cutoff_percent: float
    max_gamma: float
    search_step_mm: float
    search_pattern: Literal["lattice", "shells"]
    normalization_gy: float
    cutoff_gy: float

    def __post_init__(self) -> None:
        if not isinstance(self.grid, Grid):
            raise EvaluationError(
                f"GammaResult grid must be a rtwin Grid; got {type(self.grid).__name__}"
            )
        values = np.array(self.values, dtype=np.float64, copy=True, order="C")
        if values.shape != self.grid.shape:
            raise EvaluationError(
                f"gamma values have shape {values.shape} but the grid is {self.grid.shape}"
            )
        object.__setattr__(self, "values", frozen(values))

    @property
    def n_evaluated(self) -> int:
        """Number of voxels with a gamma value (not NaN)."""
        return int(np.count_nonzero(~np.isnan(self.values)))

    @property
    def n_passed(self) -> int:
        """Number of voxels with gamma ≤ 1."""
        return int(np.count_nonzero(self.values <= 1.0))

    @property
    def pass_rate(self) -> float:
        """Percentage of evaluated voxels with gamma ≤ 1 (NaN when none was evaluated)."""
        evaluated = self.n_evaluated
        return 100.0 * self.n_passed / evaluated if evaluated else math.nan

    @property
    def mean_gamma(self) -> float:
        """Mean gamma over the evaluated voxels (capped values count as the cap)."""
        return float(np.nanmean(self.values, dtype=np.float64)) if self.n_evaluated else math.nan

    @property
    def summary(self) -> str:
        """One line: criteria, pass rate and counts."""
        mode = "local" if self.local else "global"
        return (
            f"gamma {self.dose_percent:g} %/{self.distance_mm:g} mm ({mode}, cutoff "
            f"{self.lower_cutoff_percent:g} % of {self.normalization_gy:.4g} Gy): "
            f"{self.pass_rate:.2f} % pass ({self.n_passed} of {self.n_evaluated} voxels "
            f"with gamma <= 1), mean gamma {self.mean_gamma:.3f}"
        )

    def __repr__(self) -> str:
        return f"GammaResult({self.summary})"


def gamma(
    reference: Dose,
    evaluated: Dose,
    *,
    dose_percent: float = 3.0,
    distance_mm: float = 3.0,
    local: bool = False,
    lower_cutoff_percent: float = 10.0,
    max_gamma: float = 2.0,
    search_step_mm: float | None = None,
    search_pattern: Literal["lattice", "shells"] = "lattice",
    normalization_gy: float | None = None,
) -> GammaResult:
    """3D gamma index of an evaluated dose against a reference dose.

    For every reference voxel ``r`` with dose ``D_r`` at or above the lower
    cutoff::

        γ(r) = min over search points p of sqrt(|p − r|² / DTA² + (D_e(p) − D_r)² / ΔD²)

    where ``D_e(p)`` is the evaluated dose interpolated trilinearly at ``p``,
    ``DTA = distance_mm`` and ``ΔD = dose_percent / 100`` times
    ``normalization_gy`` (global) or times ``D_r`` (local).

    Parameters
    ----------
    reference
        The reference dose; gamma is reported on its grid.
    evaluated
        The dose searched (interpolated) around each reference voxel; any
        grid (spacing, origin and direction may differ from the reference).
    dose_percent
        Dose-difference criterion in percent (> 0).
    distance_mm
        Distance-to-agreement criterion in mm (> 0).
    local
        Dose difference relative to the reference voxel's own dose instead of
        ``normalization_gy``.
    lower_cutoff_percent
        Reference voxels below this percentage of ``normalization_gy`` are
        not evaluated (applied to the reference only), in ``[0, 100)``.
    max_gamma
        Cap (> 1): the search reaches ``max_gamma * distance_mm`` and larger
        gammas are reported as ``max_gamma``. Raising it only changes
        values above the old cap, never the pass rate.
    search_step_mm
        Spacing of the search points in mm; default ``distance_mm / 10``.
    search_pattern
        ``"lattice"`` (default): a cubic lattice of spacing ``search_step_mm``
        cut to the search sphere. ``"shells"``: pymedphys's pattern,
        spherical shells ``search_step_mm`` apart with points at most
        ``search_step_mm`` apart on each (reproduces ``pymedphys.gamma``
        with the same ``interp_fraction``).
    normalization_gy
        Dose that the percentages refer to; default the reference maximum.

    Returns
    -------
    GammaResult
        The gamma map (NaN where not evaluated), the pass rate and the
        settings.

    Raises
    ------
    EvaluationError
        A dose is not a :class:`~rtwin.dose.Dose`, a setting is out of
        range, or no reference voxel could be evaluated (all below the
        cutoff, or the grids do not overlap).

    Notes
    -----
    **Search.** By default the search points around a reference voxel form
    a cubic lattice along the patient axes, spacing ``search_step_mm``,
    centred on the voxel and cut to the sphere of radius
    ``max_gamma * distance_mm`` (33 401 points with the defaults). This is
    the nominal resolution of pymedphys's default (``interp_fraction=10``),
    whose spherical shells (``search_pattern="shells"``) sample the same
    sphere more coarsely: at equal step the lattice lands closer to the
    continuous minimum (see ``docs/evaluation.md`` for the measured pass
    rates). Points are visited by increasing distance and the search for a
    voxel stops as soon as the distance term alone reaches the best gamma
    found, so passing voxels are cheap; groups of points whose surrounding
    evaluated voxels cannot come close enough in dose are skipped without
    interpolating. Neither shortcut changes the result.

    **Edges.** The evaluated dose is interpolated only between its voxel
    centres: search points beyond the outer voxel centres are skipped (not
    taken as 0 Gy), as in pymedphys. A reference voxel whose search
    points all lie outside the evaluated grid is not evaluated
    (NaN) and does not count in the pass rate.

    **Voxel-centre gamma.** With identical axis-aligned grids,
    ``search_step_mm`` equal to the (isotropic) voxel size makes the search
    points the evaluated voxel centres: the non-interpolated gamma of
    Plastimatch / SlicerRT.

    **Local gamma.** Reference voxels with zero dose are not evaluated.

    References
    ----------
    Low DA, Harms WB, Mutic S, Purdy JA. A technique for the quantitative
    evaluation of dose distributions. Med Phys 25(5):656–661 (1998).
    https://doi.org/10.1118/1.598248

    Wendling M et al. A fast algorithm for gamma evaluation in 3D.
    Med Phys 34(5):1647–1654 (2007). https://doi.org/10.1118/1.2721657

    Examples
    --------
    >>> import numpy as np
    >>> from rtwin.dose import Dose
    >>> from rtwin.evaluation import gamma
    >>> from rtwin.geometry import Grid
    >>> grid = Grid.from_spacing((20, 20, 20), spacing_mm=2.0)
    >>> x = grid.voxel_centers_mm()[..., 0]
    >>> reference = Dose(values=np.clip(2.0 * x, 0.0, 60.0), grid=grid)
    >>> shifted = Dose(values=np.clip(2.0 * (x - 1.5), 0.0, 60.0), grid=grid)
    >>> result = gamma(reference, shifted, dose_percent=3.0, distance_mm=3.0)
    >>> round(result.pass_rate, 1)
    100.0
    """
    for name, dose in (("reference", reference), ("evaluated", evaluated)):
        if not isinstance(dose, Dose):
            raise EvaluationError(f"gamma {name} must be a rtwin Dose; got {type(dose).__name__}")
    dose_percent = _number("dose_percent", dose_percent, "> 0, e.g. 3.0", lambda v: v > 0)
    distance_mm = _number("distance_mm", distance_mm, "> 0, e.g. 3.0", lambda v: v > 0)
    if not isinstance(local, bool | np.bool_):
        raise EvaluationError(f"local must be True or False; got {local!r}")
    lower_cutoff_percent = _number(
        "lower_cutoff_percent",
        lower_cutoff_percent,
        "in [0, 100), e.g. 10.0",
        lambda v: 0 <= v < 100,
    )
    max_gamma = _number(
        "max_gamma",
        max_gamma,
        "> 1, e.g. 2.0 (gamma above the cap is reported as the cap, so a cap <= 1 would "
        "let failing voxels pass)",
        lambda v: v > 1,
    )
    if search_step_mm is None:
        search_step_mm = distance_mm / _STEPS_PER_DISTANCE
    search_step_mm = _number(
        "search_step_mm", search_step_mm, "> 0, e.g. distance_mm / 10", lambda v: v > 0
    )
    if search_pattern not in _SEARCH_PATTERNS:
        raise EvaluationError(
            f"unknown search_pattern {search_pattern!r}; valid: "
            + ", ".join(repr(name) for name in _SEARCH_PATTERNS)
        )
    if normalization_gy is None:
        normalization_gy = reference.max_gy
        if normalization_gy <= 0:
            raise EvaluationError(
                "the reference dose is zero everywhere, so its maximum cannot normalize the "
                "dose criterion; pass normalization_gy (Gy)"
            )
    normalization_gy = _number("normalization_gy", normalization_gy, "> 0 Gy", lambda v: v > 0)

    offsets_mm = _search_offsets(
        search_pattern, step_mm=search_step_mm, radius_mm=max_gamma * distance_mm
    )
    distance_sq = np.sum(offsets_mm * offsets_mm, axis=1) / distance_mm**2

    cutoff_gy = lower_cutoff_percent / 100.0 * normalization_gy
    reference_values = reference.values.astype(np.float64)
    selected = reference_values >= cutoff_gy
    if local:
        selected &= reference_values > 0.0
    k, j, i = np.nonzero(selected)
    if k.size == 0:
        raise EvaluationError(
            f"no reference voxel reaches the lower cutoff {cutoff_gy:.4g} Gy "
            f"({lower_cutoff_percent:g} % of {normalization_gy:.4g} Gy; reference maximum "
            f"{reference.max_gy:.4g} Gy); lower lower_cutoff_percent or normalization_gy"
        )
    reference_gy = reference_values[k, j, i]

    # Everything below is in the evaluated grid's continuous index space.
    to_evaluated = np.linalg.inv(evaluated.grid.affine)
    reference_to_evaluated = to_evaluated @ reference.grid.affine
    ijk = np.stack((i, j, k), axis=1).astype(np.float64)
    positions = ijk @ reference_to_evaluated[:3, :3].T + reference_to_evaluated[:3, 3]
    nearest = np.round(positions)
    on_centre = np.abs(positions - nearest) < _ON_CENTRE_MM / evaluated.grid.spacing_mm
    positions[on_centre] = nearest[on_centre]
    offsets = offsets_mm @ to_evaluated[:3, :3].T
    order, starts, cells, brick_distance_sq = _bricks(offsets, distance_sq)
    offsets = np.ascontiguousarray(offsets[order])
    tolerance_gy = dose_percent / 100.0 * (reference_gy if local else normalization_gy)
    evaluated_values = np.ascontiguousarray(evaluated.values, dtype=np.float32)

    gamma_sq = gamma_search(
        evaluated_values,
        window_bounds(evaluated_values, 2),
        window_bounds(evaluated_values, 3),
        np.ascontiguousarray(positions),
        np.ascontiguousarray(reference_gy),
        np.ascontiguousarray(
            np.broadcast_to(1.0 / np.square(tolerance_gy), reference_gy.shape), dtype=np.float64
        ),
        offsets,
        np.ascontiguousarray(offsets - np.floor(offsets)),
        np.ascontiguousarray(distance_sq[order]),
        starts,
        cells,
        brick_distance_sq,
        max_gamma**2,
    )
    if np.all(np.isnan(gamma_sq)):
        raise EvaluationError(
            f"the evaluated dose grid ({evaluated.grid!r}) does not reach any of the "
            f"{k.size} reference voxels above the cutoff within {max_gamma * distance_mm:g} mm "
            f"(reference grid {reference.grid!r}); check that both doses share a frame of "
            "reference"
        )
    values = np.full(reference.grid.shape, np.nan)
    values[k, j, i] = np.sqrt(gamma_sq)
    return GammaResult(
        values=values,
        grid=reference.grid,
        dose_percent=dose_percent,
        distance_mm=distance_mm,
        local=bool(local),
        lower_cutoff_percent=lower_cutoff_percent,
        max_gamma=max_gamma,
        search_step_mm=search_step_mm,
        search_pattern=search_pattern,
        normalization_gy=normalization_gy,
        cutoff_gy=cutoff_gy,
    )


def _number(name: str, value: object, expected: str, valid: Callable[[float], bool]) -> float:
    """``value`` as a float, or :class:`EvaluationError` naming the setting."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise EvaluationError(f"{name} must be a number {expected}; got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and valid(number)):
        raise EvaluationError(f"{name} must be finite and {expected}; got {value!r}")
    return number


def _search_offsets(pattern: str, *, step_mm: float, radius_mm: float) -> NDArray[np.float64]:
    """Search offsets ``(m, 3)`` in mm along the patient axes ``(x, y, z)``, the centre included.

    ``"lattice"``: the points of the cubic lattice of spacing ``step_mm``
    within ``radius_mm``. ``"shells"``: pymedphys's spheres of radius
    ``n * step_mm`` up to ``radius_mm``, each with rows of constant
    elevation no more than ``step_mm`` apart along the arc and points no
    more than ``step_mm`` apart along each row; the polar axis is patient
    ``x`` and azimuth 0 is patient ``z`` (pymedphys with ``(z, y, x)`` axes).
    """
    n = math.floor(radius_mm / step_mm + _SPHERE_SLACK)
    estimate = (4.0 / 3.0 * math.pi if pattern == "lattice" else 2.0 * math.pi**2 / 3.0) * (
        n + 1
    ) ** 3
    if estimate > _MAX_SEARCH_POINTS:
        raise EvaluationError(
            f"the search sphere of radius {radius_mm:g} mm (max_gamma * distance_mm) at a step "
            f"of {step_mm:g} mm holds about {estimate:.3g} points, more than "
            f"{_MAX_SEARCH_POINTS}; raise search_step_mm or lower max_gamma"
        )
    if pattern == "lattice":
        steps = np.arange(-n, n + 1)
        a, b, c = np.meshgrid(steps, steps, steps, indexing="ij")
        lattice = np.stack((a.ravel(), b.ravel(), c.ravel()), axis=1)
        squared = np.sum(lattice * lattice, axis=1)
        inside = squared <= (radius_mm / step_mm) ** 2 + _SPHERE_SLACK
        return lattice[inside] * step_mm
    points = [np.zeros((1, 3))]
    for shell in range(1, n + 1):
        distance = shell * step_mm
        rows = math.ceil(math.pi * distance / step_mm) + 1
        elevation = np.linspace(0.0, math.pi, rows)
        in_row = np.ceil(2.0 * math.pi * distance * np.sin(elevation) / step_mm).astype(int) + 1
        for polar, count in zip(elevation, in_row, strict=True):
            azimuth = np.linspace(0.0, 2.0 * math.pi, count + 1)[:-1]
            points.append(
                np.stack(
                    (
                        np.full(count, distance * math.cos(polar)),
                        distance * math.sin(polar) * np.sin(azimuth),
                        distance * math.sin(polar) * np.cos(azimuth),
                    ),
                    axis=1,
                )
            )
    return np.concatenate(points)


def _bricks(
    offsets: NDArray[np.float64], distance_sq: NDArray[np.float64]
) -> tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Group search offsets by ``floor(offset)`` (evaluated index units) for the kernel.

    Returns the order that lays the offsets out brick by brick (bricks by
    their nearest offset, offsets by distance within a brick), the bricks'
    start positions in that order ``(b + 1,)``, their cells ``(b, 3)`` and
    their smallest squared distances ``(b,)``, ascending.
    """
    cells = np.floor(offsets).astype(np.int64)
    span = cells.max(axis=0) - cells.min(axis=0) + 1
    key = np.ravel_multi_index(tuple((cells - cells.min(axis=0)).T), tuple(span))
    _, first, brick = np.unique(key, return_index=True, return_inverse=True)
    unique_cells = cells[first]
    nearest = np.full(len(unique_cells), np.inf)
    np.minimum.at(nearest, brick, distance_sq)
    by_distance = np.argsort(nearest, kind="stable")
    rank = np.empty(len(unique_cells), dtype=np.int64)
    rank[by_distance] = np.arange(len(unique_cells))
    order = np.lexsort((distance_sq, rank[brick]))
    counts = np.bincount(rank[brick], minlength=len(unique_cells))
    starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return (
        order,
        starts,
        np.ascontiguousarray(unique_cells[by_distance]),
        np.ascontiguousarray(nearest[by_distance]),
    )
