"""Importing files through ingestion: accepted rows, dead letters with row numbers,
idempotent re-imports, exact resumption, ownership and back-pressure."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select, update

from coreo.audit.models import AuditEntry
from coreo.config import Settings
from coreo.db import Database, utcnow
from coreo.errors import ConflictError, InvalidInputError
from coreo.eventlog.models import LogRecord
from coreo.eventlog.sql import SqlEventLog
from coreo.ingest.imports import service
from coreo.ingest.imports.mapping import load_mapping
from coreo.ingest.imports.models import ImportJob
from coreo.privacy import transit
from coreo.runtime.pipeline import default_stages
from coreo.runtime.worker import Worker
from tests.ingest.conftest import dead_letters, stored_events
from tests.ingest.imports.conftest import ERP_MAPPING, Importer, erp_csv


def _log_payloads(database: Database) -> list[dict[str, Any]]:
    with database.transaction(write=False) as session:
        rows = session.execute(select(LogRecord.workspace_id, LogRecord.payload)).all()
        return [orjson.loads(transit.open_record(session, ws, p)) for ws, p in rows]


def test_a_file_is_imported_with_bad_rows_as_dead_letters(
    run_import: Importer, database: Database, settings: Settings, tenant: Any, tmp_path: Path
) -> None:
    path = erp_csv(tmp_path / "kunden.csv", 250, bad={7: "zehn", 120: "1e400"})
    job = run_import(path)
    assert (job.status, job.rows_read, job.rows_accepted, job.rows_rejected) == (
        "completed",
        250,
        248,
        2,
    )
    Worker(database, SqlEventLog(database, settings.event_log_partitions), default_stages()).drain()
    events = {e["userId"]: e for e in stored_events(database, tenant.workspace_id)}
    assert len(events) == 248 and "erp-1007" not in events
    first = events["erp-1001"]
    assert first["traits"] == {"email": "kunde1@example.ch", "lifetime_value": 1.5}
    assert first["context"]["import"] == {"source": "erp", "job": job.id, "row": 1}
    assert first["context"]["externalIds"][0]["id"] == "1001"
    reasons = sorted(letter.reason for letter in dead_letters(database, tenant.workspace_id))
    assert reasons == [
        "row 120: traits.lifetime_value: '1e400' is not a finite number",
        "row 7: traits.lifetime_value: 'zehn' is not a number",
    ]
    letter = next(
        d for d in dead_letters(database, tenant.workspace_id) if d.reason.startswith("row 7")
    )
    assert orjson.loads(letter.payload)["row"] == {
        "Kundennr": "1007",
        "E_Mail": "kunde7@example.ch",
        "Umsatz": "zehn",
    }
    with database.transaction(write=False) as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.chain == tenant.workspace_id)
        ).all()
    assert "import.created" in actions and "import.completed" in actions


def test_rows_refused_by_validation_name_their_row(
    run_import: Importer, database: Database, tenant: Any, tmp_path: Path
) -> None:
    path = tmp_path / "k.csv"
    path.write_text("Kundennr;E_Mail;Umsatz\n1;a@b.ch;1\n;c@d.ch;2\n")
    job = run_import(path)
    assert (job.rows_accepted, job.rows_rejected) == (1, 1)
    (letter,) = dead_letters(database, tenant.workspace_id)
    assert letter.stage == "validation"
    assert letter.reason.startswith("row 2: identify: either userId or anonymousId is required")


def test_importing_the_same_file_again_is_skipped_or_all_duplicates(
    run_import: Importer, database: Database, tmp_path: Path
) -> None:
    path = erp_csv(tmp_path / "k.csv", 120)
    first = run_import(path)
    again = run_import(path)
    assert again.id == first.id and again.status == "completed"
    restarted = run_import(path, restart=True)
    assert restarted.id != first.id
    assert (restarted.rows_accepted, restarted.rows_duplicate) == (0, 120)
    assert len(_log_payloads(database)) == 120


def test_a_corrected_file_sends_only_new_and_changed_rows(
    run_import: Importer, database: Database, tmp_path: Path
) -> None:
    run_import(erp_csv(tmp_path / "v1.csv", 100, bad={5: "x"}))
    fixed = run_import(erp_csv(tmp_path / "v2.csv", 101))  # row 5 fixed, row 101 new
    assert (fixed.rows_accepted, fixed.rows_duplicate, fixed.rows_rejected) == (2, 99, 0)
    assert len(_log_payloads(database)) == 101


def test_an_interrupted_import_resumes_after_its_last_chunk(
    run_import: Importer, database: Database, tmp_path: Path
) -> None:
    path = erp_csv(tmp_path / "k.csv", 530, bad={444: "?"})
    stopped = run_import(path, stop_after_chunks=2)
    assert (stopped.status, stopped.rows_read) == ("interrupted", 200)
    resumed = run_import(path)
    assert resumed.id == stopped.id and resumed.status == "completed"
    assert (resumed.rows_read, resumed.rows_accepted, resumed.rows_duplicate) == (530, 529, 0)
    assert resumed.rows_rejected == 1 and resumed.resumed == 1
    rows = sorted(p["context"]["import"]["row"] for p in _log_payloads(database))
    assert rows == [n for n in range(1, 531) if n != 444]  # each row exactly once


def _prepared(database: Database, workspace_id: str, path: Path) -> tuple[ImportJob, Path]:
    request = service.FileImport(
        path=path, source="erp", format="csv", mapping=load_mapping(ERP_MAPPING)
    )
    job, _ = service.prepare_job(database, workspace_id=workspace_id, request=request, actor="t")
    return job, path


def test_a_running_import_cannot_be_taken_until_its_heartbeat_stops(
    database: Database, tenant: Any, tmp_path: Path
) -> None:
    job, _ = _prepared(database, tenant.workspace_id, erp_csv(tmp_path / "k.csv", 3))
    service.claim_job(database, workspace_id=tenant.workspace_id, job_id=job.id, owner="A")
    with pytest.raises(ConflictError, match="running in another process"):
        service.claim_job(database, workspace_id=tenant.workspace_id, job_id=job.id, owner="B")
    with database.transaction() as session:
        session.execute(
            update(ImportJob).values(updated_at=utcnow() - service.HEARTBEAT_TIMEOUT - timedelta(1))
        )
    service.claim_job(database, workspace_id=tenant.workspace_id, job_id=job.id, owner="B")


def test_a_taken_over_runner_stops_without_committing(
    database: Database, settings: Settings, tenant: Any, tmp_path: Path
) -> None:
    job, path = _prepared(database, tenant.workspace_id, erp_csv(tmp_path / "k.csv", 300))
    service.claim_job(database, workspace_id=tenant.workspace_id, job_id=job.id, owner="A")

    def steal(progress: service.Progress) -> None:
        if progress.rows_read == 100:  # after the first chunk, another process takes over
            with database.transaction() as session:
                session.execute(update(ImportJob).values(owner="B"))

    log = SqlEventLog(database, settings.event_log_partitions)
    with pytest.raises(ConflictError, match="taken over by another process"):
        service.run_job(
            database,
            log,
            settings,
            job=job,
            owner="A",
            progress=steal,
            path=path,
            chunk_rows=100,
        )
    assert len(_log_payloads(database)) == 100  # the second chunk rolled back


def test_a_mapping_naming_missing_columns_fails_the_job(
    run_import: Importer, database: Database, tmp_path: Path
) -> None:
    path = erp_csv(tmp_path / "k.csv", 3)
    with pytest.raises(InvalidInputError, match=r"lacks: traits.phone: 'Telefon'"):
        run_import(path, mapping=ERP_MAPPING + "  phone: Telefon\n")
    with database.transaction(write=False) as session:
        job = session.scalars(select(ImportJob)).one()
    assert job.status == "failed" and "Telefon" in (job.error or "")


def test_json_lines_and_parquet_import_without_a_mapping(
    run_import: Importer, database: Database, tmp_path: Path
) -> None:
    lines = tmp_path / "e.jsonl"
    lines.write_text(
        '{"type":"track","userId":"u1","event":"Viewed","messageId":"m-1"}\n'
        '{"type":"track","event":"Lost"}\n'
    )
    job = run_import(lines, mapping=None, source="web-archive")
    assert (job.rows_accepted, job.rows_rejected) == (1, 1)
    table = pa.table(
        {"type": ["identify", "identify"], "userId": ["u2", "u3"], "traits.age": [31, 42]}
    )
    pq.write_table(table, tmp_path / "p.parquet")
    job = run_import(tmp_path / "p.parquet", mapping=None, source="crm")
    assert job.rows_accepted == 2
    payloads = {p.get("userId"): p for p in _log_payloads(database)}
    assert payloads["u1"]["messageId"] == "m-1"  # the file's own id is kept
    assert payloads["u3"]["traits"] == {"age": 42}


def test_bad_source_names_are_refused(run_import: Importer, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="a source name is 1-100 lower-case"):
        run_import(erp_csv(tmp_path / "k.csv", 1), source="ERP System")


def test_an_import_waits_while_the_workers_are_behind(
    run_import: Importer, database: Database, settings: Settings, tmp_path: Path
) -> None:
    path = erp_csv(tmp_path / "k.csv", 400)
    result: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: result.update(job=run_import(path, ingest_max_lag=150)), daemon=True
    )
    thread.start()
    log = SqlEventLog(database, settings.event_log_partitions)
    deadline = time.monotonic() + 20
    while (
        time.monotonic() < deadline
        and log.lag("coreo-pipeline", 0)
        + sum(log.lag("coreo-pipeline", p) for p in range(1, log.partitions))
        < 200
    ):
        time.sleep(0.05)
    time.sleep(1.5)  # the importer is now waiting: nothing more arrives
    with database.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(LogRecord)) == 200
    assert thread.is_alive()
    Worker(database, log, default_stages()).drain()
    thread.join(20)
    assert result["job"].rows_accepted == 400
