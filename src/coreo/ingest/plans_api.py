"""Routes of tracking plans (admin scope): one plan per write key, and its violations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from coreo.auth import service as auth_service
from coreo.auth.service import Principal
from coreo.ingest import plans
from coreo.ingest.schemas import (
    PlanViolationPage,
    PlanViolationRead,
    TrackingPlanRead,
    TrackingPlanWrite,
    ViolationCount,
    ViolationSummary,
)
from coreo.web.dependencies import AdminKey, CallerSession, require_json_body

__all__ = ["router"]

router = APIRouter(prefix="/v1/tracking-plans", tags=["tracking plans"])

KeyRef = Annotated[str, "A write key's id (key_...) or public prefix (coreo_wk_...)."]


def _key_id(session: Session, principal: Principal, key_ref: str) -> str:
    key = auth_service.get_api_key(
        session=session, workspace_id=principal.workspace_id, key_ref=key_ref
    )
    return key.id


@router.put(
    "/{key_ref}",
    response_model=TrackingPlanRead,
    summary="Create or replace a source's tracking plan",
    dependencies=[Depends(require_json_body)],
)
def update_tracking_plan(
    key_ref: KeyRef, body: TrackingPlanWrite, principal: AdminKey, session: CallerSession
) -> TrackingPlanRead:
    plan = plans.put_plan(
        session=session,
        workspace_id=principal.workspace_id,
        key_id=_key_id(session, principal, key_ref),
        mode=body.mode,
        events=body.events,
        traits=body.traits,
        allow_unplanned=body.allow_unplanned,
        actor=principal.actor,
    )
    return TrackingPlanRead.model_validate(plan)


@router.get("/{key_ref}", response_model=TrackingPlanRead, summary="Read a tracking plan")
def read_tracking_plan(
    key_ref: KeyRef, principal: AdminKey, session: CallerSession
) -> TrackingPlanRead:
    plan = plans.get_plan(
        session=session,
        workspace_id=principal.workspace_id,
        key_id=_key_id(session, principal, key_ref),
    )
    return TrackingPlanRead.model_validate(plan)


@router.delete(
    "/{key_ref}", status_code=204, response_class=Response, summary="Remove a tracking plan"
)
def delete_tracking_plan(key_ref: KeyRef, principal: AdminKey, session: CallerSession) -> None:
    plans.delete_plan(
        session=session,
        workspace_id=principal.workspace_id,
        key_id=_key_id(session, principal, key_ref),
        actor=principal.actor,
    )


@router.get(
    "/{key_ref}/violations",
    response_model=PlanViolationPage,
    summary="List a source's plan violations, oldest first",
)
def list_plan_violations(
    key_ref: KeyRef,
    principal: AdminKey,
    session: CallerSession,
    event: Annotated[str | None, Query(max_length=200, description="Event name.")] = None,
    after: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> PlanViolationPage:
    found = plans.list_violations(
        session=session,
        workspace_id=principal.workspace_id,
        key_id=_key_id(session, principal, key_ref),
        event_name=event,
        after=after,
        limit=limit,
    )
    items = [PlanViolationRead.model_validate(v) for v in found]
    return PlanViolationPage(items=items, next_after=items[-1].id if len(items) == limit else None)


@router.get(
    "/{key_ref}/violations/summary",
    response_model=ViolationSummary,
    summary="Count a source's plan violations per event name",
)
def summarise_plan_violations(
    key_ref: KeyRef, principal: AdminKey, session: CallerSession
) -> ViolationSummary:
    rows = plans.violation_summary(
        session=session,
        workspace_id=principal.workspace_id,
        key_id=_key_id(session, principal, key_ref),
    )
    return ViolationSummary(
        items=[ViolationCount(event_name=n, violations=c, latest=t) for n, c, t in rows]
    )
