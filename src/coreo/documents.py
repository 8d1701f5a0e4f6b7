"""Per-workspace configuration documents stored as JSON (identity rules, purposes): read
on every call, as text, so a change made by any process counts at once, and validated
only when the text differs from the last one seen (validation costs far more than the
read)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import orjson

__all__ = ["ParsedDocuments"]

T = TypeVar("T")


class ParsedDocuments(Generic[T]):
    """The last document seen per workspace, as text and parsed by ``parse``."""

    def __init__(self, parse: Callable[[Any], T]) -> None:
        self._parse = parse
        self._seen: dict[str, tuple[str, T]] = {}
        self._lock = threading.Lock()

    def get(self, workspace_id: str, stored: str) -> T:
        cached = self._seen.get(workspace_id)
        if cached is not None and cached[0] == stored:
            return cached[1]
        parsed = self._parse(orjson.loads(stored))
        with self._lock:
            self._seen[workspace_id] = (stored, parsed)
        return parsed
