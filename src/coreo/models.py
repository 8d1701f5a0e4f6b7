"""Import every domain's tables so ``Base.metadata`` is complete (for Alembic and tests)."""

from __future__ import annotations

from coreo.audit.models import AuditChain, AuditEntry
from coreo.auth.models import ApiKey, Workspace
from coreo.consent.models import ConsentRecord, PurposesRow
from coreo.eventlog.models import LogConsumer, LogHead, LogLease, LogMember, LogRecord
from coreo.history.models import EventRecord
from coreo.identity.models import (
    IdentityRulesRow,
    MatchReview,
    MergeRecord,
    Profile,
    ProfileIdentity,
    ProfileSplit,
    RefusedMerge,
)
from coreo.ingest.imports.models import ImportJob
from coreo.ingest.models import DeadLetter, PlanViolation, SeenMessage, TrackingPlan
from coreo.privacy.models import (
    DataFile,
    DataKey,
    KeyringEntry,
    LegalHold,
    PrivacyRequest,
    Suppression,
)
from coreo.profiles.models import ProfileTrait
from coreo.traits.models import TraitBackfill, TraitDefinitionRow, TraitDirty, TraitValue

__all__ = [
    "ApiKey",
    "AuditChain",
    "AuditEntry",
    "ConsentRecord",
    "DataFile",
    "DataKey",
    "DeadLetter",
    "EventRecord",
    "IdentityRulesRow",
    "ImportJob",
    "KeyringEntry",
    "LegalHold",
    "LogConsumer",
    "LogHead",
    "LogLease",
    "LogMember",
    "LogRecord",
    "MatchReview",
    "MergeRecord",
    "PlanViolation",
    "PrivacyRequest",
    "Profile",
    "ProfileIdentity",
    "ProfileSplit",
    "ProfileTrait",
    "PurposesRow",
    "RefusedMerge",
    "SeenMessage",
    "Suppression",
    "TrackingPlan",
    "TraitBackfill",
    "TraitDefinitionRow",
    "TraitDirty",
    "TraitValue",
    "Workspace",
]
