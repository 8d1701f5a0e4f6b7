"""`coreo import` as a user runs it: progress, summary, kill -9 and resume, skip when done."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from coreo.db import Database
from coreo.eventlog.models import LogRecord
from coreo.ingest.imports.models import ImportJob
from tests.cli.test_cli import _env, coreo, invoke
from tests.ingest.imports.conftest import ERP_MAPPING, erp_csv


def _start(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "coreo", "import", *args],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _rows_read(database: Database) -> int:
    with database.transaction(write=False) as session:
        return int(session.scalar(select(func.coalesce(func.max(ImportJob.rows_read), 0))) or 0)


def _wait_for_rows(database: Database, process: subprocess.Popen[str], rows: int) -> None:
    deadline = time.monotonic() + 60
    while _rows_read(database) < rows:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the import made no progress"
        time.sleep(0.05)


def test_kill_9_then_the_same_command_resumes_exactly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    invoke(home, "init")
    data = erp_csv(tmp_path / "kunden.csv", 20_000)
    mapping = tmp_path / "erp.yml"
    mapping.write_text(ERP_MAPPING)
    args = (str(data), "--source", "erp", "--mapping", str(mapping), "--chunk-rows", "200")
    database = Database(f"sqlite:///{home / 'coreo.db'}")
    for _ in range(2):  # killed twice, mid-import
        process = _start(home, *args)
        _wait_for_rows(database, process, _rows_read(database) + 1_000)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)
    killed_at = _rows_read(database)
    assert 0 < killed_at < 20_000
    finished = coreo(home, "import", *args, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert "Resuming import imp_" in finished.stdout
    assert "20,000 rows: 20,000 accepted, 0 duplicates, 0 rejected" in finished.stdout
    with database.transaction(write=False) as session:
        payloads = session.scalars(select(LogRecord.payload)).all()
    assert len(payloads) == 20_000  # nothing appended twice, nothing lost
    again = coreo(home, "import", *args)
    assert again.returncode == 0 and "was already imported as imp_" in again.stdout
    database.dispose()


def test_sigterm_stops_after_the_current_chunk_and_says_how_to_resume(tmp_path: Path) -> None:
    home = tmp_path / "home"
    invoke(home, "init")
    data = erp_csv(tmp_path / "kunden.csv", 20_000)
    database = Database(f"sqlite:///{home / 'coreo.db'}")
    process = _start(home, str(data), "--source", "erp", "--format", "csv", "--chunk-rows", "100")
    _wait_for_rows(database, process, 500)
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "run the same command again to resume" in stdout
    with database.transaction(write=False) as session:
        job = session.scalars(select(ImportJob)).one()
        logged = session.scalar(select(func.count()).select_from(LogRecord))
    # Without a mapping the columns are message fields: these rows lack a type.
    assert job.status == "interrupted" and job.rows_rejected == job.rows_read and logged == 0
    database.dispose()


def test_bad_invocations_are_one_line_errors(tmp_path: Path) -> None:
    home = tmp_path / "home"
    invoke(home, "init")
    data = erp_csv(tmp_path / "k.csv", 1)
    bad_mapping = tmp_path / "bad.yml"
    bad_mapping.write_text("type: track\nuser_id: Kundennr\n")
    # (The readers' and mappings' own tests cover the other messages; each run costs a start.)
    for args, fragment in [
        ([str(tmp_path / "nope.csv"), "--source", "erp"], "no such file"),
        ([str(data), "--source", "erp", "--mapping", str(bad_mapping)], "needs 'event'"),
        ([str(data), "--source", "erp", "--format", "xml"], "choose one of csv, jsonl"),
    ]:
        result = coreo(home, "import", *args)
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert fragment in lines[0]
