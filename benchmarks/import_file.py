"""Benchmark: `coreo import` of a large CSV (ERP customer master) into embedded SQLite.

Prints, in one run:

1. the import rate (rows/s) through mapping, validation, normalisation, de-duplication
   and the event log, and its ratio to a raw baseline measured in the same run: the same
   CSV parsed with the csv module and bulk-inserted into a SQLite table (executemany, one
   transaction per 500 rows), with no mapping and no validation;
2. the process's resident memory after every tenth of the file, to show that memory does
   not grow with the file (issue 4: 1,000,000 rows without memory growth).

Run: .venv/bin/python benchmarks/import_file.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from coreo.auth import service as auth_service
from coreo.config import get_settings
from coreo.db import Database
from coreo.eventlog.sql import SqlEventLog
from coreo.ingest.imports import service
from coreo.ingest.imports.mapping import load_mapping

MAPPING = """
type: identify
anonymous_id: {template: "erp-{customer_no}"}
external_ids: {erp_customer_no: customer_no}
timestamp: {column: updated_at, type: date}
traits:
  firstName: first_name
  lastName: last_name
  birthday: {column: birth_date, type: date, format: "%d.%m.%Y"}
  address.city: city
  email: email
  phone: phone
  lifetime_value: {column: revenue, type: number, thousands: "'"}
  newsletter: {column: newsletter, type: boolean}
"""
COLUMNS = (
    "customer_no",
    "first_name",
    "last_name",
    "birth_date",
    "city",
    "email",
    "phone",
    "revenue",
    "newsletter",
    "updated_at",
)
HEADER = ";".join(COLUMNS)
INSERT = "INSERT INTO raw VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
CITIES = ("Zürich", "Genève", "Lugano", "Bern", "Basel", "St. Gallen", "Luzern", "Sion")


def _write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        for n in range(1, rows + 1):
            out.write(
                f"{100000 + n};Anna{n % 97};Muster{n % 389};{1 + n % 28:02}.{1 + n % 12:02}."
                f"{1940 + n % 60};{CITIES[n % 8]};kunde{n}@example.ch;079 {n % 1000:03} "
                f"{n % 100:02} {n % 97:02};{n % 9}'{n % 1000:03}.{n % 100:02};"
                f"{'ja' if n % 3 else 'nein'};2025-{1 + n % 12:02}-{1 + n % 28:02}\n"
            )


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _baseline(path: Path, work: Path) -> float:
    """Rows/s: csv module + executemany into SQLite, 500 rows a transaction."""
    connection = sqlite3.connect(work / "raw.db")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE raw (" + ", ".join(f"{c} TEXT" for c in COLUMNS) + ")")
    started = time.perf_counter()
    count = 0
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=";")
        next(reader)
        chunk: list[list[str]] = []
        for row in reader:
            chunk.append(row)
            if len(chunk) == 500:
                with connection:
                    connection.executemany(INSERT, chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            with connection:
                connection.executemany(INSERT, chunk)
            count += len(chunk)
    seconds = time.perf_counter() - started
    connection.close()
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coreo-import-bench-") as tmp:
        work = Path(tmp)
        path = work / "erp_customers.csv"
        _write_csv(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        print(f"file: {args.rows:,} rows, {size_mb:,.0f} MB")
        raw_rate = _baseline(path, work)

        settings = get_settings(home=work / "home", ingest_max_lag=0, log_level="WARNING")
        database = Database.from_settings(settings)
        database.migrate()
        with database.transaction() as session:
            ws = auth_service.create_workspace(session=session, slug="bench", actor="bench")
            workspace_id = ws.id
        log = SqlEventLog(database, settings.event_log_partitions)
        request = service.FileImport(
            path=path, source="erp", format="csv", mapping=load_mapping(MAPPING)
        )
        job, _ = service.prepare_job(
            database, workspace_id=workspace_id, request=request, actor="bench"
        )
        owner = service.new_owner()
        service.claim_job(database, workspace_id=workspace_id, job_id=job.id, owner=owner)
        samples: list[tuple[int, float]] = []
        next_mark = [args.rows // 10]

        def progress(p: service.Progress) -> None:
            if p.rows_read >= next_mark[0]:
                samples.append((p.rows_read, _rss_mb()))
                next_mark[0] += args.rows // 10

        started = time.perf_counter()
        done = service.run_job(
            database,
            log,
            settings,
            job=job,
            owner=owner,
            path=path,
            progress=progress,
            stop=threading.Event(),
            chunk_rows=args.chunk_rows,
        )
        seconds = time.perf_counter() - started
        rate = done.rows_read / seconds
        print(
            f"import:   {done.rows_read:,} rows in {seconds:,.1f} s = {rate:,.0f} rows/s "
            f"({done.rows_accepted:,} accepted, {done.rows_rejected:,} rejected)"
        )
        print(f"baseline: {raw_rate:,.0f} rows/s (csv module + executemany, no validation)")
        print(f"ratio:    {rate / raw_rate:.3f} of the baseline")
        print("resident memory (MB) after rows read:")
        for rows, rss in samples:
            print(f"  {rows:>12,}  {rss:8.1f}")
        if len(samples) >= 2:
            growth = samples[-1][1] - samples[0][1]
            print(
                f"growth from the first tenth to the end: {growth:+.1f} MB "
                f"({growth / samples[0][1] * 100:+.1f} %)"
            )
        database.dispose()


if __name__ == "__main__":
    main()
