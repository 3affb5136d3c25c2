"""The patient model of the twin: planning image, structures, materials, identity."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np

from rtwin.anatomy import Image, Modality, StructureSet
from rtwin.errors import GeometryError, MaterialsError, StructureError
from rtwin.geometry import Grid
from rtwin.materials import HUCalibration, Quantity, default_calibration
from rtwin.patient._provenance import Provenance, hash_arrays

__all__ = ["Patient", "PatientPosition"]


class PatientPosition(StrEnum):
    """DICOM patient position (head/feet first, supine/prone)."""

    HFS = "HFS"
    HFP = "HFP"
    FFS = "FFS"
    FFP = "FFP"
    HFDR = "HFDR"
    HFDL = "HFDL"
    FFDR = "FFDR"
    FFDL = "FFDL"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Patient:
    """The anatomy of the twin.

    Parameters
    ----------
    image
        Planning image in HU (modality CT; for MR-only planning a synthetic
        CT from :func:`rtwin.materials.synthetic_ct`).
    structures
        Structures on the image's grid.
    calibration
        HU → density tables; rtwin's generic default when omitted.
    patient_id
        Pseudonymous identifier (never a real name or MRN; readers
        pseudonymize on import).
    frame_of_reference_uid
        DICOM frame of reference of the image and structures (``""`` when
        unknown, e.g. a procedural phantom).
    position
        Patient position (HFS by default).
    mr
        The MR image an MR-only plan was built from, on the same grid.
    provenance
        Inputs' hashes and the steps that made this patient.

    Notes
    -----
    ``relative_electron_density``, ``mass_density`` and
    ``stopping_power_ratio`` are derived from the image through the
    calibration each time they are read (a fast table lookup), so they can
    never disagree with the image.

    Examples
    --------
    >>> import rtwin
    >>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5)
    >>> patient.grid.shape
    (12, 12, 12)
    >>> float(patient.relative_electron_density.values.max())
    1.0
    >>> len(patient.fingerprint)
    64
    """

    image: Image
    structures: StructureSet
    calibration: HUCalibration = field(default_factory=default_calibration, repr=False)
    patient_id: str = "anonymous"
    frame_of_reference_uid: str = ""
    position: PatientPosition = PatientPosition.HFS
    mr: Image | None = field(default=None, repr=False)
    provenance: Provenance = field(default_factory=Provenance, repr=False)
    # derived images and the fingerprint, computed once (the patient is immutable)
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.image, Image):
            raise GeometryError(
                f"Patient image must be an rtwin Image; got {type(self.image).__name__}"
            )
        if self.image.modality is not Modality.CT:
            raise MaterialsError(
                f"the planning image must be CT in HU; got modality {self.image.modality.value!r}. "
                "For MR-only planning build a synthetic CT first (rtwin.materials.synthetic_ct)"
            )
        if not isinstance(self.structures, StructureSet):
            raise StructureError(
                f"Patient structures must be a StructureSet; got {type(self.structures).__name__}"
            )
        if self.structures.grid is not None:
            self.image.grid.require_same(self.structures.grid, "the image and the structures")
        if self.mr is not None:
            if not isinstance(self.mr, Image) or self.mr.modality is not Modality.MR:
                raise GeometryError("Patient.mr must be an MR Image")
            self.image.grid.require_same(self.mr.grid, "the planning image and the MR")
        try:
            position = PatientPosition(self.position)
        except ValueError:
            raise GeometryError(
                f"unknown patient position {self.position!r}; use one of "
                f"{[p.value for p in PatientPosition]}"
            ) from None
        object.__setattr__(self, "position", position)

    @property
    def grid(self) -> Grid:
        """The planning image's grid."""
        return self.image.grid

    def _derived(self, quantity: Quantity, units: str, description: str) -> Image:
        key = f"derived:{quantity.value}"
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        values = self.calibration.convert(self.image.values, quantity)
        image = Image(
            values=values,
            grid=self.grid,
            modality=Modality.DENSITY,
            units=units,
            description=description,
        )
        self._cache[key] = image
        return image

    @property
    def relative_electron_density(self) -> Image:
        """Electron density relative to water (photon engines)."""
        return self._derived(Quantity.RELATIVE_ELECTRON_DENSITY, "1", "relative electron density")

    @property
    def mass_density(self) -> Image:
        """Mass density in g/cm³."""
        return self._derived(Quantity.MASS_DENSITY, "g/cm3", "mass density")

    @property
    def stopping_power_ratio(self) -> Image:
        """Proton stopping power relative to water (proton engines)."""
        return self._derived(Quantity.STOPPING_POWER_RATIO, "1", "stopping-power ratio")

    @property
    def fingerprint(self) -> str:
        """SHA-256 of everything that changes dose: image, grid, position, structures, calibration."""
        cached = self._cache.get("fingerprint")
        if cached is not None:
            return cached

        def text(value: str) -> np.ndarray:
            return np.frombuffer(value.encode(), dtype=np.uint8)

        arrays = [self.image.values, self.grid.affine, text(self.position.value)]
        for structure in self.structures.values():
            arrays += [
                text(structure.name),
                text(structure.role.value),
                np.packbits(structure.mask),
            ]
        arrays.append(text(self.calibration.out_of_range))
        for quantity, curve in self.calibration.curves.items():
            arrays += [text(quantity.value), curve.hu, curve.values]
        if self.mr is not None:
            arrays.append(self.mr.values)
        fingerprint = hash_arrays(*arrays)
        self._cache["fingerprint"] = fingerprint
        return fingerprint

    def with_structures(self, structures: StructureSet) -> Patient:
        """The same patient with another structure set."""
        return replace(self, structures=structures)

    def with_calibration(self, calibration: HUCalibration) -> Patient:
        """The same patient with another CT calibration."""
        return replace(
            self,
            calibration=calibration,
            provenance=self.provenance.with_step(f"calibration set to {calibration.name!r}"),
        )

    def resampled(self, grid: Grid) -> Patient:
        """Image, MR and structures on another grid (linear for images)."""
        return replace(
            self,
            image=self.image.resampled(grid),
            structures=self.structures.resampled(grid),
            mr=None if self.mr is None else self.mr.resampled(grid),
            provenance=self.provenance.with_step(f"resampled to {grid!r}"),
        )

    def _repr_html_(self) -> str:
        from rtwin._html import html_table

        rows = [
            ("patient id", self.patient_id),
            (
                "image",
                f"{self.image.modality.value}, {self.grid.shape} voxels of "
                f"{' x '.join(f'{s:g}' for s in self.grid.spacing_mm)} mm",
            ),
            ("position", self.position.value),
            ("calibration", self.calibration.name),
        ] + [(name, f"{s.role.value}, {s.volume_cc:.1f} cc") for name, s in self.structures.items()]
        return html_table("Patient", rows)

    def __repr__(self) -> str:
        names = ", ".join(self.structures) or "no structures"
        return (
            f"Patient({self.patient_id!r}, {self.image.modality.value} {self.grid!r}, "
            f"structures: {names})"
        )
