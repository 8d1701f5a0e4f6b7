"""External merge sort of output lines by time, in bounded memory.

Units (households, fraud rings) are simulated one after another, so their events arrive
grouped by unit. Files people ingest should be in time order, like a real event stream.
Lines are buffered up to ``run_lines``, sorted and spilled to run files. Runs are merged in
tiers: ``fan_in`` runs of one tier become one run of the next, so every line is rewritten
once per tier (logarithmic in the number of runs) and memory stays flat however many
customers are simulated.
Keys are fixed-width integers prefixed to the line, so merging compares bytes and never
parses JSON; ties fall back to the line's bytes, which keeps the order deterministic.
"""

from __future__ import annotations

import heapq
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

__all__ = ["ExternalSorter"]

_KEY_WIDTH = 16  # digits; milliseconds since 1970 fit until the year 318857


class ExternalSorter:
    """Collect ``(key, line)`` pairs and give the lines back ordered by key.

    Args:
        directory: where run files go (a private temporary directory is made inside).
        run_lines: lines held in memory before a run is spilled.
        fan_in: runs merged at once (bounds open files).
    """

    def __init__(self, directory: Path, *, run_lines: int = 200_000, fan_in: int = 32) -> None:
        if run_lines < 1 or fan_in < 2:
            raise ValueError("run_lines must be >= 1 and fan_in >= 2")
        self._dir = Path(tempfile.mkdtemp(prefix="coreo-sort-", dir=directory))
        self._run_lines = run_lines
        self._fan_in = fan_in
        self._buffer: list[bytes] = []
        self._runs: list[tuple[int, Path]] = []  # (tier, path)
        self._counter = 0
        self.count = 0

    def add(self, key: int, line: bytes) -> None:
        """Add one line (without its newline) under a non-negative integer key."""
        self._buffer.append(b"%016d%s\n" % (key, line))
        self.count += 1
        if len(self._buffer) >= self._run_lines:
            self._spill()

    def _new_run(self) -> Path:
        self._counter += 1
        return self._dir / f"run-{self._counter:06d}"

    def _spill(self) -> None:
        self._buffer.sort()
        path = self._new_run()
        with path.open("wb") as out:
            out.writelines(self._buffer)
        self._buffer = []
        self._runs.append((0, path))
        tier = 0
        while True:
            group = [p for t, p in self._runs if t == tier]
            if len(group) < self._fan_in:
                break
            self._runs = [(t, p) for t, p in self._runs if t != tier]
            self._runs.append((tier + 1, self._merge(group)))
            tier += 1

    def _merge(self, group: list[Path]) -> Path:
        path = self._new_run()
        with ExitStack() as stack, path.open("wb") as out:
            files: list[BinaryIO] = [stack.enter_context(p.open("rb")) for p in group]
            out.writelines(heapq.merge(*files))
        for done in group:
            done.unlink()
        return path

    def lines(self) -> Iterator[bytes]:
        """Yield every line (without key, with its newline) in key order, then clean up."""
        self._buffer.sort()
        try:
            with ExitStack() as stack:
                files: list[BinaryIO] = [stack.enter_context(p.open("rb")) for _, p in self._runs]
                for line in heapq.merge(*files, self._buffer):
                    yield line[_KEY_WIDTH:]
        finally:
            self.close()

    def close(self) -> None:
        self._buffer = []
        shutil.rmtree(self._dir, ignore_errors=True)
