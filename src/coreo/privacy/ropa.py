"""The record of processing activities (GDPR Art. 30(1); revDSG Art. 12), generated from
what Coreo is configured to do: the purposes and their legal bases, recipients and
retention; the data categories from the data map; the sources from the workspace's write
keys and imports; the retention settings; the security measures the code applies.

Nothing here is typed in by hand, so the record cannot drift from the system; what only a
person knows (the controller's name and contact, the DPO) comes from the settings.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreo import __version__
from coreo.auth.models import ApiKey, Workspace
from coreo.config import Settings
from coreo.consent.taxonomy import taxonomy_for
from coreo.db import utcnow
from coreo.ingest.imports.models import ImportJob
from coreo.privacy.datamap import SPECIAL_CATEGORY_FIELDS, categories_held

__all__ = ["SECURITY_MEASURES", "build", "markdown"]

DATA_SUBJECTS = (
    "customers",
    "prospects and newsletter subscribers",
    "visitors of the websites and apps that send events",
)
SECURITY_MEASURES = (
    "API keys stored as SHA-256 hashes; scopes per key; rate limits per key",
    "every workspace's data confined to its own queries (row-level scoping in the ORM)",
    "tamper-evident audit trail: a SHA-256 hash chain per workspace (`coreo audit verify`), "
    "including who read whose profile",
    "consent proof (IP address, user agent) and erasure tombstones kept only as keyed "
    "HMAC-SHA256 hashes under a key derived from the installation's master key",
    "personal traits, identifiers and stored events sealed with a per-person data key "
    "(AES-256-GCM) wrapped by the master key; erasure destroys the person's key",
    "event-log records and dead letters sealed with a transit key per day, destroyed once "
    "the log's and the dead letters' retention has passed; log keys are keyed hashes",
    "special categories of personal data (GDPR Art. 9) removed at ingestion",
    "optional IP truncation at ingestion (`ingest_truncate_ip`)",
    "erasure across every table and recorded file, found through the data map",
    "retention purge on a timer with legal holds; no personal data in logs",
)


def _sources(session: Session, workspace_id: str) -> list[str]:
    keys = session.scalars(
        select(ApiKey.name).where(
            ApiKey.workspace_id == workspace_id, ApiKey.kind == "write", ApiKey.revoked_at.is_(None)
        )
    ).all()
    imports = session.scalars(
        select(ImportJob.source).where(ImportJob.workspace_id == workspace_id).distinct()
    ).all()
    return sorted(
        {f"event source: {k}" for k in keys}
        | {f"file import: {s}" for s in imports}
        | {"consent banners (categoryPreferences, IAB TCF), the Global Privacy Control"}
    )


def build(session: Session, workspace_id: str, settings: Settings) -> dict[str, Any]:
    workspace = session.get(Workspace, workspace_id)
    held = categories_held()
    retention = {
        "behavioural events": f"{settings.retention_behavioural_days} days",
        "transactional events": f"{settings.retention_transactional_days} days "
        f"({', '.join(settings.retention_transactional_events)})",
        "profiles without activity": f"erased after {settings.retention_inactive_profile_days} "
        "days",
        "dead letters, tracking-plan violations": f"{settings.retention_operational_days} days",
        "event exports, uploaded import files": f"{settings.retention_file_days} days",
        "event log records (processed)": f"{settings.retention_log_days} days",
        "consent records": "while the profile exists (proof, GDPR Art. 7(1))",
        "audit trail": "kept (accountability, GDPR Art. 5(2)); holds ids, no personal data",
    }
    return {
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "generated_by": f"Coreo {__version__}",
        "controller": {
            "name": settings.controller_name,
            "contact": settings.controller_contact,
            "dpo": settings.dpo_contact,
        },
        "workspace": workspace.display_name if workspace else workspace_id,
        "activities": [
            {
                "purpose": p.name,
                "description": p.description,
                "legal_bases": list(p.legal_bases),
                "channels": list(p.channels),
                "data_subjects": list(DATA_SUBJECTS),
                "data_categories": sorted(held),
                "recipients": list(p.recipients) or ["none outside the controller"],
                "third_country_transfers": "none",
                "retention_days": p.retention_days,
                "objection_stops_it": p.direct_marketing,
            }
            for p in taxonomy_for(session, workspace_id).purposes.values()
        ],
        "data_categories": dict(sorted(held.items())),
        "special_categories": {
            "policy": "removed at ingestion (GDPR Art. 9)",
            "fields": list(SPECIAL_CATEGORY_FIELDS),
            "allowed_by_configuration": list(settings.ingest_special_categories_allowed),
        },
        "sources": _sources(session, workspace_id),
        "retention": retention,
        "security_measures": list(SECURITY_MEASURES),
    }


def markdown(record: dict[str, Any]) -> str:
    controller = record["controller"]
    lines = [
        f"# Record of processing activities: {record['workspace']}",
        "",
        f"Generated {record['generated_at']} by {record['generated_by']} (GDPR Art. 30, "
        "revDSG Art. 12).",
        "",
        f"- Controller: {controller['name']}",
        f"- Contact: {controller['contact']}",
        f"- Data protection officer: {controller['dpo']}",
        "",
        "## Processing activities",
        "",
        "| Purpose | Legal bases | Recipients | Retention | Objection stops it |",
        "|---|---|---|---|---|",
    ]
    for a in record["activities"]:
        channels = f" ({', '.join(a['channels'])})" if a["channels"] else ""
        lines.append(
            f"| {a['purpose']}{channels}: {a['description']} | {', '.join(a['legal_bases'])} "
            f"| {', '.join(a['recipients'])} | {a['retention_days']} days "
            f"| {'yes' if a['objection_stops_it'] else 'no'} |"
        )
    lines += [
        "",
        f"Data subjects: {', '.join(DATA_SUBJECTS)}. Transfers to third countries: none.",
        "",
        "## Categories of personal data",
        "",
        "| Category | Held in |",
        "|---|---|",
    ]
    lines += [f"| {c} | {', '.join(t)} |" for c, t in record["data_categories"].items()]
    special = record["special_categories"]
    allowed = ", ".join(special["allowed_by_configuration"]) or "none"
    lines += [
        "",
        f"Special categories: {special['policy']}; allowed by configuration: {allowed}.",
        "",
        "## Sources",
        "",
        *[f"- {s}" for s in record["sources"]],
        "",
        "## Retention",
        "",
        *[f"- {what}: {period}" for what, period in record["retention"].items()],
        "",
        "## Technical and organisational measures (GDPR Art. 32)",
        "",
        *[f"- {m}" for m in record["security_measures"]],
        "",
    ]
    return "\n".join(lines)
