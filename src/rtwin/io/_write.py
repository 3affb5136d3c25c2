"""Writing CT/MR image series and RT Structure Sets as strict DICOM."""

from __future__ import annotations

import datetime
import logging
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rtwin._version import __version__
from rtwin.anatomy import Image, Modality, StructureRole, StructureSet, contours_from_mask
from rtwin.errors import DicomError
from rtwin.io._files import (
    CT_IMAGE_STORAGE,
    MR_IMAGE_STORAGE,
    RT_STRUCTURE_SET_STORAGE,
    dcmread_quietly,
    scan,
    text,
    warn_repairs,
)
from rtwin.io._series import ImageSeries, build_series, select_image_series
from rtwin.patient import PatientPosition, Provenance, hash_file

__all__ = ["write_image_series", "write_rtstruct"]

logger = logging.getLogger(__name__)

_SOP_CLASS = {Modality.CT: CT_IMAGE_STORAGE, Modality.MR: MR_IMAGE_STORAGE}
#: ReferencedSOPClassUID conventionally used for the study in RTReferencedStudySequence.
_DETACHED_STUDY_MANAGEMENT = "1.2.840.10008.3.1.2.3.1"
_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
_INT16 = (-32768, 32767)
_UID_PATTERN = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_PALETTE = (
    (255, 0, 0),
    (0, 160, 255),
    (0, 200, 0),
    (255, 170, 0),
    (170, 0, 255),
    (0, 200, 200),
    (255, 0, 170),
    (140, 100, 40),
)
_ROLE_TYPES = {
    StructureRole.EXTERNAL: "EXTERNAL",
    StructureRole.ORGAN_AT_RISK: "ORGAN",
    StructureRole.SUPPORT: "SUPPORT",
    StructureRole.OTHER: "",
}


# ---------------------------------------------------------------------- helpers
def _pydicom() -> Any:
    import pydicom

    return pydicom


def _ds(value: float) -> str:
    """A decimal string of at most 16 characters (DICOM DS)."""
    from pydicom.valuerep import format_number_as_ds

    return format_number_as_ds(float(value))


def _ds_list(values: NDArray[np.float64]) -> list[str]:
    return [_ds(v) for v in np.asarray(values, dtype=np.float64).ravel()]


#: Maximum length in characters of the text value representations rtwin writes (PS3.5 6.2).
_MAX_CHARACTERS = {"LO": 64, "SH": 16, "PN": 64}


def _text_problem(value: str, vr: str) -> str:
    """Why ``value`` cannot be one DICOM value of ``vr`` ('' when it can)."""
    if "\\" in value:
        return (
            "it contains a backslash, which DICOM reads as the separator between values (it would "
            "read back as several values)"
        )
    control = sorted({repr(c) for c in value if ord(c) < 32 or ord(c) == 127})
    if control:
        return f"it contains the control character(s) {', '.join(control)}"
    if value != value.rstrip(" "):
        return (
            "it ends with a space, which DICOM treats as padding and drops (it would read back "
            f"as {value.rstrip(' ')!r})"
        )
    if len(value) > _MAX_CHARACTERS[vr]:
        return f"it has {len(value)} characters; DICOM {vr} holds at most {_MAX_CHARACTERS[vr]}"
    return ""


def _check_text(value: str, what: str, vr: str) -> str:
    """``value`` as one valid DICOM text value, or a DicomError naming ``what`` (write strictly)."""
    if not isinstance(value, str):
        raise DicomError(f"{what} must be a str; got {type(value).__name__}")
    problem = _text_problem(value, vr)
    if problem:
        raise DicomError(f"{what} {value!r} cannot be written as DICOM {vr}: {problem}")
    return value


def _check_uid(value: str | None, name: str) -> str:
    from pydicom.uid import generate_uid

    if value is None:
        return str(generate_uid())
    uid = str(value).strip()
    if len(uid) > 64 or not _UID_PATTERN.fullmatch(uid):
        raise DicomError(
            f"{name} {value!r} is not a valid DICOM UID (digits and dots, at most 64 "
            "characters, no leading zeros); omit it to generate one"
        )
    return uid


@contextmanager
def _strict(what: str) -> Iterator[None]:
    """Turn pydicom's value-validation warnings into a DicomError (write strictly)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    problems = [
        str(w.message).split(". Please see")[0]
        for w in caught
        if not issubclass(w.category, DeprecationWarning)
    ]
    if problems:
        raise DicomError(
            f"cannot write {what} as valid DICOM: {'; '.join(dict.fromkeys(problems))}"
        )


def _now() -> tuple[str, str]:
    now = datetime.datetime.now()
    return now.strftime("%Y%m%d"), now.strftime("%H%M%S")


def _file_meta(sop_class: str, sop_instance: str) -> Any:
    pydicom = _pydicom()
    meta = pydicom.dataset.FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = _EXPLICIT_VR_LITTLE_ENDIAN
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"RTWIN_{__version__}"[:16]
    return meta


def _save(dataset: Any, path: Path, overwrite: bool) -> None:
    pydicom = _pydicom()
    try:
        with open(path, "wb" if overwrite else "xb") as handle:
            if int(pydicom.__version__.split(".")[0]) >= 3:
                pydicom.dcmwrite(handle, dataset, enforce_file_format=True)
            else:  # pragma: no cover - pydicom 2.4
                dataset.is_little_endian = True
                dataset.is_implicit_VR = False
                pydicom.dcmwrite(handle, dataset, write_like_original=False)
    except FileExistsError as error:
        raise DicomError(
            f"{path} already exists; rtwin does not overwrite files unless overwrite=True"
        ) from error


def _refuse_existing(paths: list[Path], overwrite: bool) -> None:
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        listing = ", ".join(str(p) for p in existing[:3]) + (
            f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        )
        raise DicomError(
            f"{len(existing)} file(s) to be written already exist ({listing}); nothing was "
            "written. Choose another folder or pass overwrite=True"
        )
    directories = [p for p in existing if p.is_dir()]
    if directories:
        raise DicomError(f"{directories[0]} is a folder; cannot write a file there")


def _quantize(
    values: NDArray[np.float32], modality: Modality
) -> tuple[NDArray[np.int16], float, float, bool]:
    """int16 stored values, slope, intercept, and whether rescale tags must be written."""
    data = np.asarray(values, dtype=np.float64)
    low, high = float(data.min()), float(data.max())
    integral = bool(np.all(data == np.round(data)))
    if (modality is Modality.CT or integral) and round(high) - round(low) <= _INT16[1] - _INT16[0]:
        slope = 1.0
        intercept = 0.0
        if round(low) < _INT16[0] or round(high) > _INT16[1]:
            intercept = float(round(low) - _INT16[0])
        stored = np.round(data - intercept)
    else:
        slope = float(_ds((high - low) / (_INT16[1] - _INT16[0] - 2))) if high > low else 1.0
        intercept = float(_ds((high + low) / 2.0))
        stored = np.round((data - intercept) / slope)
    stored = np.clip(stored, *_INT16).astype(np.int16)
    needs_rescale = modality is Modality.CT or slope != 1.0 or intercept != 0.0
    return stored, slope, intercept, needs_rescale


# ---------------------------------------------------------------------- image series
def write_image_series(
    image: Image,
    folder: str | os.PathLike[str],
    *,
    patient_id: str,
    patient_name: str | None = None,
    patient_position: PatientPosition | str = PatientPosition.HFS,
    frame_of_reference_uid: str | None = None,
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    series_description: str = "",
    series_number: int = 1,
    overwrite: bool = False,
) -> ImageSeries:
    """Write a CT or MR image as a DICOM series, one file per slice.

    Parameters
    ----------
    image
        A CT (HU) or MR image; density images cannot be written as CT.
    folder
        Created if missing. Files are named ``CT_0001.dcm``, ... (``MR_``
        for MR) in slice order.
    patient_id
        PatientID to write (e.g. ``patient.patient_id``, a pseudonym).
    patient_name
        PatientName; the patient ID when omitted. No other identifying
        attribute (birth date, sex, accession number, physician or
        institution names) is written with a value.
    patient_position
        ``"HFS"``, ``"FFS"``, ... (e.g. ``patient.position``).
    frame_of_reference_uid, study_instance_uid, series_instance_uid
        UIDs to use (e.g. ``patient.frame_of_reference_uid`` to keep a
        patient's frame of reference); new ones are generated when omitted.
    series_description, series_number
        Written as SeriesDescription and SeriesNumber.
    overwrite
        Replace files of the same names. Without it nothing is written
        when any of them exists.

    Returns
    -------
    ImageSeries
        What a reader will read back: ``.image`` holds the values after
        int16 quantisation, ``.files`` the written files and
        ``.slice_sop_instance_uids`` their UIDs (pass it to
        :func:`write_rtstruct`).

    Raises
    ------
    DicomError
        Not a CT/MR image, a file exists (without ``overwrite``), invalid
        UIDs, or a ``patient_id``, ``patient_name`` or
        ``series_description`` that is not one DICOM value (a backslash, a
        control character, a trailing space, too long).

    Notes
    -----
    Each file is a CT (or MR) Image Storage object with file meta
    information and preamble, Explicit VR Little Endian. Values are stored
    as int16 with RescaleSlope/RescaleIntercept: CT with slope 1, so HU
    round-trip within 0.5 HU (exactly when integral); MR with slope 1 when
    its values are integers that fit int16 (rescale tags are then omitted,
    as the MR Image module does not define them), otherwise with the
    slope that spreads the value range over int16 (error ≤ slope / 2).
    ImageOrientationPatient holds the grid's ``i`` and ``j`` directions,
    PixelSpacing is (``j``, ``i``) spacing (DICOM's row, column order), and
    slice ``k`` is at ``grid.index_to_patient((0, 0, k))``. A grid whose
    ``k`` axis points against row × column reads back with the slice order
    reversed (the same voxels on an equivalent grid).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from rtwin.anatomy import Image
    >>> from rtwin.geometry import Grid
    >>> from rtwin.io import write_image_series
    >>> grid = Grid.from_spacing((2, 3, 4), spacing_mm=(0.9, 1.3, 2.5), origin_mm=(-100.5, 37.2, -20))
    >>> ct = Image(values=np.full(grid.shape, -12.3), grid=grid, modality="CT")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     series = write_image_series(ct, folder, patient_id="demo")
    ...     [p.name for p in series.files]
    ['CT_0001.dcm', 'CT_0002.dcm']
    >>> float(series.image.values.max())   # int16 with slope 1: within 0.5 HU
    -12.0
    """
    if not isinstance(image, Image):
        raise DicomError(f"write_image_series needs an rtwin Image; got {type(image).__name__}")
    if image.modality not in _SOP_CLASS:
        raise DicomError(
            f"only CT and MR images can be written as DICOM image series; this image is "
            f"{image.modality.value!r} ({image.description or image.units}). Write the CT it was "
            "derived from instead"
        )
    try:
        position = PatientPosition(patient_position)
    except ValueError:
        raise DicomError(
            f"unknown patient_position {patient_position!r}; use one of "
            f"{[p.value for p in PatientPosition]}"
        ) from None
    _check_text(patient_id, "patient_id", "LO")
    if patient_name is not None:
        _check_text(patient_name, "patient_name", "PN")
    _check_text(series_description, "series_description", "LO")
    pydicom = _pydicom()
    modality = image.modality
    grid = image.grid
    nz, ny, nx = grid.shape
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise DicomError(f"{out} is a file; write_image_series needs a folder")
    paths = [out / f"{modality.value}_{k + 1:04d}.dcm" for k in range(nz)]
    _refuse_existing(paths, overwrite)
    frame_uid = _check_uid(frame_of_reference_uid, "frame_of_reference_uid")
    study_uid = _check_uid(study_instance_uid, "study_instance_uid")
    series_uid = _check_uid(series_instance_uid, "series_instance_uid")
    stored, slope, intercept, needs_rescale = _quantize(image.values, modality)
    direction = grid.direction
    spacing = grid.spacing_mm
    date, time = _now()
    sop_class = _SOP_CLASS[modality]
    sop_uids = [str(pydicom.uid.generate_uid()) for _ in range(nz)]

    def slice_dataset(k: int) -> Any:
        ds = pydicom.dataset.Dataset()
        ds.file_meta = _file_meta(sop_class, sop_uids[k])
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL" if modality is Modality.CT else "OTHER"]
        ds.InstanceCreationDate = date
        ds.InstanceCreationTime = time
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = sop_uids[k]
        ds.StudyDate = date
        ds.StudyTime = time
        ds.AccessionNumber = ""
        ds.Modality = modality.value
        ds.Laterality = ""  # Type 2C: the body part (and whether it is paired) is unknown
        ds.Manufacturer = "rtwin"
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = ""
        ds.SeriesDescription = series_description
        ds.PatientName = patient_id if patient_name is None else patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = ""
        ds.PatientSex = ""
        ds.SliceThickness = _ds(spacing[2])
        if modality is Modality.CT:
            ds.KVP = ""
        else:
            ds.ScanningSequence = "RM"
            ds.SequenceVariant = "NONE"
            ds.ScanOptions = ""
            ds.MRAcquisitionType = ""
            ds.RepetitionTime = ""  # Type 2C: required unless echo planar; unknown here
            ds.EchoTime = ""
            ds.EchoTrainLength = ""
            ds.SpacingBetweenSlices = _ds(spacing[2])
        ds.PatientPosition = position.value
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = ""
        ds.SeriesNumber = int(series_number)
        ds.AcquisitionNumber = ""
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = _ds_list(grid.index_to_patient(np.array([0.0, 0.0, k])))
        ds.ImageOrientationPatient = _ds_list(np.concatenate((direction[:, 0], direction[:, 1])))
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ny
        ds.Columns = nx
        ds.PixelSpacing = [_ds(spacing[1]), _ds(spacing[0])]
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        if needs_rescale:
            ds.RescaleIntercept = _ds(intercept)
            ds.RescaleSlope = _ds(slope)
            ds.RescaleType = "HU" if modality is Modality.CT else "US"
        ds.PixelData = np.ascontiguousarray(stored[k], dtype="<i2").tobytes()
        return ds

    out.mkdir(parents=True, exist_ok=True)
    for k, path in enumerate(paths):
        with _strict(f"slice {k + 1} of the {modality.value} series"):
            dataset = slice_dataset(k)
        _save(dataset, path, overwrite)
    logger.info("wrote %s series %s: %d files in %s", modality.value, series_uid, nz, out)
    read_back = stored.astype(np.float64) * slope + intercept
    written = Image(values=read_back, grid=grid, modality=modality, description=series_description)
    inputs = tuple(
        (f"{modality.value} {uid}", hash_file(p)) for uid, p in zip(sop_uids, paths, strict=True)
    )
    step = (
        f"wrote {modality.value} series {series_uid}: {nz} files, int16 with slope {slope:g} and "
        f"intercept {intercept:g}"
    )
    return ImageSeries(
        image=written,
        series_instance_uid=series_uid,
        study_instance_uid=study_uid,
        frame_of_reference_uid=frame_uid,
        patient_position=position,
        sop_class_uid=sop_class,
        slice_sop_instance_uids=tuple(sop_uids),
        files=tuple(paths),
        provenance=Provenance(inputs=inputs, steps=(step,)),
    )


# ---------------------------------------------------------------------- structure set
def _interpreted_type(role: StructureRole, name: str) -> str:
    if role is StructureRole.TARGET:
        for kind in ("GTV", "CTV", "PTV"):
            if re.search(kind, name, flags=re.IGNORECASE):
                return kind
        return "PTV"
    return _ROLE_TYPES[role]


def _series_of(series: ImageSeries | str | os.PathLike[str]) -> ImageSeries:
    if isinstance(series, ImageSeries):
        return series
    if isinstance(series, str | os.PathLike):
        try:
            built = build_series(
                select_image_series(scan(series), None, Path(series)), repair=False
            )
        except DicomError as error:
            raise DicomError(
                f"{error}. (write_rtstruct reads the folder as it is; pass the ImageSeries from "
                "read_image_series(folder, series_uid=..., repair=...) instead)"
            ) from error
        warn_repairs(built.repairs, stacklevel=4)
        return built
    raise DicomError(
        "write_rtstruct needs the image series the structures are drawn on: an ImageSeries "
        f"(from write_image_series or read_image_series) or its folder; got {type(series).__name__}"
    )


#: Patient and General Study attributes of a structure set (all Type 2).
_PATIENT_AND_STUDY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
)


def _patient_and_study(
    series: ImageSeries, patient_id: str | None, copy_identity: bool
) -> dict[str, str]:
    """Patient and study attributes of the structure set (see write_rtstruct's Notes).

    Identifying attributes (name, birth date, sex, accession number, study
    ID, referring physician) are copied from the series only with
    ``copy_identity``; otherwise they are written empty.
    """
    if patient_id is not None and copy_identity:
        raise DicomError(
            "pass either patient_id=... (a pseudonymous structure set: nothing identifying is "
            "copied) or copy_patient_identity=True (the series' own patient and study "
            "attributes), not both"
        )
    values = dict.fromkeys(_PATIENT_AND_STUDY, "")
    if patient_id is not None:
        values["PatientID"] = values["PatientName"] = patient_id
        return values
    source = series.files[0] if series.files else None
    if source is None or not source.is_file():
        raise DicomError(
            "the series' files are not readable, so the structure set cannot name their patient; "
            "pass patient_id=..."
        )
    dataset, _ = dcmread_quietly(source, stop_before_pixels=True, convert_all=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = {k: text(dataset, k) for k in _PATIENT_AND_STUDY}
    if copy_identity:
        return found
    values["PatientID"] = values["PatientName"] = found["PatientID"]
    values["StudyDate"], values["StudyTime"] = found["StudyDate"], found["StudyTime"]
    return values


def write_rtstruct(
    structures: StructureSet,
    series: ImageSeries | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    label: str = "rtwin",
    patient_id: str | None = None,
    copy_patient_identity: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write structures as an RT Structure Set referencing an image series.

    Parameters
    ----------
    structures
        Structures on the series' grid (resample them first otherwise).
    series
        The image series they are drawn on: the :class:`ImageSeries`
        returned by :func:`write_image_series` or :func:`read_image_series`,
        or the series' folder (read with :func:`read_image_series`).
    path
        The file to write; its folder must exist.
    label
        StructureSetLabel (at most 16 characters).
    patient_id
        A (pseudonymous) PatientID to write, also written as PatientName;
        nothing identifying is copied from the series (see Notes). By
        default the series' PatientID is copied.
    copy_patient_identity
        Copy the patient and study attributes of the series' first file
        (PatientName, PatientBirthDate, PatientSex, AccessionNumber,
        StudyID, ReferringPhysicianName, ...), e.g. to import the structure
        set into the planning system beside its CT. Not with
        ``patient_id``.
    overwrite
        Replace an existing file; without it an existing file is an error.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    DicomError
        The structures are on another grid, the series has no frame of
        reference, the file exists (without ``overwrite``), a structure
        name or the label DICOM cannot hold (a backslash, a control
        character, too long), invalid values, ``patient_id`` together with
        ``copy_patient_identity``.

    Notes
    -----
    Each mask becomes closed planar contours traced slice by slice on the
    0.5 iso-line between voxel centres
    (:func:`~rtwin.anatomy.contours_from_mask`); holes are separate
    contours, which readers combine with the even-odd rule. Each contour's
    ContourImageSequence names the SOP instance of its slice, and the
    ReferencedFrameOfReferenceSequence names the study, the series and all
    its slices. Roles become RTROIInterpretedType: external → EXTERNAL,
    target → GTV / CTV / PTV (from the name; PTV otherwise), organ at risk
    → ORGAN, support → SUPPORT, other → empty. An empty structure is
    written as an ROI without contours. Contour points are written with at
    most 16 significant characters (DICOM DS).

    Writing is strict: a structure name must be one DICOM LO value (at
    most 64 characters, no backslash, no control characters, no trailing
    space); otherwise the error names the structure, and
    ``structures.renamed({...})`` fixes it.

    Identity: nothing identifying is copied unless asked. With
    ``patient_id`` the file holds that ID as PatientID and PatientName
    and leaves PatientBirthDate, PatientSex, AccessionNumber, StudyID,
    ReferringPhysicianName, StudyDate and StudyTime empty. Without it,
    the series' PatientID is copied (it links the structure set to its
    images) and written as PatientName too, with the series' StudyDate
    and StudyTime; the other attributes stay empty. With
    ``copy_patient_identity=True`` all of them are copied. The structure
    set always joins the series' study (StudyInstanceUID) and frame of
    reference; institution, operator and physician names other than the
    referring physician's are never written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from rtwin.anatomy import Image, Structure, StructureSet
    >>> from rtwin.geometry import Grid
    >>> from rtwin.io import write_image_series, write_rtstruct
    >>> grid = Grid.from_spacing((4, 20, 20), spacing_mm=2.0, origin_mm=(-19, -19, -3))
    >>> box = Structure.from_function("PTV", grid, lambda x, y, z: (abs(x) < 8) & (abs(y) < 6), role="target")
    >>> ct = Image(values=np.zeros(grid.shape), grid=grid, modality="CT")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     series = write_image_series(ct, folder, patient_id="demo")
    ...     write_rtstruct(StructureSet([box]), series, Path(folder) / "RS.dcm").name
    'RS.dcm'
    """
    if not isinstance(structures, StructureSet):
        raise DicomError(
            f"write_rtstruct needs a StructureSet; got {type(structures).__name__} "
            "(wrap structures with StructureSet([...]))"
        )
    reference = _series_of(series)
    grid = reference.grid
    if structures.grid is not None and not grid.is_same_as(structures.grid):
        raise DicomError(
            f"the structures are on {structures.grid!r} but the series is on {grid!r}; resample "
            "them first (structures.resampled(series.grid))"
        )
    if not reference.frame_of_reference_uid:
        raise DicomError(
            f"series {reference.series_instance_uid} has no FrameOfReferenceUID, and a structure "
            "set must name the frame of reference of its contours; write the image with "
            "write_image_series (which sets one) and reference that"
        )
    target = Path(path)
    if not target.parent.is_dir():
        raise DicomError(f"folder {target.parent} does not exist; create it first")
    _refuse_existing([target], overwrite)
    _check_text(label, "label", "SH")
    if patient_id is not None:
        _check_text(patient_id, "patient_id", "LO")
    for structure in structures.values():
        problem = _text_problem(structure.name, "LO")
        if problem:
            suggestion = re.sub(r"[\\\x00-\x1f\x7f]", "_", structure.name).rstrip(" ")
            raise DicomError(
                f"structure {structure.name!r} cannot be written as a DICOM ROIName (LO): "
                f"{problem}. rtwin writes strictly; rename it first, e.g. "
                f"structures.renamed({{{structure.name!r}: {suggestion[:64]!r}}})"
            )
    pydicom = _pydicom()
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    patient = _patient_and_study(reference, patient_id, copy_patient_identity)
    date, time = _now()
    sop_uid = str(pydicom.uid.generate_uid())
    slice_uids = reference.slice_sop_instance_uids
    image_class = reference.sop_class_uid
    frame_uid = reference.frame_of_reference_uid

    def image_reference(uid: str) -> Any:
        item = Dataset()
        item.ReferencedSOPClassUID = image_class
        item.ReferencedSOPInstanceUID = uid
        return item

    with _strict(f"structure set {target.name}"):
        ds = Dataset()
        ds.file_meta = _file_meta(RT_STRUCTURE_SET_STORAGE, sop_uid)
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.InstanceCreationDate = date
        ds.InstanceCreationTime = time
        ds.SOPClassUID = RT_STRUCTURE_SET_STORAGE
        ds.SOPInstanceUID = sop_uid
        for key, value in patient.items():
            setattr(ds, key, value)
        ds.Modality = "RTSTRUCT"
        ds.Manufacturer = "rtwin"
        ds.StudyInstanceUID = reference.study_instance_uid
        ds.SeriesInstanceUID = str(pydicom.uid.generate_uid())
        ds.SeriesNumber = 1
        ds.FrameOfReferenceUID = frame_uid  # Frame of Reference module
        ds.PositionReferenceIndicator = ""
        ds.SeriesDate = date
        ds.SeriesTime = time
        ds.OperatorsName = ""
        ds.InstanceNumber = 1
        ds.StructureSetLabel = label
        ds.StructureSetDate = date
        ds.StructureSetTime = time

        series_item = Dataset()
        series_item.SeriesInstanceUID = reference.series_instance_uid
        series_item.ContourImageSequence = Sequence([image_reference(u) for u in slice_uids if u])
        study_item = Dataset()
        study_item.ReferencedSOPClassUID = _DETACHED_STUDY_MANAGEMENT
        study_item.ReferencedSOPInstanceUID = reference.study_instance_uid
        study_item.RTReferencedSeriesSequence = Sequence([series_item])
        frame_item = Dataset()
        frame_item.FrameOfReferenceUID = frame_uid
        frame_item.RTReferencedStudySequence = Sequence([study_item])
        ds.ReferencedFrameOfReferenceSequence = Sequence([frame_item])

        roi_items, contour_items, observation_items = [], [], []
        for number, structure in enumerate(structures.values(), start=1):
            roi = Dataset()
            roi.ROINumber = number
            roi.ReferencedFrameOfReferenceUID = frame_uid
            roi.ROIName = structure.name
            roi.ROIGenerationAlgorithm = ""
            roi_items.append(roi)

            contour_item = Dataset()
            contour_item.ROIDisplayColor = list(
                structure.color or _PALETTE[(number - 1) % len(_PALETTE)]
            )
            contour_item.ReferencedROINumber = number
            contours = []
            for polygon in contours_from_mask(structure.mask, grid):
                k = round(float(np.mean(grid.patient_to_index(polygon)[:, 2])))
                contour = Dataset()
                if 0 <= k < len(slice_uids) and slice_uids[k]:
                    contour.ContourImageSequence = Sequence([image_reference(slice_uids[k])])
                contour.ContourGeometricType = "CLOSED_PLANAR"
                contour.NumberOfContourPoints = len(polygon)
                contour.ContourNumber = len(contours) + 1
                contour.ContourData = _ds_list(polygon)
                contours.append(contour)
            if contours:
                contour_item.ContourSequence = Sequence(contours)
            contour_items.append(contour_item)

            observation = Dataset()
            observation.ObservationNumber = number
            observation.ReferencedROINumber = number
            observation.ROIObservationLabel = structure.name[:16]
            observation.RTROIInterpretedType = _interpreted_type(structure.role, structure.name)
            observation.ROIInterpreter = ""
            observation_items.append(observation)
        ds.StructureSetROISequence = Sequence(roi_items)
        ds.ROIContourSequence = Sequence(contour_items)
        ds.RTROIObservationsSequence = Sequence(observation_items)
    _save(ds, target, overwrite)
    logger.info("wrote structure set %s with %d ROIs to %s", sop_uid, len(structures), target)
    return target
