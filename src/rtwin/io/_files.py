"""Finding, classifying and reading DICOM files (private helpers shared by the readers)."""

from __future__ import annotations

import hashlib
import io as _bytes_io
import logging
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rtwin.errors import DicomError, RtwinWarning

__all__ = ["SeriesSummary", "list_series"]

logger = logging.getLogger(__name__)

# SOP classes (DICOM PS3.4 Annex B). Files are classified by these, never by the Modality tag.
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"
RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"

_KINDS = {
    CT_IMAGE_STORAGE: "CT",
    MR_IMAGE_STORAGE: "MR",
    RT_STRUCTURE_SET_STORAGE: "RTSTRUCT",
    ENHANCED_CT_IMAGE_STORAGE: "CT (enhanced multi-frame)",
    ENHANCED_MR_IMAGE_STORAGE: "MR (enhanced multi-frame)",
    "1.2.840.10008.5.1.4.1.1.481.1": "RTIMAGE",
    "1.2.840.10008.5.1.4.1.1.481.2": "RTDOSE",
    "1.2.840.10008.5.1.4.1.1.481.5": "RTPLAN",
    "1.2.840.10008.5.1.4.1.1.481.8": "RTPLAN (ion)",
    "1.2.840.10008.5.1.4.1.1.128": "PT",
    "1.2.840.10008.5.1.4.1.1.66": "REG",
    "1.2.840.10008.5.1.4.1.1.7": "SC",
}
#: SOP classes whose images the series reader turns into an Image.
IMAGE_SOP_CLASSES = {CT_IMAGE_STORAGE: "CT", MR_IMAGE_STORAGE: "MR"}
MULTIFRAME_SOP_CLASSES = {ENHANCED_CT_IMAGE_STORAGE, ENHANCED_MR_IMAGE_STORAGE}
_MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"

#: Group numbers (little endian) a DICOM data set without preamble starts with.
_PREAMBLE_LESS_STARTS = (b"\x02\x00", b"\x08\x00")


def kind_of(sop_class_uid: str) -> str:
    """Short name of a SOP class (``"CT"``, ``"RTSTRUCT"``, ...) or the UID's name."""
    if sop_class_uid in _KINDS:
        return _KINDS[sop_class_uid]
    try:
        from pydicom.uid import UID

        name = UID(sop_class_uid).name
    except Exception:
        name = sop_class_uid
    return name or "unknown"


def text(dataset: Any, keyword: str, default: str = "") -> str:
    """An attribute as a stripped string ('' when absent or empty)."""
    value = dataset.get(keyword, None)
    if value is None:
        return default
    if hasattr(value, "value"):
        value = value.value
    if value is None:
        return default
    return str(value).strip()


@dataclass(frozen=True, slots=True)
class Header:
    """What the folder scan learns about one DICOM file (private)."""

    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    modality_tag: str
    series_instance_uid: str
    frame_of_reference_uid: str
    description: str
    has_preamble: bool
    referenced_series_uids: tuple[str, ...] = ()
    referenced_frame_uids: tuple[str, ...] = ()
    label: str = ""

    @property
    def kind(self) -> str:
        return kind_of(self.sop_class_uid)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesSummary:
    """One DICOM series found in a folder (see :func:`list_series`).

    Parameters
    ----------
    series_instance_uid
        The SeriesInstanceUID shared by the files.
    modality
        What the files are, from their SOP class (``"CT"``, ``"MR"``,
        ``"RTSTRUCT"``, ``"RTDOSE"``, ...), not from the Modality tag.
    n_files
        Number of files of the series.
    description
        SeriesDescription of the first file (``""`` when absent).
    frame_of_reference_uid
        The first file's FrameOfReferenceUID (``""`` when absent).
    folder
        The folder holding the series' first file.

    Examples
    --------
    >>> from pathlib import Path
    >>> from rtwin.io import SeriesSummary
    >>> SeriesSummary(series_instance_uid="1.2.3", modality="CT", n_files=60, description="thorax",
    ...               frame_of_reference_uid="1.2.4", folder=Path("ct")).describe()
    "1.2.3 (CT, 60 files, 'thorax')"
    """

    series_instance_uid: str
    modality: str
    n_files: int
    description: str
    frame_of_reference_uid: str
    folder: Path

    def describe(self) -> str:
        """One line for error messages and listings."""
        description = f", {self.description!r}" if self.description else ""
        return (
            f"{self.series_instance_uid} ({self.modality}, {self.n_files} "
            f"file{'s' if self.n_files != 1 else ''}{description})"
        )


def sniff(path: Path) -> bool | None:
    """True for a DICOM file with preamble, False for one without, None for other files."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(132)
    except OSError:
        return None
    if len(start) >= 132 and start[128:132] == b"DICM":
        return True
    if start[:2] in _PREAMBLE_LESS_STARTS and len(start) >= 8:
        return False
    return None


def _pydicom() -> Any:
    import pydicom

    return pydicom


def dcmread_quietly(
    source: Path | bytes, *, stop_before_pixels: bool = False, convert_all: bool = True
) -> tuple[Any, list[str]]:
    """Read a data set leniently; return it and pydicom's warnings as text.

    pydicom validates values lazily and warns (its configured default);
    rtwin never changes pydicom's global configuration, so the warnings are
    caught here, where every element is converted once, and reported as
    notes instead of escaping to the user.
    """
    pydicom = _pydicom()
    handle = _bytes_io.BytesIO(source) if isinstance(source, bytes) else source
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = pydicom.dcmread(handle, force=True, stop_before_pixels=stop_before_pixels)
        _infer_transfer_syntax(dataset)
        if convert_all:
            for _ in dataset.iterall():
                pass
    messages = []
    for item in caught:
        if issubclass(item.category, RtwinWarning):  # pragma: no cover - not raised in here
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
            continue
        messages.append(str(item.message).split(". Please see")[0])
    return dataset, messages


def _infer_transfer_syntax(dataset: Any) -> None:
    """Give a data set read without file meta the transfer syntax it was parsed with.

    Only the in-memory copy changes (pixel decoding needs the syntax); the
    file is untouched.
    """
    pydicom = _pydicom()
    meta = getattr(dataset, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    encoding = getattr(dataset, "original_encoding", None)  # pydicom >= 3
    if encoding is None:  # pragma: no cover - pydicom 2.4
        encoding = (dataset.is_implicit_VR, dataset.is_little_endian)
    implicit, little = encoding
    if implicit is None:  # pragma: no cover - not read from a file
        return
    if implicit:
        syntax = pydicom.uid.ImplicitVRLittleEndian
    elif little:
        syntax = pydicom.uid.ExplicitVRLittleEndian
    else:
        syntax = pydicom.uid.ExplicitVRBigEndian
    if meta is None:
        meta = pydicom.dataset.FileMetaDataset()
        dataset.file_meta = meta
    meta.TransferSyntaxUID = syntax


def read_file(path: Path) -> tuple[Any, str, list[str]]:
    """Read one whole file: data set, SHA-256 of its bytes, pydicom's warnings."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DicomError(f"cannot read {path}: {error}") from error
    digest = hashlib.sha256(data).hexdigest()
    try:
        dataset, messages = dcmread_quietly(data)
    except Exception as error:
        raise DicomError(
            f"{path} is not a readable DICOM file ({type(error).__name__}: {error})"
        ) from error
    return dataset, digest, messages


def instance_label(sop_instance_uid: str, sha256: str) -> str:
    """How notes, repairs and provenance name a file: its SOP instance UID, else a hash.

    Never a file name or path: those often hold a patient's name or ID
    (``RS_Doe.dcm``), and notes and provenance travel with pseudonymized
    data.
    """
    uid = str(sop_instance_uid).strip()
    return uid if uid else f"sha256:{sha256[:16]}"


def _sop_class(dataset: Any) -> str:
    value = text(dataset, "SOPClassUID")
    if not value:
        meta = getattr(dataset, "file_meta", None)
        if meta is not None:
            value = text(meta, "MediaStorageSOPClassUID")
    return value


def read_header(path: Path) -> Header | None:
    """Header of one file, or None when it is not a DICOM object rtwin can classify."""
    preamble = sniff(path)
    if preamble is None:
        logger.debug("skipping %s: not a DICOM file", path)
        return None
    try:
        dataset, _ = dcmread_quietly(path, stop_before_pixels=True, convert_all=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sop_class = _sop_class(dataset)
            if not sop_class or sop_class == _MEDIA_STORAGE_DIRECTORY:
                logger.debug("skipping %s: no SOP class (e.g. a DICOMDIR)", path)
                return None
            referenced_series: list[str] = []
            referenced_frames: list[str] = []
            label = ""
            if sop_class == RT_STRUCTURE_SET_STORAGE:
                label = text(dataset, "StructureSetLabel")
                for frame in dataset.get("ReferencedFrameOfReferenceSequence", None) or ():
                    referenced_frames.append(text(frame, "FrameOfReferenceUID"))
                    for study in frame.get("RTReferencedStudySequence", None) or ():
                        for series in study.get("RTReferencedSeriesSequence", None) or ():
                            referenced_series.append(text(series, "SeriesInstanceUID"))
                for roi in dataset.get("StructureSetROISequence", None) or ():
                    referenced_frames.append(text(roi, "ReferencedFrameOfReferenceUID"))
            return Header(
                path=path,
                sop_class_uid=sop_class,
                sop_instance_uid=text(dataset, "SOPInstanceUID"),
                modality_tag=text(dataset, "Modality"),
                series_instance_uid=text(dataset, "SeriesInstanceUID"),
                frame_of_reference_uid=text(dataset, "FrameOfReferenceUID"),
                description=text(dataset, "SeriesDescription"),
                has_preamble=preamble,
                referenced_series_uids=_unique(referenced_series),
                referenced_frame_uids=_unique(referenced_frames),
                label=label,
            )
    except Exception as error:
        logger.debug("skipping %s: unreadable as DICOM (%s)", path, error)
        return None


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def as_path(source: str | os.PathLike[str], what: str) -> Path:
    """A path that exists, or a DicomError saying what was looked for."""
    path = Path(source)
    if not path.exists():
        raise DicomError(f"{what} {str(path)!r} does not exist; check the path")
    return path


def scan(source: str | os.PathLike[str], *, recursive: bool = True) -> list[Header]:
    """Headers of the DICOM files in a folder (recursively) or of one file."""
    path = as_path(source, "DICOM folder or file")
    if path.is_file():
        candidates: Sequence[Path] = [path]
    else:
        pattern = "**/*" if recursive else "*"
        candidates = sorted(p for p in path.glob(pattern) if p.is_file())
    headers = [h for h in (read_header(p) for p in candidates) if h is not None]
    logger.debug("scanned %s: %d DICOM files of %d files", path, len(headers), len(candidates))
    return headers


def summarize(headers: Sequence[Header]) -> list[SeriesSummary]:
    """Series found among headers, in first-seen order."""
    groups: dict[tuple[str, str], list[Header]] = {}
    for header in headers:
        groups.setdefault((header.series_instance_uid, header.kind), []).append(header)
    summaries = []
    for (series_uid, kind), members in groups.items():
        summaries.append(
            SeriesSummary(
                series_instance_uid=series_uid or "(no SeriesInstanceUID)",
                modality=kind,
                n_files=len(members),
                description=members[0].description or members[0].label,
                frame_of_reference_uid=members[0].frame_of_reference_uid,
                folder=members[0].path.parent,
            )
        )
    return summaries


def list_series(
    folder: str | os.PathLike[str], *, recursive: bool = True
) -> tuple[SeriesSummary, ...]:
    """The DICOM series in a folder (searched recursively by default).

    Files are grouped by SeriesInstanceUID and classified by their SOP class;
    files that are not DICOM are ignored. Use it to pick the ``series_uid``
    for :func:`read_image_series` or :func:`read_dicom`.

    Parameters
    ----------
    folder
        A folder (or a single file).
    recursive
        Also look in subfolders.

    Returns
    -------
    tuple of SeriesSummary
        One per (series, kind), in the order first found.

    Raises
    ------
    DicomError
        The folder does not exist.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from rtwin.anatomy import Image
    >>> from rtwin.geometry import Grid
    >>> from rtwin.io import list_series, write_image_series
    >>> grid = Grid.from_spacing((3, 4, 5), spacing_mm=2.0)
    >>> ct = Image(values=np.zeros(grid.shape), grid=grid, modality="CT")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = write_image_series(ct, folder, patient_id="demo")
    ...     [(s.modality, s.n_files) for s in list_series(folder)]
    [('CT', 3)]
    """
    return tuple(summarize(scan(folder, recursive=recursive)))


def most_common(values: Iterable[str]) -> tuple[str, int]:
    """The most common non-empty value and how many distinct non-empty values there were."""
    counts = Counter(v for v in values if v)
    if not counts:
        return "", 0
    return counts.most_common(1)[0][0], len(counts)


def warn_repairs(repairs: Iterable[str], *, stacklevel: int = 3) -> None:
    """Emit one RtwinWarning per repair (the public readers call this)."""
    for repair in repairs:
        warnings.warn(repair, RtwinWarning, stacklevel=stacklevel)


def log_notes(notes: Iterable[str]) -> None:
    """Log the notes of a reader at INFO level."""
    for note in notes:
        logger.info("%s", note)
