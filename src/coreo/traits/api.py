"""Routes of computed traits: define them, follow their back-fill, read values as of a time."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from coreo.auth.dependencies import require_scope
from coreo.auth.service import Principal
from coreo.db import Database
from coreo.errors import ConflictError, InvalidInputError, NotFoundError
from coreo.runtime.owners import new_owner
from coreo.traits import backfill, jobs, service
from coreo.traits.definitions import DefinitionError, parse
from coreo.traits.models import TraitBackfill, TraitDefinitionRow
from coreo.web.dependencies import CallerSession, require_json_body
from coreo.web.state import runtime

__all__ = ["BackgroundBackfills", "router"]

_log = logging.getLogger("coreo.traits")
router = APIRouter(prefix="/v1/computed-traits", tags=["computed traits"])
ReadKey = Annotated[Principal, Depends(require_scope("profiles:read"))]
WriteKey = Annotated[Principal, Depends(require_scope("profiles:write"))]
TraitName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class TraitRead(BaseModel):
    name: str
    version: int
    status: str = Field(description="backfilling (being rebuilt from history) or ready")
    definition: dict[str, Any]
    updated_at: datetime


class TraitPage(BaseModel):
    items: list[TraitRead]


class BackfillRead(BaseModel):
    id: str
    names: list[str]
    status: str
    phase: str
    events_read: int
    profiles_written: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TraitPut(BaseModel):
    trait: TraitRead
    backfill: BackfillRead | None = Field(description="Null when the definition is unchanged.")


class AsOfRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_ids: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        min_length=1, max_length=1000
    )
    at: AwareDatetime


class AsOfRead(BaseModel):
    at: datetime
    profiles: dict[str, dict[str, Any]] = Field(
        description="Profile id → trait → value at ``at``; unknown ids are left out."
    )


def _trait(row: TraitDefinitionRow) -> TraitRead:
    return TraitRead(
        name=row.name,
        version=row.version,
        status=row.status,
        definition=row.definition,
        updated_at=row.updated_at,
    )


def _backfill(job: TraitBackfill) -> BackfillRead:
    return BackfillRead(
        id=job.id,
        names=list(job.names),
        status=job.status,
        phase=job.phase,
        events_read=job.events_total,
        profiles_written=job.profiles_written,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


class BackgroundBackfills:
    """Back-fills running in this server's threads, each claimed with a heartbeat; at start
    the server takes over those a stopped runner left behind (``resume``)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.threads: dict[str, threading.Thread] = {}

    def start(self, workspace_id: str, job_id: str) -> None:
        """Claim the back-fill (ConflictError while another runner has it) and run it."""
        owner = new_owner()
        jobs.claim(self.database, workspace_id, job_id, owner)
        thread = threading.Thread(
            target=self._run,
            args=(workspace_id, job_id, owner),
            name=f"coreo-{job_id}",
            daemon=True,
        )
        self.threads[job_id] = thread
        thread.start()

    def resume(self) -> list[str]:
        """Run the back-fills that stopped runners left; returns their ids."""
        started = []
        for workspace_id, job_id in jobs.orphans(self.database):
            try:
                self.start(workspace_id, job_id)
            except (ConflictError, NotFoundError):  # another server was quicker
                continue
            _log.info("resuming back-fill %s left by a stopped runner", job_id)
            started.append(job_id)
        return started

    def _run(self, workspace_id: str, job_id: str, owner: str) -> None:
        try:
            with jobs.running(self.database, workspace_id, job_id, owner):
                backfill.run_backfill(self.database, workspace_id, job_id, owner=owner)
        except Exception:  # the job records why; the server goes on
            _log.warning("back-fill %s failed", job_id, exc_info=True)
        finally:
            self.threads.pop(job_id, None)

    def join(self, timeout: float = 30.0) -> None:
        for thread in list(self.threads.values()):
            thread.join(timeout)


def _backfills(request: Request) -> BackgroundBackfills:
    value = getattr(request.app.state, "backfills", None)
    if not isinstance(value, BackgroundBackfills):
        value = BackgroundBackfills(runtime(request).database)
        request.app.state.backfills = value
    return value


@router.get("", response_model=TraitPage, summary="List the workspace's computed traits")
def list_traits(principal: ReadKey, session: CallerSession) -> TraitPage:
    rows = service.definition_rows(session, principal.workspace_id)
    return TraitPage(items=[_trait(r) for r in rows])


@router.get("/backfills/{job_id}", response_model=BackfillRead, summary="Follow a back-fill")
def read_backfill(job_id: str, principal: ReadKey, session: CallerSession) -> BackfillRead:
    job = session.get(TraitBackfill, job_id)
    if job is None or job.workspace_id != principal.workspace_id:
        raise NotFoundError(f"no back-fill {job_id!r}")
    return _backfill(job)


@router.get("/{name}", response_model=TraitRead, summary="Read a computed trait's definition")
def read_trait(name: TraitName, principal: ReadKey, session: CallerSession) -> TraitRead:
    row = session.get(TraitDefinitionRow, (principal.workspace_id, name))
    if row is None:
        raise NotFoundError(f"no computed trait named {name!r}")
    return _trait(row)


@router.put(
    "/{name}",
    response_model=TraitPut,
    summary="Create or change a computed trait (back-filled from history)",
    dependencies=[Depends(require_json_body)],
    responses={201: {"description": "Created; the back-fill runs in the background."}},
)
async def put_trait(
    name: TraitName, body: dict[str, Any], request: Request, principal: WriteKey
) -> JSONResponse:
    """The body is a definition (see docs/computed-traits.md); ``name`` may be left out.
    A new or changed definition is back-filled from the event history; follow the
    returned back-fill until ``completed``. Until then the trait is ``backfilling``."""
    if body.get("name", name) != name:
        raise InvalidInputError("the body's name differs from the path's", field="body.name")
    try:
        definition = parse({**body, "name": name})
    except DefinitionError as error:
        raise InvalidInputError(str(error), field="body") from None
    database = runtime(request).database
    workspace_id = principal.workspace_id

    def put() -> tuple[TraitRead, BackfillRead | None, bool]:
        with database.transaction(workspace_id=workspace_id) as session:
            created = session.get(TraitDefinitionRow, (workspace_id, name)) is None
            try:
                change = service.put_definitions(
                    session, workspace_id, [definition], actor=principal.actor
                )
            except DefinitionError as error:
                raise InvalidInputError(str(error), field="body") from None
            job = (
                backfill.start_backfill(session, workspace_id, change.backfill)
                if (change.backfill)
                else None
            )
            session.flush()
            row = session.get(TraitDefinitionRow, (workspace_id, name))
            if row is None:  # pragma: no cover - written just above
                raise NotFoundError(f"no computed trait named {name!r}")
            return _trait(row), (_backfill(job) if job else None), created

    trait, job, created = await run_in_threadpool(put)
    if job is not None:
        await run_in_threadpool(_backfills(request).start, workspace_id, job.id)
    body_out = TraitPut(trait=trait, backfill=job).model_dump(mode="json")
    return JSONResponse(body_out, status_code=201 if created else 200)


@router.delete("/{name}", status_code=204, summary="Remove a computed trait and its values")
def delete_trait(name: TraitName, principal: WriteKey, session: CallerSession) -> Response:
    service.delete_definition(session, principal.workspace_id, name, actor=principal.actor)
    return Response(status_code=204)


@router.post(
    "/as-of",
    response_model=AsOfRead,
    summary="Computed traits of profiles as they were at a past time (leak-free features)",
    dependencies=[Depends(require_json_body)],
)
def features_as_of(body: AsOfRequest, principal: ReadKey, session: CallerSession) -> AsOfRead:
    """Only events stamped at or before ``at`` count, and a merged profile's events only if
    the merge happened by then: nothing after ``at`` leaks into a training row."""
    values = service.features_as_of(session, principal.workspace_id, body.profile_ids, body.at)
    return AsOfRead(at=body.at, profiles=values)
