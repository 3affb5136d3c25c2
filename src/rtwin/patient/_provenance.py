"""Provenance: where a result came from (inputs' hashes, software version, steps)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from rtwin._version import __version__

__all__ = ["Provenance", "hash_arrays", "hash_file"]


def hash_file(path: str | PathLike[str]) -> str:
    """SHA-256 of a file's bytes (hex), read in chunks; the file is opened read-only."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_arrays(*arrays: NDArray[np.generic]) -> str:
    """SHA-256 over arrays' dtypes, shapes and bytes (C order)."""
    digest = hashlib.sha256()
    for array in arrays:
        contiguous = np.ascontiguousarray(array)
        digest.update(str(contiguous.dtype).encode())
        digest.update(str(contiguous.shape).encode())
        digest.update(contiguous.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    """Where an object came from.

    Parameters
    ----------
    inputs
        ``(label, sha256)`` pairs of the input files or arrays.
    steps
        Plain-language steps applied, in order (``"read CT series ..."``,
        ``"pseudonymized patient ID"``, ``"repaired: ..."``).
    rtwin_version
        Version of rtwin that made the object.

    Examples
    --------
    >>> p = Provenance(inputs=(("phantom", "0" * 64),), steps=("built water box",))
    >>> p.with_step("resampled to 5 mm").steps
    ('built water box', 'resampled to 5 mm')
    """

    inputs: tuple[tuple[str, str], ...] = ()
    steps: tuple[str, ...] = ()
    rtwin_version: str = field(default=__version__)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple((str(a), str(b)) for a, b in self.inputs))
        object.__setattr__(self, "steps", tuple(str(s) for s in self.steps))

    @classmethod
    def from_files(cls, paths: Iterable[str | PathLike[str]], *, step: str) -> Provenance:
        """Provenance of objects read from ``paths`` (each file hashed)."""
        inputs = tuple((Path(p).name, hash_file(p)) for p in sorted(map(str, paths)))
        return cls(inputs=inputs, steps=(step,))

    def with_step(self, step: str) -> Provenance:
        """A copy with one more step."""
        return replace(self, steps=(*self.steps, step))

    def with_inputs(self, inputs: Mapping[str, str] | Iterable[tuple[str, str]]) -> Provenance:
        """A copy with more inputs."""
        items = inputs.items() if isinstance(inputs, Mapping) else inputs
        return replace(self, inputs=(*self.inputs, *items))

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form."""
        return {
            "rtwin_version": self.rtwin_version,
            "inputs": [{"label": a, "sha256": b} for a, b in self.inputs],
            "steps": list(self.steps),
        }
