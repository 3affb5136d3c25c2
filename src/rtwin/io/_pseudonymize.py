"""Keyed pseudonyms for patient identifiers (HMAC-SHA256)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from rtwin.errors import DicomError

__all__ = ["pseudonymize_id"]

#: Hex digits kept from the HMAC (128 bits: collisions are not a concern).
_PSEUDONYM_HEX_DIGITS = 32


def _key_bytes(key: bytes | str) -> bytes:
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, bytes | bytearray) or len(key) == 0:
        raise DicomError(
            "pseudonym_key must be a non-empty bytes or str secret (e.g. secrets.token_hex(32), "
            f"kept outside the data); got {type(key).__name__} of length "
            f"{len(key) if hasattr(key, '__len__') else '?'}"
        )
    return bytes(key)


def pseudonymize_id(original_id: str, key: bytes | str) -> str:
    """A keyed pseudonym of a patient identifier.

    The pseudonym is the first 32 hex digits of HMAC-SHA256(key, id): the
    same ID and key always give the same pseudonym (a study's files and
    later imports stay linked), while without the key the ID cannot be
    recovered or confirmed by hashing guesses.

    Parameters
    ----------
    original_id
        The identifier to replace (e.g. DICOM PatientID), compared exactly
        after stripping surrounding spaces (DICOM pads values).
    key
        The secret; keep it outside the data. At least 32 random bytes are
        recommended (``secrets.token_hex(32)``).

    Returns
    -------
    str
        32 lowercase hex digits.

    Raises
    ------
    DicomError
        An empty or non-bytes/str key.

    Notes
    -----
    :func:`read_dicom` uses this with its ``pseudonym_key``; without a key
    it draws a random key for each call, so pseudonyms of separate imports
    cannot be linked (nor re-identified) by anyone.

    Examples
    --------
    >>> from rtwin.io import pseudonymize_id
    >>> a = pseudonymize_id("MRN-0042", key="site secret")
    >>> a == pseudonymize_id("MRN-0042 ", key="site secret"), len(a)
    (True, 32)
    >>> a == pseudonymize_id("MRN-0042", key="another secret")
    False
    """
    secret = _key_bytes(key)
    digest = hmac.new(secret, str(original_id).strip().encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:_PSEUDONYM_HEX_DIGITS]


def random_key() -> bytes:
    """A fresh random 32-byte key (private; read_dicom without pseudonym_key)."""
    return secrets.token_bytes(32)
