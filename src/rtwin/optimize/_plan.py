"""Treatment plans: beams, engine, beamlet weights and a prescription."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin._arrays import frozen
from rtwin.beams import Beam
from rtwin.dose import Dose, DoseInfluence
from rtwin.errors import OptimizationError
from rtwin.geometry import Grid
from rtwin.patient import Patient

__all__ = ["Plan", "Prescription"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Prescription:
    """Dose per fraction × number of fractions to a target.

    Examples
    --------
    >>> Prescription(target="PTV", dose_per_fraction_gy=2.0, fractions=25).total_gy
    50.0
    """

    target: str
    dose_per_fraction_gy: float
    fractions: int
    at_volume: float = 0.95

    def __post_init__(self) -> None:
        if not (np.isfinite(self.dose_per_fraction_gy) and self.dose_per_fraction_gy > 0):
            raise OptimizationError(
                f"dose_per_fraction_gy must be a positive dose; got {self.dose_per_fraction_gy!r}"
            )
        if not (isinstance(self.fractions, int | np.integer) and self.fractions >= 1):
            raise OptimizationError(f"fractions must be an integer >= 1; got {self.fractions!r}")
        if not (0.0 < self.at_volume <= 1.0):
            raise OptimizationError(f"at_volume must be in (0, 1]; got {self.at_volume!r}")

    @property
    def total_gy(self) -> float:
        """Total prescribed dose."""
        return float(self.dose_per_fraction_gy * self.fractions)

    def __str__(self) -> str:
        return (
            f"{self.total_gy:g} Gy in {self.fractions} fractions of "
            f"{self.dose_per_fraction_gy:g} Gy to {self.at_volume:.0%} of {self.target}"
        )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Plan:
    """A treatment plan on the twin: beams, engine, weights and prescription.

    Weights give the **total** course dose (objectives are written in total
    Gy); :meth:`dose` is the course dose and :meth:`dose_per_fraction` one
    fraction.

    Parameters
    ----------
    name
        A label ("9-field IMRT").
    patient
        The twin the plan was made on.
    influence
        The dose-influence matrix of the plan's beams (its beamlet table and
        engine configuration are the plan's).
    weights
        ``(n_beamlets,)`` non-negative beamlet weights.
    prescription
        Optional; :meth:`normalized` uses it.

    Examples
    --------
    >>> import rtwin
    >>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5, target_radius_mm=10)
    >>> influence = rtwin.dose.PhotonPencilBeam().influence(
    ...     patient, rtwin.beams.equispaced(3, isocenter_mm=(0, 0, 0)))
    >>> target = patient.structures.targets[0].name
    >>> result = rtwin.optimize.optimize_fluence(influence, patient.structures,
    ...     [rtwin.optimize.SquaredDeviation(target, dose_gy=60.0)])
    >>> plan = Plan(name="3-field", patient=patient, influence=influence, weights=result.weights,
    ...     prescription=Prescription(target=target, dose_per_fraction_gy=2.0, fractions=30))
    >>> plan = plan.normalized()
    >>> dvh = rtwin.evaluation.DVH.compute(plan.dose(), patient.structures[target])
    >>> round(dvh.dose_at_volume(0.95), 2)
    60.0
    """

    name: str
    patient: Patient = field(repr=False)
    influence: DoseInfluence = field(repr=False)
    weights: NDArray[np.float64] = field(repr=False)
    prescription: Prescription | None = None

    def __post_init__(self) -> None:
        weights = np.array(self.weights, dtype=np.float64)
        if weights.shape != (self.influence.n_beamlets,):
            raise OptimizationError(
                f"plan {self.name!r}: weights must have shape ({self.influence.n_beamlets},); "
                f"got {weights.shape}"
            )
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise OptimizationError(f"plan {self.name!r}: weights must be finite and >= 0")
        object.__setattr__(self, "weights", frozen(weights))

    @property
    def beams(self) -> tuple[Beam, ...]:
        """The plan's beams."""
        return self.influence.beamlets.beams

    @property
    def dose_grid(self) -> Grid:
        """The grid the plan's dose is computed on."""
        return self.influence.dose_grid

    @property
    def engine(self) -> object:
        """The engine configuration that computed the influence."""
        return self.influence.engine

    @property
    def modality(self) -> str:
        """``"photon"`` or ``"proton"``."""
        return str(self.beams[0].modality.value)

    def dose(self, grid: Grid | None = None) -> Dose:
        """The course dose (Gy), on the dose grid or resampled onto ``grid``."""
        dose = self.influence.dose(self.weights, description=self.name)
        return dose if grid is None else dose.resampled(grid)

    def dose_per_fraction(self, grid: Grid | None = None) -> Dose:
        """One fraction's dose (needs a prescription)."""
        if self.prescription is None:
            raise OptimizationError(f"plan {self.name!r} has no prescription; fractions unknown")
        return self.dose(grid).scaled(1.0 / self.prescription.fractions)

    def with_weights(self, weights: ArrayLike) -> Plan:
        """The same plan with other weights."""
        return replace(self, weights=np.asarray(weights, dtype=np.float64))

    def normalized(self) -> Plan:
        """Weights scaled so the prescription holds (e.g. D95 % of the target = total dose).

        The target's DVH is evaluated on the structure's own grid (the CT
        grid for imported patients), see :meth:`rtwin.dose.Dose.normalized`.
        """
        if self.prescription is None:
            raise OptimizationError(f"plan {self.name!r} has no prescription to normalize to")
        from rtwin.evaluation import DVH

        target = self.patient.structures[self.prescription.target]
        current = DVH.compute(self.dose(), target).dose_at_volume(self.prescription.at_volume)
        if not current > 0:
            raise OptimizationError(
                f"plan {self.name!r}: target {target.name!r} receives no dose; cannot normalize"
            )
        return self.with_weights(self.weights * (self.prescription.total_gy / current))

    def _repr_html_(self) -> str:
        from rtwin._html import html_table

        return html_table(
            f"Plan {self.name}",
            [
                ("modality", self.modality),
                ("gantry angles", ", ".join(f"{b.gantry_deg:g}°" for b in self.beams)),
                ("beamlets", self.influence.n_beamlets),
                ("prescription", str(self.prescription) if self.prescription else "–"),
            ],
        )

    def __repr__(self) -> str:
        prescription = f", {self.prescription}" if self.prescription else ""
        return (
            f"Plan({self.name!r}, {len(self.beams)} {self.modality} beam(s), "
            f"{self.influence.n_beamlets} beamlets{prescription})"
        )
