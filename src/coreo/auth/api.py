"""Routes of the auth domain: the caller's workspace and its API keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from coreo.auth import service as auth_service
from coreo.auth.dependencies import KeyCache, get_principal
from coreo.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyRead,
    SecretKeyCreate,
    WhoAmI,
    WorkspaceRead,
    WorkspaceUpdate,
)
from coreo.auth.service import KeyKind, Principal
from coreo.errors import NotFoundError
from coreo.web.dependencies import AdminKey, CallerSession, require_json_body

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["auth"], dependencies=[Depends(require_json_body)])

AnyKey = Annotated[Principal, Depends(get_principal)]


def _current_workspace(session: Session, principal: Principal) -> WorkspaceRead:
    workspace = auth_service.get_workspace(session=session, workspace_id=principal.workspace_id)
    if workspace is None:  # deleted while the key was cached
        raise NotFoundError("this API key's workspace no longer exists")
    return WorkspaceRead.model_validate(workspace)


@router.get("/whoami", response_model=WhoAmI, summary="Describe the calling API key")
def whoami(principal: AnyKey, session: CallerSession) -> WhoAmI:
    return WhoAmI(
        workspace=_current_workspace(session, principal),
        key_id=principal.key_id,
        key_prefix=principal.key_prefix,
        kind=principal.kind,
        scopes=sorted(principal.scopes),
    )


@router.get("/workspace", response_model=WorkspaceRead, summary="Read the caller's workspace")
def read_workspace(principal: AnyKey, session: CallerSession) -> WorkspaceRead:
    return _current_workspace(session, principal)


@router.patch("/workspace", response_model=WorkspaceRead, summary="Rename the caller's workspace")
def update_workspace(
    body: WorkspaceUpdate, principal: AdminKey, session: CallerSession
) -> WorkspaceRead:
    workspace = auth_service.update_workspace(
        session=session,
        workspace_id=principal.workspace_id,
        display_name=body.display_name,
        actor=principal.actor,
    )
    return WorkspaceRead.model_validate(workspace)


@router.get("/keys", response_model=ApiKeyPage, summary="List the workspace's API keys")
def list_keys(
    principal: AdminKey,
    session: CallerSession,
    include_revoked: Annotated[bool, Query(description="Also list revoked keys.")] = False,
) -> ApiKeyPage:
    keys = auth_service.list_api_keys(
        session=session, workspace_id=principal.workspace_id, include_revoked=include_revoked
    )
    return ApiKeyPage(items=[ApiKeyRead.model_validate(k) for k in keys])


@router.post(
    "/keys",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Create an API key (the token is shown once)",
)
def create_key(
    body: ApiKeyCreate, principal: AdminKey, session: CallerSession, response: Response
) -> ApiKeyCreated:
    created = auth_service.create_api_key(
        session=session,
        workspace_id=principal.workspace_id,
        name=body.name,
        kind=KeyKind(body.kind),
        scopes=body.scopes if isinstance(body, SecretKeyCreate) else ["ingest"],
        actor=principal.actor,
        expires_in=timedelta(days=body.expires_in_days) if body.expires_in_days else None,
        rate_limit_per_second=body.rate_limit_per_second,
    )
    response.headers["Cache-Control"] = "no-store"
    read = ApiKeyRead.model_validate(created.key)
    return ApiKeyCreated(**read.model_dump(), token=created.token)


@router.get("/keys/{key_id}", response_model=ApiKeyRead, summary="Read one API key")
def read_key(key_id: str, principal: AdminKey, session: CallerSession) -> ApiKeyRead:
    key = auth_service.get_api_key(
        session=session, workspace_id=principal.workspace_id, key_ref=key_id
    )
    return ApiKeyRead.model_validate(key)


@router.delete("/keys/{key_id}", response_model=ApiKeyRead, summary="Revoke an API key")
def revoke_key(
    key_id: str, principal: AdminKey, session: CallerSession, request: Request
) -> ApiKeyRead:
    key = auth_service.revoke_api_key(
        session=session, workspace_id=principal.workspace_id, key_ref=key_id, actor=principal.actor
    )
    cache: KeyCache = request.app.state.key_cache
    cache.forget_key(key.id)
    return ApiKeyRead.model_validate(key)
