"""CT number (HU) calibration: HU → relative electron density, mass density, SPR."""

from __future__ import annotations

import csv
import io
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin._arrays import frozen
from rtwin.errors import MaterialsError, RtwinWarning

__all__ = ["CalibrationCurve", "HUCalibration", "Quantity", "default_calibration"]

logger = logging.getLogger(__name__)


class Quantity(StrEnum):
    """Physical quantities a CT calibration maps HU to."""

    RELATIVE_ELECTRON_DENSITY = "relative_electron_density"
    """Electron density relative to water (photon dose engines)."""
    MASS_DENSITY = "mass_density_g_cm3"
    """Mass density in g/cm³."""
    STOPPING_POWER_RATIO = "stopping_power_ratio"
    """Proton stopping power relative to water (proton dose engines)."""


OutOfRange = Literal["clamp", "raise"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CalibrationCurve:
    """A piecewise-linear HU → value table for one quantity.

    Parameters
    ----------
    hu
        Node HU values, strictly increasing.
    values
        Node values (≥ 0), same length.
    quantity
        What the values are (:class:`Quantity`).
    source
        Where the numbers come from (shown in reports and provenance).

    Examples
    --------
    >>> curve = CalibrationCurve(hu=[-1000, 0, 1000], values=[0.0, 1.0, 1.5],
    ...                          quantity="relative_electron_density")
    >>> curve([-500, 500]).tolist()
    [0.5, 1.25]
    """

    hu: NDArray[np.float64]
    values: NDArray[np.float64]
    quantity: Quantity
    source: str = ""

    def __post_init__(self) -> None:
        try:
            quantity = Quantity(self.quantity)
        except ValueError:
            raise MaterialsError(
                f"unknown calibration quantity {self.quantity!r}; use one of "
                f"{[q.value for q in Quantity]}"
            ) from None
        hu = np.array(self.hu, dtype=np.float64)
        values = np.array(self.values, dtype=np.float64)
        if hu.ndim != 1 or hu.shape != values.shape or hu.size < 2:
            raise MaterialsError(
                f"{quantity.value} calibration needs at least two (HU, value) nodes of equal "
                f"length; got {hu.size} HU and {values.size} values"
            )
        if not (np.all(np.isfinite(hu)) and np.all(np.isfinite(values))):
            raise MaterialsError(f"{quantity.value} calibration holds non-finite numbers")
        if np.any(np.diff(hu) <= 0):
            bad = int(np.flatnonzero(np.diff(hu) <= 0)[0])
            raise MaterialsError(
                f"{quantity.value} calibration HU nodes must increase strictly; node {bad + 1} "
                f"({hu[bad + 1]:g} HU) does not follow {hu[bad]:g} HU"
            )
        if np.any(values < 0):
            raise MaterialsError(f"{quantity.value} calibration values must be >= 0")
        object.__setattr__(self, "quantity", quantity)
        object.__setattr__(self, "hu", frozen(hu))
        object.__setattr__(self, "values", frozen(values))

    @property
    def hu_range(self) -> tuple[float, float]:
        """Lowest and highest HU node."""
        return (float(self.hu[0]), float(self.hu[-1]))

    def __call__(self, hu: ArrayLike) -> NDArray[np.float64]:
        """Interpolate; HU outside the nodes take the end values (clamping)."""
        return np.interp(np.asarray(hu, dtype=np.float64), self.hu, self.values)

    def inverse(self, value: float) -> float:
        """The HU that maps to ``value`` (lowest such HU on a monotonic stretch)."""
        if not np.all(np.diff(self.values) >= 0):
            raise MaterialsError(
                f"{self.quantity.value} calibration is not monotonic; it cannot be inverted"
            )
        if not self.values[0] <= value <= self.values[-1]:
            raise MaterialsError(
                f"{self.quantity.value} {value:g} is outside the calibration's range "
                f"[{self.values[0]:g}, {self.values[-1]:g}]"
            )
        index = int(np.searchsorted(self.values, value, side="left"))
        if index == 0 or self.values[index] == value:
            return float(self.hu[index])
        v0, v1 = self.values[index - 1], self.values[index]
        h0, h1 = self.hu[index - 1], self.hu[index]
        return float(h0 + (value - v0) * (h1 - h0) / (v1 - v0))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class HUCalibration:
    """A CT scanner calibration: one :class:`CalibrationCurve` per quantity.

    Parameters
    ----------
    name
        Name shown in provenance (scanner, protocol, kernel).
    curves
        Mapping :class:`Quantity` → curve; any subset of the three.
    out_of_range
        What to do with HU outside a curve's nodes: ``"clamp"`` (default)
        uses the end value and issues one :class:`~rtwin.errors.RtwinWarning`
        per conversion with the number of voxels clamped; ``"raise"`` raises
        :class:`~rtwin.errors.MaterialsError`.

    Notes
    -----
    Interpolation is linear in HU between nodes. Clamping is the default
    because real CT holds values outside any calibration (padding at −2048
    or −3024 HU outside the reconstruction circle; metal above 3000 HU).

    Examples
    --------
    >>> from rtwin.materials import default_calibration
    >>> calibration = default_calibration()
    >>> calibration.relative_electron_density([-1000, 0, 100]).round(3).tolist()
    [0.001, 1.0, 1.095]
    >>> calibration.mass_density([0]).round(3).tolist()
    [1.017]
    """

    name: str
    curves: Mapping[Quantity, CalibrationCurve] = field(repr=False)
    out_of_range: OutOfRange = "clamp"

    def __post_init__(self) -> None:
        if self.out_of_range not in ("clamp", "raise"):
            raise MaterialsError(
                f"out_of_range must be 'clamp' or 'raise'; got {self.out_of_range!r}"
            )
        curves: dict[Quantity, CalibrationCurve] = {}
        for key, curve in dict(self.curves).items():
            quantity = _quantity(key)
            if not isinstance(curve, CalibrationCurve) or curve.quantity is not quantity:
                raise MaterialsError(
                    f"calibration curve for {quantity.value} is not a matching CalibrationCurve"
                )
            curves[quantity] = curve
        if not curves:
            raise MaterialsError(f"calibration {self.name!r} has no curves")
        object.__setattr__(self, "curves", MappingProxyType(curves))

    # ------------------------------------------------------------------ lookups
    def curve(self, quantity: Quantity | str) -> CalibrationCurve:
        """The curve for one quantity; raises when the calibration lacks it."""
        wanted = _quantity(quantity)
        if wanted not in self.curves:
            raise MaterialsError(
                f"calibration {self.name!r} has no {wanted.value} curve; it has "
                f"{[q.value for q in self.curves]}. Add that column to the calibration CSV"
            )
        return self.curves[wanted]

    def convert(self, hu: ArrayLike, quantity: Quantity | str) -> NDArray[np.float64]:
        """Map HU to ``quantity``, honouring :attr:`out_of_range`."""
        curve = self.curve(quantity)
        values = np.asarray(hu, dtype=np.float64)
        low, high = curve.hu_range
        outside = int(np.count_nonzero((values < low) | (values > high)))
        if outside:
            lowest, highest = float(values.min()), float(values.max())
            message = (
                f"{outside} voxel(s) lie outside the {curve.quantity.value} calibration range "
                f"[{low:g}, {high:g}] HU of {self.name!r} (data span [{lowest:g}, {highest:g}] HU)"
            )
            if self.out_of_range == "raise":
                raise MaterialsError(
                    message + "; extend the calibration table or use out_of_range='clamp'"
                )
            warnings.warn(message + "; clamped to the end values", RtwinWarning, stacklevel=3)
        return curve(values)

    def relative_electron_density(self, hu: ArrayLike) -> NDArray[np.float64]:
        """Electron density relative to water."""
        return self.convert(hu, Quantity.RELATIVE_ELECTRON_DENSITY)

    def mass_density(self, hu: ArrayLike) -> NDArray[np.float64]:
        """Mass density in g/cm³."""
        return self.convert(hu, Quantity.MASS_DENSITY)

    def stopping_power_ratio(self, hu: ArrayLike) -> NDArray[np.float64]:
        """Proton stopping power relative to water."""
        return self.convert(hu, Quantity.STOPPING_POWER_RATIO)

    def with_out_of_range(self, policy: OutOfRange) -> HUCalibration:
        """The same calibration with another out-of-range policy."""
        return HUCalibration(name=self.name, curves=self.curves, out_of_range=policy)

    # ------------------------------------------------------------------ files
    @classmethod
    def from_csv(
        cls,
        path: str | PathLike[str],
        *,
        name: str | None = None,
        out_of_range: OutOfRange = "clamp",
    ) -> HUCalibration:
        """Read a calibration table from CSV.

        Two layouts are accepted (``#`` lines are comments):

        * wide: a ``hu`` column and one or more of ``relative_electron_density``,
          ``mass_density_g_cm3``, ``stopping_power_ratio`` (empty cells skip a
          node for that quantity);
        * long: columns ``quantity, hu, value`` and optionally ``source``.

        Raises
        ------
        MaterialsError
            Missing columns, unknown quantities, unreadable numbers, or nodes
            that do not increase.

        Examples
        --------
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "scanner.csv"
        >>> _ = path.write_text("hu,relative_electron_density\\n-1000,0.0\\n0,1.0\\n1500,1.8\\n")
        >>> HUCalibration.from_csv(path).relative_electron_density([750]).tolist()
        [1.4]
        """
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8-sig")
        except OSError as error:
            raise MaterialsError(f"cannot read calibration file {str(file)!r}: {error}") from error
        return cls._from_text(
            text, name=name or file.stem, origin=str(file), out_of_range=out_of_range
        )

    @classmethod
    def _from_text(
        cls, text: str, *, name: str, origin: str, out_of_range: OutOfRange
    ) -> HUCalibration:
        lines = [
            line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
        ]
        reader = csv.DictReader(io.StringIO("\n".join(lines)))
        columns = [c.strip() for c in (reader.fieldnames or [])]
        reader.fieldnames = columns
        nodes: dict[Quantity, list[tuple[float, float, str]]] = {}
        if {"quantity", "hu", "value"} <= set(columns):
            for number, row in enumerate(reader, start=2):
                quantity = _parse_quantity(row["quantity"], origin, number)
                nodes.setdefault(quantity, []).append(
                    (
                        _parse_number(row["hu"], origin, number, "hu"),
                        _parse_number(row["value"], origin, number, "value"),
                        (row.get("source") or "").strip(),
                    )
                )
        elif "hu" in columns:
            quantities = [c for c in columns if c != "hu" and c != "source"]
            if not quantities:
                raise MaterialsError(
                    f"calibration file {origin!r} has a 'hu' column but no quantity columns; "
                    f"add one of {[q.value for q in Quantity]}"
                )
            parsed = [_parse_quantity(c, origin, 1) for c in quantities]
            for number, row in enumerate(reader, start=2):
                hu = _parse_number(row["hu"], origin, number, "hu")
                for column, quantity in zip(quantities, parsed, strict=True):
                    cell = (row.get(column) or "").strip()
                    if cell:
                        value = _parse_number(cell, origin, number, column)
                        nodes.setdefault(quantity, []).append(
                            (hu, value, (row.get("source") or "").strip())
                        )
        else:
            raise MaterialsError(
                f"calibration file {origin!r} needs either columns 'quantity,hu,value' or a 'hu' "
                f"column plus quantity columns; found {columns}"
            )
        curves = {}
        for quantity, entries in nodes.items():
            entries.sort(key=lambda entry: entry[0])
            sources = sorted({e[2] for e in entries if e[2]})
            curves[quantity] = CalibrationCurve(
                hu=[e[0] for e in entries],
                values=[e[1] for e in entries],
                quantity=quantity,
                source="; ".join(sources) or origin,
            )
        return cls(name=name, curves=curves, out_of_range=out_of_range)

    def __repr__(self) -> str:
        parts = ", ".join(f"{q.value}: {len(c.hu)} nodes" for q, c in self.curves.items())
        return f"HUCalibration({self.name!r}, {parts}, out_of_range={self.out_of_range!r})"


def _quantity(value: object) -> Quantity:
    try:
        return Quantity(value)
    except ValueError:
        raise MaterialsError(
            f"unknown calibration quantity {value!r}; use one of {[q.value for q in Quantity]}"
        ) from None


def _parse_quantity(text: str, origin: str, line: int) -> Quantity:
    try:
        return Quantity((text or "").strip())
    except ValueError:
        raise MaterialsError(
            f"{origin}, line {line}: unknown quantity {text!r}; use one of "
            f"{[q.value for q in Quantity]}"
        ) from None


def _parse_number(text: str | None, origin: str, line: int, column: str) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        raise MaterialsError(
            f"{origin}, line {line}: column {column!r} is not a number: {text!r}"
        ) from None
    if not np.isfinite(value):
        raise MaterialsError(f"{origin}, line {line}: column {column!r} is not finite: {text!r}")
    return value


def default_calibration(*, out_of_range: OutOfRange = "clamp") -> HUCalibration:
    """rtwin's generic CT calibration.

    * relative electron density: matRad's current default HLUT (nodes at
      −1024, −999, −90, −45, 0, 100, 350, 3000 HU);
    * mass density: the Schneider, Bortfeld & Schlegel (Phys Med Biol 45:459,
      2000) HU → density nodes as used by GATE (with the soft-tissue/bone
      hand-over between 100 and 101 HU);
    * stopping-power ratio: the same matRad default HLUT, which matRad uses
      for particles too (a generic table: SPR ≈ relative electron density).
      Against the Bethe stopping-power ratios of rtwin's reference tissues
      it is within about 1–2 % for soft tissues and about 5 % high for
      ICRU-46 cortical bone (1.78 vs 1.70); matRad's older proton table
      (flat 1.2 from 200 to 449 HU) is not used because it contradicts the
      electron-density curve in bone by over 20 %.

    The numbers and their sources are in ``rtwin/materials/data/default_calibration.csv``.
    It is generic: for patient work, use your scanner's measured calibration
    (:meth:`HUCalibration.from_csv`).

    Examples
    --------
    >>> default_calibration().stopping_power_ratio([0.0]).round(4).tolist()
    [1.0]
    """
    text = resources.files("rtwin.materials").joinpath("data/default_calibration.csv").read_text()
    return HUCalibration._from_text(
        text,
        name="rtwin generic (matRad HLUT, Schneider 2000)",
        origin="rtwin default",
        out_of_range=out_of_range,
    )
