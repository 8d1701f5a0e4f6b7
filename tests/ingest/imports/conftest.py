"""Fixtures for imports: files to import and a runner that imports them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coreo.config import Settings
from coreo.db import Database
from coreo.eventlog.sql import SqlEventLog
from coreo.ids import new_id
from coreo.ingest.imports import service
from coreo.ingest.imports.mapping import load_mapping
from coreo.ingest.imports.models import ImportJob
from coreo.ingest.imports.readers import guess_format

ERP_MAPPING = """
type: identify
user_id: {template: "erp-{Kundennr}"}
external_ids: {erp_customer_no: Kundennr}
traits:
  email: E_Mail
  lifetime_value: {column: Umsatz, type: number}
"""


def erp_csv(path: Path, count: int, *, bad: dict[int, str] | None = None) -> Path:
    """``count`` customers; ``bad`` replaces a row's revenue cell (row number -> text)."""
    lines = ["Kundennr;E_Mail;Umsatz"]
    for n in range(1, count + 1):
        revenue = (bad or {}).get(n, f"{n}.50")
        lines.append(f"{1000 + n};kunde{n}@example.ch;{revenue}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


Importer = Callable[..., ImportJob]


@pytest.fixture
def run_import(database: Database, settings: Settings, tenant: Any) -> Importer:
    """Prepare, claim and run an import of ``path`` into the tenant's workspace."""

    def run(
        path: Path,
        *,
        mapping: str | None = ERP_MAPPING,
        source: str = "erp",
        stop_after_chunks: int | None = None,
        restart: bool = False,
        chunk_rows: int = 100,
        **overrides: Any,
    ) -> ImportJob:
        request = service.FileImport(
            path=path,
            source=source,
            format=guess_format(path.name),
            mapping=load_mapping(mapping) if mapping else None,
        )
        job, _ = service.prepare_job(
            database,
            workspace_id=tenant.workspace_id,
            request=request,
            actor="test",
            restart=restart,
        )
        if job.status == "completed":
            return job
        owner = new_id("own")
        service.claim_job(database, workspace_id=tenant.workspace_id, job_id=job.id, owner=owner)
        stop = threading.Event()
        seen = {"chunks": -1}

        def progress(_: service.Progress) -> None:
            seen["chunks"] += 1
            if stop_after_chunks is not None and seen["chunks"] >= stop_after_chunks:
                stop.set()

        log = SqlEventLog(database, settings.event_log_partitions)
        return service.run_job(
            database,
            log,
            settings.model_copy(update=overrides),
            job=job,
            owner=owner,
            path=path,
            progress=progress,
            stop=stop,
            chunk_rows=chunk_rows,
        )

    return run
