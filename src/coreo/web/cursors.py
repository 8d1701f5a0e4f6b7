"""Opaque page cursors: a kind and a position, as URL-safe text that clients pass back.

A cursor is base64url of a JSON list ``[kind, *position]``. Clients must not build or read
them; a cursor that does not decode to the expected kind and shape is a ``400`` problem.
"""

from __future__ import annotations

import base64
import binascii

import orjson

from coreo.web.problems import ProblemError

__all__ = ["bad_cursor", "decode_cursor", "encode_cursor"]


def bad_cursor() -> ProblemError:
    """The ``400`` problem of a cursor that this listing did not give out."""
    return ProblemError(
        "malformed-request", "the cursor is not one this listing gave out; start again without it"
    )


def encode_cursor(kind: str, *position: str) -> str:
    """Return the cursor for ``position`` in a listing of ``kind``."""
    return base64.urlsafe_b64encode(orjson.dumps([kind, *position])).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, size: int) -> list[str]:
    """The position a cursor of ``kind`` holds (``size`` texts); raises a ``400`` problem
    when ``cursor`` is not one such cursor."""
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        decoded = None
    if (
        not isinstance(decoded, list)
        or len(decoded) != size + 1
        or decoded[0] != kind
        or not all(isinstance(part, str) and "\x00" not in part for part in decoded[1:])
    ):
        raise bad_cursor()
    return [str(part) for part in decoded[1:]]
