"""Routes of the audit trail (admin scope): read the workspace's chain and verify it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from coreo.audit import service as audit_service
from coreo.audit.schemas import AuditBreak, AuditEntryRead, AuditPage, AuditVerification
from coreo.web.dependencies import AdminKey, CallerSession

__all__ = ["router"]

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPage, summary="Read the workspace's audit trail")
def list_audit_entries(
    principal: AdminKey,
    session: CallerSession,
    after: Annotated[int, Query(ge=0, le=2**62, description="Return entries after this seq.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: Annotated[str | None, Query(max_length=100, description="e.g. api_key.created")] = None,
) -> AuditPage:
    entries = audit_service.list_entries(
        session=session, chain=principal.workspace_id, after_seq=after, limit=limit, action=action
    )
    items = [AuditEntryRead.model_validate(e) for e in entries]
    return AuditPage(items=items, next_after=items[-1].seq if len(items) == limit else None)


@router.get("/verify", response_model=AuditVerification, summary="Verify the hash chain")
def verify_audit_chain(principal: AdminKey, session: CallerSession) -> AuditVerification:
    report = audit_service.verify(session=session, chain=principal.workspace_id)
    return AuditVerification(
        ok=report.ok,
        checked=report.checked,
        breaks=[AuditBreak(seq=b.seq, reason=b.reason) for b in report.breaks],
    )
