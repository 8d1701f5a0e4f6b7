"""The installation's master key and the keys derived from it.

The master key comes from ``COREO_MASTER_KEY`` (32 bytes, base64) or, without it, from the
key file ``COREO_HOME/master.key``, created on first use (readable by its owner only).
It wraps the data keys and the keyring secret (``coreo.privacy.crypto``), from which the
keys of ``proof_hash`` (a consent's IP address and user agent, as proof that cannot be
reversed by trying every IPv4 address), tombstones and the blind index are derived with
HKDF-SHA256, so no two uses share a key and rotating the master key changes no hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from coreo.config import Settings
from coreo.errors import ConfigurationError

__all__ = [
    "derived_key",
    "forget_key_files",
    "master_key",
    "proof_hash",
    "read_key_file",
    "write_key_file",
]

KEY_BYTES = 32
_create_lock = threading.Lock()


def _from_text(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{where} is not base64") from None
    if len(key) != KEY_BYTES:
        raise ConfigurationError(f"{where} must hold {KEY_BYTES} bytes, not {len(key)}")
    return key


def master_key(settings: Settings) -> bytes:
    """The master key: from ``COREO_MASTER_KEY``, else the key file (created when absent)."""
    if settings.master_key is not None:
        return _from_text(settings.master_key.get_secret_value(), "COREO_MASTER_KEY")
    path = settings.home / "master.key"
    return _key_file(path.resolve())


@cache
def _key_file(path: Path) -> bytes:
    with _create_lock:
        if not path.exists():
            return write_key_file(path)
    return read_key_file(path)


def forget_key_files() -> None:
    """Read key files again on next use (after a rotation)."""
    _key_file.cache_clear()


def write_key_file(path: Path) -> bytes:
    """Make a new random key and write it to ``path`` (which must not exist), 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(KEY_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise ConfigurationError(f"cannot create the key file {path}: {error}") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(base64.b64encode(key) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key


def read_key_file(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"cannot read the master key file {path}: {error}") from None
    return _from_text(text, f"the master key file {path}")


def derived_key(master: bytes, purpose: str) -> bytes:
    """A key for one use (``purpose``, e.g. ``consent-proof``) derived from the master key."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=f"coreo/{purpose}".encode()
    ).derive(master)


def proof_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of ``value`` under ``key``, hex: the same value gives the same hash,
    and nobody without the key can test guesses against it."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
