"""Import every domain's tables so ``Base.metadata`` is complete (for Alembic and tests)."""

from __future__ import annotations

from coreo.audit.models import AuditChain, AuditEntry
from coreo.auth.models import ApiKey, Workspace

__all__ = ["ApiKey", "AuditChain", "AuditEntry", "Workspace"]
