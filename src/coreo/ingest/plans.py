"""Tracking plans: the events (and their properties) and traits a source may send.

A plan belongs to one write key (a source). Each planned event has a JSON Schema (Draft
2020-12) for its ``properties``; ``traits`` is the schema of identify traits. Modes:

* ``off``: not checked;
* ``warn``: the event is kept and each violation is recorded (queryable per event name);
* ``block``: the event becomes a dead letter (stage ``tracking_plan``) with the reasons;
  after the plan is fixed it can be replayed from the dead-letter queue.

Events that are not in the plan violate it unless ``allow_unplanned`` is set. Compiled
validators are cached per plan version, so checking costs one dict lookup and the schema
validation itself.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.db import utcnow
from coreo.errors import InvalidInputError, NotFoundError
from coreo.ids import new_id
from coreo.ingest.models import PlanViolation, TrackingPlan

__all__ = [
    "CompiledPlan",
    "PlanMode",
    "compiled_plan",
    "delete_plan",
    "get_plan",
    "list_violations",
    "put_plan",
    "record_violation",
    "violation_summary",
]

PlanMode = Literal["off", "warn", "block"]
_MAX_ERRORS = 5


@dataclass(frozen=True, slots=True)
class CompiledPlan:
    key_id: str
    version: int
    mode: PlanMode
    events: dict[str, Draft202012Validator]
    traits: Draft202012Validator | None
    allow_unplanned: bool

    def check(self, message: dict[str, Any]) -> list[str]:
        """Return the plan's complaints about ``message`` (empty: it conforms)."""
        kind = message.get("type")
        if kind == "track":
            name = str(message.get("event"))
            validator = self.events.get(name)
            if validator is None:
                return [] if self.allow_unplanned else [f"event {name!r} is not in the plan"]
            return _errors(validator, message.get("properties") or {}, "properties")
        if kind == "identify" and self.traits is not None:
            return _errors(self.traits, message.get("traits") or {}, "traits")
        return []


def _errors(validator: Draft202012Validator, value: Any, where: str) -> list[str]:
    found = []
    for error in validator.iter_errors(value):
        path = ".".join(str(p) for p in error.absolute_path)
        found.append(f"{where}{'.' + path if path else ''}: {error.message}"[:300])
        if len(found) >= _MAX_ERRORS:
            break
    return found


def _validator(schema: Any, where: str) -> Draft202012Validator:
    if not isinstance(schema, dict):
        raise InvalidInputError(f"{where} must be a JSON Schema object", field=where)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise InvalidInputError(
            f"{where} is not a valid JSON Schema: {error.message}", field=where
        ) from None
    return Draft202012Validator(schema)


_cache: dict[tuple[str, int], CompiledPlan] = {}
_cache_lock = threading.Lock()


def _compile(plan: TrackingPlan) -> CompiledPlan:
    key = (plan.id, plan.version)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    compiled = CompiledPlan(
        key_id=plan.key_id,
        version=plan.version,
        mode=plan.mode,  # type: ignore[arg-type]  # stored values are checked on write
        events={name: _validator(s, f"events.{name}") for name, s in plan.events.items()},
        traits=_validator(plan.traits, "traits") if plan.traits is not None else None,
        allow_unplanned=plan.allow_unplanned,
    )
    with _cache_lock:
        if len(_cache) > 1000:
            _cache.clear()
        _cache[key] = compiled
    return compiled


def compiled_plan(*, session: Session, workspace_id: str, key_id: str) -> CompiledPlan | None:
    """The key's plan ready to check messages, or None (no plan, or mode off)."""
    plan = session.execute(
        select(TrackingPlan).where(
            TrackingPlan.workspace_id == workspace_id, TrackingPlan.key_id == key_id
        )
    ).scalar_one_or_none()
    if plan is None or plan.mode == "off":
        return None
    return _compile(plan)


def get_plan(*, session: Session, workspace_id: str, key_id: str) -> TrackingPlan:
    plan = session.execute(
        select(TrackingPlan).where(
            TrackingPlan.workspace_id == workspace_id, TrackingPlan.key_id == key_id
        )
    ).scalar_one_or_none()
    if plan is None:
        raise NotFoundError(f"the key {key_id!r} has no tracking plan")
    return plan


def put_plan(
    *,
    session: Session,
    workspace_id: str,
    key_id: str,
    mode: PlanMode,
    events: dict[str, Any],
    traits: dict[str, Any] | None,
    allow_unplanned: bool,
    actor: str,
) -> TrackingPlan:
    """Create or replace the key's plan (schemas are checked first); audited."""
    for name, schema in events.items():
        _validator(schema, f"events.{name}")
    if traits is not None:
        _validator(traits, "traits")
    plan = session.execute(
        select(TrackingPlan).where(
            TrackingPlan.workspace_id == workspace_id, TrackingPlan.key_id == key_id
        )
    ).scalar_one_or_none()
    if plan is None:
        plan = TrackingPlan(id=new_id("tp"), workspace_id=workspace_id, key_id=key_id, version=0)
        session.add(plan)
    plan.mode = mode
    plan.events = events
    plan.traits = traits
    plan.allow_unplanned = allow_unplanned
    plan.version = (plan.version or 0) + 1
    plan.updated_at = utcnow()
    plan.updated_by = actor
    session.flush()
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="tracking_plan.updated",
        target=f"api_key:{key_id}",
        details={"mode": mode, "version": plan.version, "events": sorted(events)[:200]},
    )
    return plan


def delete_plan(*, session: Session, workspace_id: str, key_id: str, actor: str) -> None:
    plan = get_plan(session=session, workspace_id=workspace_id, key_id=key_id)
    session.delete(plan)
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="tracking_plan.deleted",
        target=f"api_key:{key_id}",
        details={"version": plan.version},
    )


def record_violation(
    session: Session,
    *,
    workspace_id: str,
    plan: CompiledPlan,
    message: dict[str, Any],
    errors: list[str],
    blocked: bool,
    now: datetime,
) -> None:
    session.add(
        PlanViolation(
            id=new_id("pv"),
            workspace_id=workspace_id,
            key_id=plan.key_id,
            plan_version=plan.version,
            event_type=str(message.get("type")),
            event_name=str(message["event"])[:200] if message.get("event") else None,
            message_id=str(message.get("messageId"))[:100] if message.get("messageId") else None,
            errors=errors,
            action="blocked" if blocked else "kept",
            created_at=now,
        )
    )


def record_special_categories(
    session: Session,
    *,
    workspace_id: str,
    key_id: str | None,
    message: dict[str, Any],
    paths: list[str],
    now: datetime,
) -> None:
    """Record the special-category fields ingestion removed from a message (action
    ``stripped``, plan version 0: no plan asked for it). Names only, never the values."""
    session.add(
        PlanViolation(
            id=new_id("pv"),
            workspace_id=workspace_id,
            key_id=key_id or "",
            plan_version=0,
            event_type=str(message.get("type")),
            event_name=str(message["event"])[:200] if message.get("event") else None,
            message_id=str(message.get("messageId"))[:100] if message.get("messageId") else None,
            errors=[f"{p}: special category of personal data removed (GDPR Art. 9)" for p in paths],
            action="stripped",
            created_at=now,
        )
    )


def list_violations(
    *,
    session: Session,
    workspace_id: str,
    key_id: str,
    event_name: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Sequence[PlanViolation]:
    query = select(PlanViolation).where(
        PlanViolation.workspace_id == workspace_id, PlanViolation.key_id == key_id
    )
    if event_name is not None:
        query = query.where(PlanViolation.event_name == event_name)
    if after is not None:
        query = query.where(PlanViolation.id > after)
    return session.execute(query.order_by(PlanViolation.id).limit(limit)).scalars().all()


def violation_summary(
    *, session: Session, workspace_id: str, key_id: str
) -> list[tuple[str | None, int, datetime]]:
    """(event name, violations, latest) per event name, most violated first."""
    rows = session.execute(
        select(
            PlanViolation.event_name,
            func.count(),
            func.max(PlanViolation.created_at),
        )
        .where(PlanViolation.workspace_id == workspace_id, PlanViolation.key_id == key_id)
        .group_by(PlanViolation.event_name)
        .order_by(func.count().desc(), PlanViolation.event_name)
    ).all()
    return [(name, int(count), latest) for name, count, latest in rows]
