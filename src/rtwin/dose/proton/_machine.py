"""A proton spot-scanning machine description and the depth tables the engine interpolates."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from os import PathLike
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin._arrays import frozen
from rtwin.dose.proton._bragg import BortfeldParameters, BraggCurve
from rtwin.dose.proton._physics import ProtonPhysicsError, as_float_array, as_scalar
from rtwin.dose.proton._range_energy import PSTAR_ENERGY_RANGE_MEV, csda_range_mm
from rtwin.dose.proton._scattering import lateral_sigma_mcs_mm

__all__ = ["DepthDoseTable", "ProtonMachine"]

_COLUMNS = ("energy_mev", "spot_sigma_air_mm", "energy_spread_mev")
_METADATA_KEYS = ("name", "sad_mm")
_MAX_RELATIVE_SPREAD = 0.05


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ProtonMachine:
    """Beam data of a proton spot-scanning machine, per nominal energy.

    Parameters
    ----------
    name
        Name shown in provenance and reports.
    energies_mev
        Nominal energies in MeV, strictly increasing, within 10–300 MeV.
    spot_sigma_air_mm
        Spot size in air at isocentre: one-axis Gaussian σ in mm (> 0), per energy.
    energy_spread_mev
        Gaussian σ_E of the energy spectrum in MeV (0 to 5 % of the energy), per energy.
    sad_mm
        Virtual source–axis distance in mm (> 0), for both scanning directions.
    source
        Where the numbers come from.

    Notes
    -----
    Values between tabulated energies are interpolated linearly; energies
    outside the table raise. :meth:`generic` loads the shipped
    ``generic_proton_machine.csv``, a made-up machine for examples and tests
    (its header explains how the numbers were chosen): σ_air from 6.0 mm at
    70 MeV to 3.07 mm at 230 MeV, σ_E from 1.0 % to 0.4 % of E, SAD 2000 mm.
    It models no real machine.

    Examples
    --------
    >>> from rtwin.dose.proton import ProtonMachine
    >>> machine = ProtonMachine.generic()
    >>> machine.energy_range_mev
    (70.0, 230.0)
    >>> machine.spot_sigma_air_at([70.0, 230.0]).round(2).tolist()
    [6.0, 3.07]
    >>> round(machine.bragg_curve(150.0).r80_mm, 1)
    157.7
    """

    name: str
    energies_mev: NDArray[np.float64] = field(repr=False)
    spot_sigma_air_mm: NDArray[np.float64] = field(repr=False)
    energy_spread_mev: NDArray[np.float64] = field(repr=False)
    sad_mm: float
    source: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ProtonPhysicsError(f"machine name must be a non-empty string; got {self.name!r}")
        low, high = PSTAR_ENERGY_RANGE_MEV
        energies = as_float_array(
            "energies_mev",
            self.energies_mev,
            unit="MeV",
            minimum=low,
            maximum=high,
            hint="the range-energy table (PSTAR) covers 10 to 300 MeV",
        )
        sigma = as_float_array(
            "spot_sigma_air_mm",
            self.spot_sigma_air_mm,
            unit="mm",
            minimum=0.0,
            strict_minimum=True,
            hint="give the one-axis Gaussian sigma of the spot in air",
        )
        spread = as_float_array(
            "energy_spread_mev",
            self.energy_spread_mev,
            unit="MeV",
            minimum=0.0,
            hint="give the Gaussian sigma of the energy spectrum in MeV",
        )
        for label, array in (
            ("energies_mev", energies),
            ("spot_sigma_air_mm", sigma),
            ("energy_spread_mev", spread),
        ):
            if array.ndim != 1:
                raise ProtonPhysicsError(
                    f"machine {self.name!r}: {label} must be 1-D (one value per energy); "
                    f"got shape {array.shape}"
                )
        if not (energies.size == sigma.size == spread.size):
            raise ProtonPhysicsError(
                f"machine {self.name!r}: energies_mev, spot_sigma_air_mm and energy_spread_mev "
                f"must have one value per energy; got {energies.size}, {sigma.size}, {spread.size}"
            )
        if np.any(np.diff(energies) <= 0):
            bad = int(np.flatnonzero(np.diff(energies) <= 0)[0])
            raise ProtonPhysicsError(
                f"machine {self.name!r}: energies_mev must increase strictly; "
                f"{energies[bad + 1]:g} MeV follows {energies[bad]:g} MeV. Sort the rows"
            )
        too_wide = spread > _MAX_RELATIVE_SPREAD * energies
        if np.any(too_wide):
            index = int(np.flatnonzero(too_wide)[0])
            raise ProtonPhysicsError(
                f"machine {self.name!r}: energy_spread_mev {spread[index]:g} MeV at "
                f"{energies[index]:g} MeV exceeds {100 * _MAX_RELATIVE_SPREAD:g} % of the energy; "
                f"give the Gaussian sigma in MeV, not a percentage or a FWHM"
            )
        sad = as_scalar(
            "sad_mm",
            self.sad_mm,
            unit="mm",
            minimum=0.0,
            strict_minimum=True,
            hint="the virtual source-axis distance is a positive length in mm",
        )
        object.__setattr__(self, "energies_mev", frozen(energies))
        object.__setattr__(self, "spot_sigma_air_mm", frozen(sigma))
        object.__setattr__(self, "energy_spread_mev", frozen(spread))
        object.__setattr__(self, "sad_mm", sad)

    # ------------------------------------------------------------------ loaders
    @classmethod
    def generic(cls) -> ProtonMachine:
        """The generic machine shipped with rtwin (made up; see the class notes)."""
        return _generic_machine()

    @classmethod
    def from_csv(cls, path: str | PathLike[str]) -> ProtonMachine:
        """Read a machine from CSV.

        Format: columns ``energy_mev, spot_sigma_air_mm, energy_spread_mev``
        (one row per energy); lines starting with ``#`` are comments, except
        ``# name = ...`` and ``# sad_mm = ...``, which give the name and the
        source–axis distance (both required). The comment lines are kept as
        :attr:`source`.

        Raises
        ------
        ProtonPhysicsError
            A missing column or metadata line, an unreadable number or
            invalid values (see the class parameters).

        Examples
        --------
        >>> import pathlib, tempfile
        >>> from rtwin.dose.proton import ProtonMachine
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "machine.csv"
        >>> _ = path.write_text("# name = test\\n# sad_mm = 2500\\n"
        ...                     "energy_mev,spot_sigma_air_mm,energy_spread_mev\\n"
        ...                     "100,4.0,0.5\\n200,3.0,0.8\\n")
        >>> machine = ProtonMachine.from_csv(path)
        >>> machine.name, machine.sad_mm, machine.spot_sigma_air_at([150.0]).tolist()
        ('test', 2500.0, [3.5])
        """
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as error:
            raise ProtonPhysicsError(f"cannot read machine file {str(file)!r}: {error}") from None
        return _parse_machine_csv(text, origin=str(file))

    def to_csv(self, path: str | PathLike[str]) -> Path:
        """Write the machine in the format :meth:`from_csv` reads; returns the path."""
        lines = [f"# {line}" if line else "#" for line in self.source.splitlines()]
        lines = [line for line in lines if _metadata(line) is None]
        lines += [f"# name = {self.name}", f"# sad_mm = {self.sad_mm!r}", ",".join(_COLUMNS)]
        for row in zip(
            self.energies_mev, self.spot_sigma_air_mm, self.energy_spread_mev, strict=True
        ):
            lines.append(",".join(repr(float(value)) for value in row))
        file = Path(path)
        file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return file

    # ------------------------------------------------------------------ per-energy values
    @property
    def energy_range_mev(self) -> tuple[float, float]:
        """Lowest and highest energy of the table, MeV."""
        return float(self.energies_mev[0]), float(self.energies_mev[-1])

    def _check_energies(self, energy_mev: ArrayLike) -> NDArray[np.float64]:
        low, high = self.energy_range_mev
        return as_float_array(
            "energy_mev",
            energy_mev,
            unit="MeV",
            minimum=low,
            maximum=high,
            hint=f"machine {self.name!r} has energies {low:g} to {high:g} MeV",
        )

    def spot_sigma_air_at(self, energy_mev: ArrayLike) -> NDArray[np.float64]:
        """Spot σ in air at isocentre (mm), linearly interpolated in energy."""
        energy = self._check_energies(energy_mev)
        return np.interp(energy, self.energies_mev, self.spot_sigma_air_mm)

    def energy_spread_at(self, energy_mev: ArrayLike) -> NDArray[np.float64]:
        """Energy spread σ_E (MeV), linearly interpolated in energy."""
        energy = self._check_energies(energy_mev)
        return np.interp(energy, self.energies_mev, self.energy_spread_mev)

    def bragg_curve(
        self,
        energy_mev: float,
        *,
        tail_fraction: float = 0.0,
        parameters: BortfeldParameters | None = None,
    ) -> BraggCurve:
        """Bortfeld's Bragg curve of this machine at ``energy_mev`` (with its energy spread)."""
        spread = float(self.energy_spread_at(as_scalar("energy_mev", energy_mev, unit="MeV")))
        return BraggCurve(
            energy_mev=float(energy_mev),
            energy_spread_mev=spread,
            tail_fraction=tail_fraction,
            parameters=BortfeldParameters() if parameters is None else parameters,
        )

    def depth_dose_table(
        self,
        energies_mev: ArrayLike | None = None,
        *,
        depth_step_mm: float = 0.25,
        max_depth_mm: float | None = None,
    ) -> DepthDoseTable:
        """Tabulate IDD and σ_MCS on a common depth grid for the engine to interpolate.

        Parameters
        ----------
        energies_mev
            Energies (MeV) within the machine's range; all tabulated energies when omitted.
        depth_step_mm
            Spacing of the water-equivalent depth grid, mm (> 0, ≤ 5). The grid
            starts at 0. With linear interpolation the 0.25 mm default
            reproduces the peaks of the generic machine to better than
            0.5 % (tested; 0.3 % at worst); halve it for pristine peaks of lower
            energies or smaller energy spread.
        max_depth_mm
            Last depth of the grid (mm); by default the deepest depth where any
            of the curves is non-zero (R₀ + 10 σ), rounded up to a grid point.

        Returns
        -------
        DepthDoseTable
            Arrays (n_energies, n_depths) of IDD (MeV/mm per proton) and
            σ_MCS (mm), plus per-energy σ_air, σ_E, R₀, R80 and peak depth.

        Examples
        --------
        >>> from rtwin.dose.proton import ProtonMachine
        >>> table = ProtonMachine.generic().depth_dose_table([100.0, 150.0], depth_step_mm=1.0)
        >>> table.idd_mev_per_mm.shape, table.r80_mm.round(1).tolist()
        ((2, 184), [77.2, 157.7])
        """
        energies = (
            self.energies_mev.copy()
            if energies_mev is None
            else np.atleast_1d(self._check_energies(energies_mev))
        )
        if energies.ndim != 1:
            raise ProtonPhysicsError(f"energies_mev must be 1-D; got shape {energies.shape}")
        step = as_scalar(
            "depth_step_mm",
            depth_step_mm,
            unit="mm",
            minimum=0.0,
            maximum=5.0,
            strict_minimum=True,
            hint="0.1 to 1 mm is usual",
        )
        curves = [self.bragg_curve(float(energy)) for energy in energies]
        cutoffs = np.array([curve.max_depth_mm for curve in curves])
        if max_depth_mm is None:
            last = float(cutoffs.max())
        else:
            last = as_scalar(
                "max_depth_mm", max_depth_mm, unit="mm", minimum=0.0, strict_minimum=True
            )
        n_depths = math.ceil(last / step - 1e-9) + 1
        depths = np.arange(n_depths) * step
        idd = np.stack([curve.idd_mev_per_mm(depths) for curve in curves])
        peaks = [curve._peak() for curve in curves]  # (depth, IDD) of each maximum
        sigma_mcs = lateral_sigma_mcs_mm(depths[None, :], energies[:, None])
        return DepthDoseTable(
            energies_mev=energies,
            depths_mm=depths,
            idd_mev_per_mm=idd,
            sigma_mcs_mm=sigma_mcs,
            spot_sigma_air_mm=self.spot_sigma_air_at(energies),
            energy_spread_mev=self.energy_spread_at(energies),
            csda_range_mm=csda_range_mm(energies),
            r80_mm=np.array(
                [c._distal_depth(0.8, peak) for c, peak in zip(curves, peaks, strict=True)]
            ),
            peak_depth_mm=np.array([peak[0] for peak in peaks]),
            max_depth_mm=cutoffs,
            sad_mm=self.sad_mm,
        )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class DepthDoseTable:
    """Per-energy depth tables of a proton machine, for the pencil-beam engine.

    Depth is water-equivalent depth (WED) in mm on a uniform grid from 0.
    The engine interpolates along depth: dose per proton at lateral distance
    r is IDD(WED) · G(r; σ) · 1.602176634e-7 Gy·mm³/MeV, with
    G(r; σ) = exp(−r²/2σ²)/(2πσ²) and σ² = σ_air² + σ_MCS²(WED).

    Parameters
    ----------
    energies_mev
        Shape (n_e,), MeV.
    depths_mm
        Shape (n_d,), uniform, starting at 0, mm of water.
    idd_mev_per_mm
        Shape (n_e, n_d): Bortfeld integral depth dose, MeV/mm per proton (≥ 0).
    sigma_mcs_mm
        Shape (n_e, n_d): multiple-scattering σ (mm), constant beyond R₀.
    spot_sigma_air_mm, energy_spread_mev, csda_range_mm, r80_mm, peak_depth_mm
        Shape (n_e,): σ_air at isocentre (mm), σ_E (MeV), PSTAR range R₀,
        R80 and Bragg-peak depth (mm).
    max_depth_mm
        Shape (n_e,): depth beyond which the IDD is exactly zero (R₀ + 10 σ).
    sad_mm
        Virtual source–axis distance (mm).

    Examples
    --------
    >>> from rtwin.dose.proton import ProtonMachine
    >>> table = ProtonMachine.generic().depth_dose_table([150.0], depth_step_mm=0.5)
    >>> round(table.depth_step_mm, 3), table.lateral_sigma_mm.shape
    (0.5, (1, 367))
    """

    energies_mev: NDArray[np.float64] = field(repr=False)
    depths_mm: NDArray[np.float64] = field(repr=False)
    idd_mev_per_mm: NDArray[np.float64] = field(repr=False)
    sigma_mcs_mm: NDArray[np.float64] = field(repr=False)
    spot_sigma_air_mm: NDArray[np.float64] = field(repr=False)
    energy_spread_mev: NDArray[np.float64] = field(repr=False)
    csda_range_mm: NDArray[np.float64] = field(repr=False)
    r80_mm: NDArray[np.float64] = field(repr=False)
    peak_depth_mm: NDArray[np.float64] = field(repr=False)
    max_depth_mm: NDArray[np.float64] = field(repr=False)
    sad_mm: float

    def __post_init__(self) -> None:
        energies = as_float_array(
            "energies_mev", self.energies_mev, unit="MeV", minimum=0.0, strict_minimum=True
        )
        depths = as_float_array("depths_mm", self.depths_mm, unit="mm", minimum=0.0)
        if energies.ndim != 1 or depths.ndim != 1 or depths.size < 2:
            raise ProtonPhysicsError(
                f"energies_mev must be 1-D and depths_mm 1-D with >= 2 points; got shapes "
                f"{energies.shape} and {depths.shape}"
            )
        steps = np.diff(depths)
        if (
            depths[0] != 0.0
            or steps[0] <= 0
            or not np.allclose(steps, steps[0], rtol=1e-9, atol=1e-12)
        ):
            raise ProtonPhysicsError("depths_mm must be a uniform increasing grid starting at 0 mm")
        values: dict[str, NDArray[np.float64]] = {"energies_mev": energies, "depths_mm": depths}
        for name in ("idd_mev_per_mm", "sigma_mcs_mm"):
            array = as_float_array(name, getattr(self, name), unit="", minimum=0.0)
            if array.shape != (energies.size, depths.size):
                raise ProtonPhysicsError(
                    f"{name} must have shape (n_energies, n_depths) = "
                    f"{(energies.size, depths.size)}; got {array.shape}"
                )
            values[name] = array
        for name in (
            "spot_sigma_air_mm",
            "energy_spread_mev",
            "csda_range_mm",
            "r80_mm",
            "peak_depth_mm",
            "max_depth_mm",
        ):
            array = as_float_array(name, getattr(self, name), unit="", minimum=0.0)
            if array.shape != energies.shape:
                raise ProtonPhysicsError(
                    f"{name} must have one value per energy, shape {energies.shape}; "
                    f"got {array.shape}"
                )
            values[name] = array
        for name, array in values.items():
            object.__setattr__(self, name, frozen(array))
        object.__setattr__(
            self,
            "sad_mm",
            as_scalar("sad_mm", self.sad_mm, unit="mm", minimum=0.0, strict_minimum=True),
        )

    def __repr__(self) -> str:
        low, high = float(self.energies_mev[0]), float(self.energies_mev[-1])
        return (
            f"DepthDoseTable({self.energies_mev.size} energies {low:g}-{high:g} MeV, "
            f"{self.depths_mm.size} depths 0-{float(self.depths_mm[-1]):g} mm "
            f"step {self.depth_step_mm:g} mm, sad_mm={self.sad_mm:g})"
        )

    @property
    def depth_step_mm(self) -> float:
        """Spacing of the depth grid, mm."""
        return float(self.depths_mm[1] - self.depths_mm[0])

    @property
    def lateral_sigma_mm(self) -> NDArray[np.float64]:
        """σ = √(σ_air² + σ_MCS²), shape (n_energies, n_depths), mm (a new array)."""
        return np.sqrt(self.spot_sigma_air_mm[:, None] ** 2 + self.sigma_mcs_mm**2)


def _metadata(line: str) -> tuple[str, str] | None:
    """('key', 'value') of a ``# key = value`` metadata comment, else None."""
    body = line.lstrip("#").strip()
    key, separator, value = body.partition("=")
    if separator and key.strip() in _METADATA_KEYS:
        return key.strip(), value.strip()
    return None


def _parse_machine_csv(text: str, *, origin: str) -> ProtonMachine:
    metadata: dict[str, str] = {}
    comments: list[str] = []
    rows: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            found = _metadata(line)
            if found is not None:
                metadata[found[0]] = found[1]
            else:
                comments.append(line[1:].strip())
        elif line.strip():
            rows.append(line)
    missing_keys = [key for key in _METADATA_KEYS if key not in metadata]
    if missing_keys:
        raise ProtonPhysicsError(
            f"machine file {origin!r} lacks the metadata line(s) "
            f"{', '.join(f'# {key} = ...' for key in missing_keys)}; add them above the header"
        )
    reader = csv.DictReader(io.StringIO("\n".join(rows)))
    columns = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in _COLUMNS if name not in columns]
    if missing:
        raise ProtonPhysicsError(
            f"machine file {origin!r} lacks column(s) {missing}; it has {columns}. "
            f"Expected header: {','.join(_COLUMNS)}"
        )
    data: dict[str, list[float]] = {name: [] for name in _COLUMNS}
    for number, row in enumerate(reader, start=2):
        for name in _COLUMNS:
            cell = (row.get(name) or "").strip()
            try:
                data[name].append(float(cell))
            except ValueError:
                raise ProtonPhysicsError(
                    f"machine file {origin!r}, data row {number - 1}: {name} {cell!r} is not a number"
                ) from None
    try:
        sad = float(metadata["sad_mm"])
    except ValueError:
        raise ProtonPhysicsError(
            f"machine file {origin!r}: sad_mm {metadata['sad_mm']!r} is not a number in mm"
        ) from None
    return ProtonMachine(
        name=metadata["name"],
        energies_mev=np.array(data["energy_mev"]),
        spot_sigma_air_mm=np.array(data["spot_sigma_air_mm"]),
        energy_spread_mev=np.array(data["energy_spread_mev"]),
        sad_mm=sad,
        source="\n".join(comments).strip(),
    )


@cache
def _generic_machine() -> ProtonMachine:
    text = (
        resources.files("rtwin.dose.proton")
        .joinpath("data/generic_proton_machine.csv")
        .read_text(encoding="utf-8")
    )
    return _parse_machine_csv(text, origin="rtwin/dose/proton/data/generic_proton_machine.csv")
