"""Files written with personal data: recorded when written (``record_export``), so that
erasure can rewrite them without a person (``rewrite_without``, atomic) and retention can
delete them when they expire."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Collection
from pathlib import Path

from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.db import utcnow
from coreo.ids import new_id
from coreo.privacy.models import DataFile

__all__ = ["record_export", "rewrite_without"]


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


def _mentions(text: str, needles: Collection[str]) -> bool:
    folded = text.lower()
    return any(n in folded for n in needles)


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
    """Drop every row of ``path`` in which a needle occurs (case-insensitive); return how
    many rows went. ``file_format``: parquet, csv or jsonl (one record a line)."""
    folded = {n.lower() for n in needles if n}
    if not folded or not path.exists():
        return 0
    if file_format == "parquet":
        return _rewrite_parquet(path, folded)
    if file_format == "csv":
        return _rewrite_csv(path, folded)
    kept: list[bytes] = []
    dropped = 0
    with path.open("rb") as handle:
        for line in handle:
            if _mentions(line.decode("utf-8", "replace"), folded):
                dropped += 1
            else:
                kept.append(line)
    if dropped:
        _replace(path, b"".join(kept))
    return dropped


def _rewrite_csv(path: Path, needles: Collection[str]) -> int:
    text = path.read_bytes().decode("utf-8-sig", "replace")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    dropped = 0
    for row in csv.reader(io.StringIO(text, newline="")):
        if _mentions("\x1f".join(row), needles):
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

    table = pq.read_table(path)
    hit = pa.array([False] * table.num_rows)
    for column in table.columns:
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        for needle in needles:
            found = pc.fill_null(pc.match_substring(column, needle, ignore_case=True), False)
            hit = pc.or_(hit, found)
    dropped = int(pc.sum(hit).as_py() or 0)
    if dropped:
        sink = io.BytesIO()
        pq.write_table(table.filter(pc.invert(hit)), sink, compression="zstd")
        _replace(path, sink.getvalue())
    return dropped
