"""Import every domain's tables so ``Base.metadata`` is complete (for Alembic and tests)."""

from __future__ import annotations

from coreo.audit.models import AuditChain, AuditEntry
from coreo.auth.models import ApiKey, Workspace
from coreo.eventlog.models import LogConsumer, LogHead, LogRecord
from coreo.history.models import EventRecord
from coreo.imports.models import ImportJob
from coreo.ingest.models import DeadLetter, PlanViolation, SeenMessage, TrackingPlan

__all__ = [
    "ApiKey",
    "AuditChain",
    "AuditEntry",
    "DeadLetter",
    "EventRecord",
    "ImportJob",
    "LogConsumer",
    "LogHead",
    "LogRecord",
    "PlanViolation",
    "SeenMessage",
    "TrackingPlan",
    "Workspace",
]
