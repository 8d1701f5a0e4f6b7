"""Routes of file imports (``ingest`` scope): upload a file, follow and resume its import.

The upload is kept under ``COREO_HOME/imports`` so an interrupted import can be resumed
(``POST /v1/imports/{id}/resume``) on the same server. The import itself runs in the
background; ``GET /v1/imports/{id}`` shows its progress.
"""

from __future__ import annotations

import logging
import shutil
import threading
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from coreo.auth.dependencies import require_scope
from coreo.auth.service import Principal
from coreo.config import Settings
from coreo.db import Database
from coreo.errors import InvalidInputError
from coreo.eventlog.base import EventLog
from coreo.ids import new_id
from coreo.ingest.imports import service
from coreo.ingest.imports.mapping import load_mapping
from coreo.ingest.imports.models import ImportJob
from coreo.ingest.imports.readers import Format, guess_format
from coreo.web.dependencies import CallerSession
from coreo.web.problems import ProblemError
from coreo.web.state import runtime

__all__ = ["BackgroundImports", "ImportJobRead", "router"]

_log = logging.getLogger("coreo.ingest.imports")
router = APIRouter(prefix="/v1/imports", tags=["imports"])
IngestKey = Annotated[Principal, Depends(require_scope("ingest"))]


class ImportJobRead(BaseModel):
    """An import job and how far it got."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    source: str
    file_name: str
    file_sha256: str
    file_bytes: int
    format: str
    status: Literal["pending", "running", "interrupted", "completed", "failed"]
    rows_read: int
    rows_accepted: int
    rows_duplicate: int
    rows_rejected: int
    resumed: int
    error: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class ImportJobPage(BaseModel):
    items: list[ImportJobRead]


class BackgroundImports:
    """Import jobs running in this server's threads; stopped (resumably) at shutdown."""

    def __init__(self, database: Database, log: EventLog, settings: Settings) -> None:
        self.database, self.log, self.settings = database, log, settings
        self.stop = threading.Event()
        self.threads: dict[str, threading.Thread] = {}

    def start(self, job: ImportJob) -> None:
        owner = service.new_owner()
        service.claim_job(self.database, workspace_id=job.workspace_id, job_id=job.id, owner=owner)
        thread = threading.Thread(
            target=self._run, args=(job, owner), name=f"coreo-import-{job.id}", daemon=True
        )
        self.threads[job.id] = thread
        thread.start()

    def _run(self, job: ImportJob, owner: str) -> None:
        try:
            service.run_job(
                self.database, self.log, self.settings, job=job, owner=owner, stop=self.stop
            )
        except Exception:  # the job records why; the server goes on
            _log.warning("import %s stopped with an error", job.id, exc_info=True)
        finally:
            self.threads.pop(job.id, None)

    def close(self, timeout: float = 10.0) -> None:
        self.stop.set()
        for thread in list(self.threads.values()):
            thread.join(timeout)


def _imports(request: Request) -> BackgroundImports:
    value = getattr(request.app.state, "imports", None)
    if not isinstance(value, BackgroundImports):
        raise ProblemError("service-unavailable", "imports are not enabled on this server")
    return value


def _load(database: Database, workspace_id: str, job_id: str) -> ImportJob:
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        job = service.get_job(session=session, workspace_id=workspace_id, job_id=job_id)
        session.expunge(job)
        return job


def _accepted(job: ImportJob) -> JSONResponse:
    body = ImportJobRead.model_validate(job).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": f"/v1/imports/{job.id}"})


def _store_upload(upload: UploadFile, folder: Path, fmt: Format) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{new_id('upl')}.{fmt}"
    upload.file.seek(0)
    with target.open("wb") as out:
        shutil.copyfileobj(upload.file, out, 1 << 20)
    return target


@router.post(
    "",
    status_code=202,
    response_model=ImportJobRead,
    summary="Upload a CSV, JSON Lines or Parquet file and import it in the background",
)
async def create_import(
    request: Request,
    principal: IngestKey,
    file: Annotated[UploadFile, File(description="The file (multipart form field).")],
    source: Annotated[
        str,
        Form(
            description="Where the data comes from, e.g. erp.",
            pattern=f"^{service.SOURCE_PATTERN.pattern}$",
        ),
    ],
    format: Annotated[
        Literal["csv", "jsonl", "parquet"] | None,
        Form(description="Default: from the file name."),
    ] = None,
    mapping: Annotated[
        str | None, Form(description="YAML or JSON mapping of columns to message fields.")
    ] = None,
    encoding: Annotated[str, Form(max_length=40)] = "utf-8-sig",
    delimiter: Annotated[str | None, Form(min_length=1, max_length=1)] = None,
) -> JSONResponse:
    """Rows that cannot be read, mapped or validated become dead letters with their row
    numbers. The source's tracking plan applies. Uploading the same file again returns the
    existing job (resumed if it was interrupted)."""
    imports = _imports(request)
    name = file.filename or "upload"
    fmt: Format = format or guess_format(name)
    parsed = load_mapping(mapping) if mapping else None
    settings = runtime(request).settings
    stored = await run_in_threadpool(_store_upload, file, settings.home / "imports", fmt)
    request_ = service.FileImport(
        path=stored,
        source=source,
        format=fmt,
        mapping=parsed,
        encoding=encoding,
        delimiter=delimiter,
        file_name=name,
    )
    try:
        job, _ = await run_in_threadpool(
            service.prepare_job,
            imports.database,
            workspace_id=principal.workspace_id,
            request=request_,
            actor=principal.actor,
            key_id=principal.key_id,
            stored_path=stored,
        )
    except Exception:
        stored.unlink(missing_ok=True)
        raise
    if job.stored_path != str(stored):
        stored.unlink(missing_ok=True)  # the same file again: its job keeps its own copy
    if job.status != "completed" and job.id not in imports.threads:
        await run_in_threadpool(imports.start, job)
    return _accepted(await run_in_threadpool(_load, imports.database, job.workspace_id, job.id))


@router.get("", response_model=ImportJobPage, summary="List recent imports, newest first")
def list_imports(
    principal: IngestKey,
    session: CallerSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ImportJobPage:
    jobs = service.list_jobs(session=session, workspace_id=principal.workspace_id, limit=limit)
    return ImportJobPage(items=[ImportJobRead.model_validate(j) for j in jobs])


@router.get("/{job_id}", response_model=ImportJobRead, summary="Read an import and its progress")
def read_import(job_id: str, principal: IngestKey, session: CallerSession) -> ImportJobRead:
    job = service.get_job(session=session, workspace_id=principal.workspace_id, job_id=job_id)
    return ImportJobRead.model_validate(job)


@router.post(
    "/{job_id}/resume",
    status_code=202,
    response_model=ImportJobRead,
    summary="Resume an interrupted import after its last committed row",
)
async def resume_import(job_id: str, request: Request, principal: IngestKey) -> JSONResponse:
    imports = _imports(request)
    job = await run_in_threadpool(_load, imports.database, principal.workspace_id, job_id)
    if job.status == "completed":
        raise InvalidInputError(f"import {job_id} is already complete")
    if job.stored_path is None or not Path(job.stored_path).is_file():
        raise InvalidInputError(
            f"import {job_id} was started from the command line; resume it there"
        )
    await run_in_threadpool(imports.start, job)
    return _accepted(await run_in_threadpool(_load, imports.database, job.workspace_id, job.id))
