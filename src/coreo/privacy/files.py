"""Files written with personal data: recorded when written (``record_export``), so that
erasure can rewrite them without a person (``rewrite_without``, atomic) and retention can
delete them when they expire."""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Collection
from pathlib import Path

from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.db import utcnow
from coreo.ids import new_id
from coreo.privacy.models import DataFile

__all__ = ["record_export", "rewrite_without", "whole_values"]


def record_export(
    session: Session, workspace_id: str, path: Path, *, rows: int, purpose: str, actor: str
) -> DataFile:
    """Remember an events export (audited as ``events.exported``)."""
    row = DataFile(
        id=new_id("dfl"),
        workspace_id=workspace_id,
        kind="events-export",
        path=str(path.resolve()),
        format="parquet",
        rows=rows,
        purpose=purpose,
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(row)
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="events.exported",
        target=f"file:{row.id}",
        details={"rows": rows, "purpose": purpose},
    )
    return row


def whole_values(needles: Collection[str]) -> re.Pattern[str]:
    """Matches any of ``needles`` as a whole value, case-insensitive: the customer number
    "4711" is found in "no. 4711." but not in "14711" or "A-4711"."""
    alternatives = "|".join(re.escape(n) for n in sorted(needles)) or "(?!)"
    return re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def _replace(path: Path, data: bytes) -> None:
    descriptor, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(scratch, path.stat().st_mode & 0o777)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def rewrite_without(path: Path, file_format: str, needles: Collection[str]) -> int:
    """Drop every row of ``path`` in which a needle occurs as a whole value
    (``whole_values``); return how many rows went. ``file_format``: parquet, csv or jsonl
    (one record a line)."""
    wanted = {n for n in needles if n}
    if not wanted or not path.exists():
        return 0
    if file_format == "parquet":
        return _rewrite_parquet(path, wanted)
    pattern = whole_values(wanted)
    if file_format == "csv":
        return _rewrite_csv(path, pattern)
    kept: list[bytes] = []
    dropped = 0
    with path.open("rb") as handle:
        for line in handle:
            if pattern.search(line.decode("utf-8", "replace")):
                dropped += 1
            else:
                kept.append(line)
    if dropped:
        _replace(path, b"".join(kept))
    return dropped


def _rewrite_csv(path: Path, pattern: re.Pattern[str]) -> int:
    text = path.read_bytes().decode("utf-8-sig", "replace")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    dropped = 0
    for row in csv.reader(io.StringIO(text, newline="")):
        if pattern.search("\x1f".join(row)):
            dropped += 1
        else:
            writer.writerow(row)
    if dropped:
        _replace(path, out.getvalue().encode())
    return dropped


def _rewrite_parquet(path: Path, needles: Collection[str]) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    # RE2 has no look-behind: the neighbouring characters are matched instead.
    alternatives = "|".join(re.escape(n) for n in sorted(needles))
    regex = rf"(?i)(?:^|[^\w.-])(?:{alternatives})(?:$|[^\w-])"
    table = pq.read_table(path)
    hit = pa.array([False] * table.num_rows)
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            found = pc.fill_null(pc.match_substring_regex(column, regex), False)
            hit = pc.or_(hit, found)
    dropped = int(pc.sum(hit).as_py() or 0)
    if dropped:
        sink = io.BytesIO()
        pq.write_table(table.filter(pc.invert(hit)), sink, compression="zstd")
        _replace(path, sink.getvalue())
    return dropped
