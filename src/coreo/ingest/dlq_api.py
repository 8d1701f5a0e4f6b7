"""Routes of the dead-letter queue (admin scope): list, inspect, replay, purge."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request

from coreo.ingest import dlq
from coreo.ingest.normalize import NormaliseOptions
from coreo.ingest.schemas import (
    DeadLetterPage,
    DeadLetterRead,
    DeadLetterSummary,
    PurgeRequest,
    PurgeResult,
    ReplayRequest,
    ReplayResult,
)
from coreo.web.dependencies import AdminKey, CallerSession, require_json_body
from coreo.web.problems import ProblemError
from coreo.web.state import runtime

__all__ = ["router"]

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])


@router.get("", response_model=DeadLetterPage, summary="List dead letters, oldest first")
def list_dead_letters(
    principal: AdminKey,
    session: CallerSession,
    status: Annotated[Literal["open", "replayed"] | None, Query()] = "open",
    stage: Annotated[str | None, Query(max_length=40)] = None,
    event: Annotated[str | None, Query(max_length=200, description="Event name.")] = None,
    after: Annotated[
        str | None, Query(max_length=32, description="Continue after this id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeadLetterPage:
    letters = dlq.list_dead_letters(
        session=session,
        workspace_id=principal.workspace_id,
        status=status,
        stage=stage,
        event_name=event,
        after=after,
        limit=limit,
    )
    items = [DeadLetterSummary.model_validate(letter) for letter in letters]
    return DeadLetterPage(items=items, next_after=items[-1].id if len(items) == limit else None)


@router.get("/{letter_id}", response_model=DeadLetterRead, summary="Read one dead letter")
def read_dead_letter(letter_id: str, principal: AdminKey, session: CallerSession) -> DeadLetterRead:
    letter = dlq.get_dead_letter(
        session=session, workspace_id=principal.workspace_id, letter_id=letter_id
    )
    try:
        payload = orjson.loads(letter.payload)
    except orjson.JSONDecodeError:
        payload = letter.payload
    return DeadLetterRead.model_validate(
        {**DeadLetterSummary.model_validate(letter).model_dump(), "payload": payload}
    )


@router.post(
    "/replay",
    response_model=ReplayResult,
    summary="Replay dead letters from the stage that refused them",
    dependencies=[Depends(require_json_body)],
)
def replay_dead_letters(
    body: ReplayRequest, request: Request, principal: AdminKey, session: CallerSession
) -> ReplayResult:
    state = runtime(request)
    if state.event_log is None:
        raise ProblemError("service-unavailable", "the event log is not configured")
    settings = state.settings
    outcome = dlq.replay_dead_letters(
        session=session,
        log=state.event_log,
        workspace_id=principal.workspace_id,
        actor=principal.actor,
        options=NormaliseOptions.from_settings(settings),
        dedupe_window=timedelta(hours=settings.ingest_dedupe_hours),
        ids=body.ids,
        stage=body.stage,
        max_message_bytes=settings.ingest_max_message_bytes,
    )
    return ReplayResult(replayed=outcome.replayed, failed=outcome.failed)


@router.post(
    "/purge",
    response_model=PurgeResult,
    summary="Delete dead letters",
    dependencies=[Depends(require_json_body)],
)
def purge_dead_letters(
    body: PurgeRequest, principal: AdminKey, session: CallerSession
) -> PurgeResult:
    count = dlq.purge_dead_letters(
        session=session,
        workspace_id=principal.workspace_id,
        actor=principal.actor,
        ids=body.ids,
        status=body.status,
        before=body.before,
    )
    return PurgeResult(purged=count)
