"""Candidate plans: a description of a plan to make, and making several of them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rtwin.beams import Beam, BeamModality
from rtwin.errors import OptimizationError
from rtwin.geometry import Grid
from rtwin.optimize import Objective, OptimizationResult, Plan, Prescription, optimize_fluence
from rtwin.patient import Patient

__all__ = ["CandidatePlan", "PlanningStep", "plan_candidates"]

_MODALITIES = ("photon", "proton")


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidatePlan:
    """What a plan should be: modality, beam angles, beamlet size and objectives.

    Parameters
    ----------
    name
        Label of the plan ("9-field IMRT").
    modality
        ``"photon"`` (IMRT, finite-size pencil beam) or ``"proton"`` (IMPT,
        spot scanning).
    gantry_deg
        Gantry angle of each beam (IEC 61217, degrees).
    objectives
        The optimization objectives.
    beamlet_mm
        Bixel width (photons) or lateral spot spacing (protons) at the
        isocentre.
    couch_deg
        Couch angle of every beam.
    max_iterations
        Optimizer iteration cap.

    Examples
    --------
    >>> from rtwin.optimize import SquaredDeviation
    >>> plan = CandidatePlan.equispaced("5-field IMRT", 5, objectives=[SquaredDeviation("PTV", dose_gy=60)])
    >>> plan.gantry_deg
    (0.0, 72.0, 144.0, 216.0, 288.0)
    """

    name: str
    modality: str = "photon"
    gantry_deg: tuple[float, ...]
    objectives: tuple[Objective, ...]
    beamlet_mm: float = 5.0
    couch_deg: float = 0.0
    max_iterations: int = 200

    def __post_init__(self) -> None:
        if self.modality not in _MODALITIES:
            raise OptimizationError(
                f"candidate {self.name!r}: modality must be one of {list(_MODALITIES)}; "
                f"got {self.modality!r}"
            )
        angles = tuple(float(a) for a in np.atleast_1d(np.asarray(self.gantry_deg, dtype=float)))
        if not angles or not all(np.isfinite(angles)):
            raise OptimizationError(
                f"candidate {self.name!r}: gantry_deg must list at least one finite angle"
            )
        object.__setattr__(self, "gantry_deg", angles)
        objectives = tuple(self.objectives)
        if not objectives:
            raise OptimizationError(f"candidate {self.name!r}: give at least one objective")
        object.__setattr__(self, "objectives", objectives)
        if not (np.isfinite(self.beamlet_mm) and self.beamlet_mm > 0):
            raise OptimizationError(
                f"candidate {self.name!r}: beamlet_mm must be positive; got {self.beamlet_mm!r}"
            )
        if not (isinstance(self.max_iterations, int | np.integer) and self.max_iterations >= 1):
            raise OptimizationError(
                f"candidate {self.name!r}: max_iterations must be an integer >= 1; "
                f"got {self.max_iterations!r}"
            )

    @classmethod
    def equispaced(
        cls,
        name: str,
        n_beams: int,
        *,
        objectives: Sequence[Objective],
        modality: str = "photon",
        start_deg: float = 0.0,
        **options: Any,
    ) -> CandidatePlan:
        """``n_beams`` coplanar beams 360°/n apart, starting at ``start_deg``."""
        if not (isinstance(n_beams, int | np.integer) and n_beams >= 1):
            raise OptimizationError(f"n_beams must be an integer >= 1; got {n_beams!r}")
        angles = tuple(float((start_deg + 360.0 * i / n_beams) % 360.0) for i in range(n_beams))
        return cls(
            name=name, modality=modality, gantry_deg=angles, objectives=tuple(objectives), **options
        )

    def beams(self, isocenter_mm: ArrayLike) -> tuple[Beam, ...]:
        """The candidate's beams about an isocentre."""
        modality = BeamModality(self.modality)
        return tuple(
            Beam(
                modality=modality,
                gantry_deg=angle,
                couch_deg=self.couch_deg,
                isocenter_mm=isocenter_mm,
                name=f"{self.name} G{angle:g}",
            )
            for angle in self.gantry_deg
        )

    def engine(self) -> Any:
        """The dose engine of the modality, with the candidate's beamlet size."""
        from rtwin.dose import PhotonPencilBeam, ProtonPencilBeam

        if self.modality == "photon":
            return PhotonPencilBeam(bixel_mm=self.beamlet_mm)
        return ProtonPencilBeam(spot_spacing_mm=self.beamlet_mm)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanningStep:
    """A progress report from :func:`plan_candidates`.

    ``done`` of ``total`` steps are finished (two per candidate: dose
    calculation and optimization); ``message`` says what just happened.
    """

    message: str
    done: int
    total: int
    candidate: str = ""
    seconds: float = 0.0
    result: OptimizationResult | None = field(default=None, repr=False)


def plan_candidates(
    patient: Patient,
    candidates: Sequence[CandidatePlan],
    *,
    prescription: Prescription,
    dose_grid: Grid | None = None,
    isocenter_mm: ArrayLike | None = None,
    progress: Callable[[PlanningStep], None] | None = None,
) -> tuple[Plan, ...]:
    """Compute, optimize and normalize every candidate on one patient.

    Each candidate's beams point at ``isocenter_mm`` (default: the centroid
    of the prescription's target); its engine computes the dose-influence
    matrix on ``dose_grid`` (default: the patient's grid); its objectives
    are optimized (:func:`~rtwin.optimize.optimize_fluence`) and the plan
    is normalized to the prescription (:meth:`~rtwin.optimize.Plan.normalized`).

    Parameters
    ----------
    progress
        Called after every dose calculation and optimization with a
        :class:`PlanningStep` (for a progress bar); nothing is printed.

    Examples
    --------
    >>> import rtwin
    >>> from rtwin.optimize import Prescription, SquaredDeviation
    >>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5, target_radius_mm=10)
    >>> target = patient.structures.targets[0].name
    >>> candidates = [CandidatePlan.equispaced("3-field", 3,
    ...     objectives=[SquaredDeviation(target, dose_gy=60.0)], max_iterations=30)]
    >>> (plan,) = plan_candidates(patient, candidates,
    ...     prescription=Prescription(target=target, dose_per_fraction_gy=2, fractions=30))
    >>> plan
    Plan('3-field', 3 photon beam(s), 127 beamlets, 60 Gy in 30 fractions of 2 Gy to 95% of Target)
    """
    candidates = tuple(candidates)
    if not candidates:
        raise OptimizationError("plan_candidates needs at least one candidate")
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise OptimizationError(f"candidate names must be unique; got {names}")
    target = patient.structures[prescription.target]
    isocenter = (
        np.asarray(target.centroid_mm, dtype=float)
        if isocenter_mm is None
        else np.asarray(isocenter_mm, dtype=float)
    )
    total = 2 * len(candidates)
    done = 0
    plans = []
    started = time.perf_counter()
    for candidate in candidates:
        influence = candidate.engine().influence(
            patient, candidate.beams(isocenter), dose_grid=dose_grid, target=target
        )
        done += 1
        if progress is not None:
            progress(
                PlanningStep(
                    message=f"{candidate.name}: dose of {influence.n_beamlets} beamlets",
                    done=done,
                    total=total,
                    candidate=candidate.name,
                    seconds=time.perf_counter() - started,
                )
            )
        result = optimize_fluence(
            influence,
            patient.structures,
            candidate.objectives,
            max_iterations=candidate.max_iterations,
        )
        plan = Plan(
            name=candidate.name,
            patient=patient,
            influence=influence,
            weights=result.weights,
            prescription=prescription,
        ).normalized()
        plans.append(plan)
        done += 1
        if progress is not None:
            progress(
                PlanningStep(
                    message=(
                        f"{candidate.name}: optimized in {result.n_iterations} iterations "
                        f"({result.message.lower()})"
                    ),
                    done=done,
                    total=total,
                    candidate=candidate.name,
                    seconds=time.perf_counter() - started,
                    result=result,
                )
            )
    return tuple(plans)
