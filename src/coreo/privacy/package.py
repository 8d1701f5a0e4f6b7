"""The access and portability package (GDPR Art. 15, 20; revDSG Art. 25, 28).

One ZIP with ``data.json`` (everything held about the person, machine-readable) and the
same data as CSV files for spreadsheets, plus what Art. 15(1) asks besides the data:
purposes, categories, recipients, retention, sources, the existence of automated decisions.
Sections Coreo does not hold yet (segments, scores, decisions) are present and empty, so a
reader can tell "none" from "not looked at".
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from coreo.audit.models import AuditEntry
from coreo.consent import service as consent_service
from coreo.consent.purposes import Taxonomy
from coreo.consent.taxonomy import taxonomy_for
from coreo.history.models import EventRecord
from coreo.identity.models import MergeRecord, ProfileIdentity
from coreo.identity.service import cluster_members
from coreo.privacy.crypto import identity_values, open_message
from coreo.privacy.datamap import categories_held
from coreo.privacy.models import PrivacyRequest
from coreo.profiles.models import ProfileTrait
from coreo.profiles.traits import DEFAULT_SCHEMA
from coreo.traits import service as computed_service

__all__ = ["Package", "build"]

_README = """\
This archive holds every piece of personal data Coreo keeps about you, as of {at}.

data.json        everything, machine-readable (GDPR Art. 20)
identities.csv   the identifiers linked to you (e-mail, phone, user and device ids, ...)
traits.csv       what we know about you, with where and when it came from
computed.csv     values computed from your activity
events.csv       your recorded activity
consents.csv     every consent decision on record, oldest first
audit.csv        who accessed or changed your data, and when
about.json       why we hold it, for how long, who receives it, where it came from

Questions and further rights (rectification, erasure, restriction, objection): contact the
controller named in the privacy notice.
"""


@dataclass(frozen=True, slots=True)
class Package:
    data: bytes  # the ZIP
    sha256: str
    counts: dict[str, int]


def _csv(rows: Iterable[dict[str, Any]], columns: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: (
                    v if isinstance(v, str | int | float) or v is None else orjson.dumps(v).decode()
                )
                for k, v in row.items()
            }
        )
    return out.getvalue().encode()


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)


def _about(taxonomy: Taxonomy, sources: list[str]) -> dict[str, Any]:
    return {
        "purposes": [
            {
                "purpose": p.name,
                "description": p.description,
                "legal_bases": list(p.legal_bases),
                "retention_days": p.retention_days,
                "recipients": list(p.recipients),
            }
            for p in taxonomy.purposes.values()
        ],
        "categories_of_data": sorted(categories_held()),
        "sources": sources,
        "automated_decisions": {
            "exists": False,
            "note": "No decision with legal or similarly significant effect is made about "
            "you by automated means (GDPR Art. 22).",
        },
        "transfers_outside_eea_switzerland": [],
    }


def collect(session: Session, workspace_id: str, profile_id: str) -> dict[str, Any]:
    """Everything held about the live profile ``profile_id`` (and those merged into it)."""
    live = consent_service.subject(session, workspace_id, profile_id)
    members = sorted(cluster_members(session, workspace_id, [live]))
    rows = session.scalars(
        select(ProfileIdentity).where(
            ProfileIdentity.workspace_id == workspace_id,
            ProfileIdentity.profile_id.in_(members),
        )
    ).all()
    values = identity_values(session, workspace_id, rows)
    identities = sorted(
        (
            {
                "type": i.type,
                "value": values[(i.type, i.value)],
                "first_seen": i.first_seen,
                "last_seen": i.last_seen,
            }
            for i in rows
        ),
        key=lambda i: (i["type"], i["value"]),
    )
    traits = [
        {
            "name": t.name,
            "value": t.value,
            "source": t.source,
            "observed_at": t.observed_at,
            "category": DEFAULT_SCHEMA.rule(t.name).category,
        }
        for t in session.scalars(
            select(ProfileTrait)
            .where(ProfileTrait.workspace_id == workspace_id, ProfileTrait.profile_id == live)
            .order_by(ProfileTrait.name)
        )
    ]
    computed = [
        {"name": name, "value": value}
        for name, value in sorted(computed_service.values_of(session, workspace_id, live).items())
    ]
    events: list[dict[str, Any]] = [
        {
            "message_id": e.message_id,
            "type": e.type,
            "event": e.event,
            "timestamp": e.timestamp,
            "received_at": e.received_at,
            "message": open_message(session, workspace_id, e.profile_id, e.payload),
        }
        for e in session.scalars(
            select(EventRecord)
            .where(EventRecord.workspace_id == workspace_id, EventRecord.profile_id.in_(members))
            .order_by(EventRecord.timestamp, EventRecord.message_id)
        )
    ]
    records, flags = consent_service.standing_of(session, workspace_id, members)
    consents = [
        {
            "purpose": r.purpose,
            "channel": r.channel,
            "status": r.status,
            "objection": r.objection,
            "legal_basis": r.legal_basis,
            "source": r.source,
            "collection_point": r.collection_point,
            "notice_version": r.notice_version,
            "at": r.at,
        }
        for r in records
    ]
    taxonomy = taxonomy_for(session, workspace_id)
    current = [
        {
            "purpose": name,
            "channel": channel,
            "allowed": d.allowed,
            "reason": d.reason,
            "legal_basis": d.legal_basis,
        }
        for name, channel in taxonomy.decisions()
        for d in (consent_service.decide(records, name, channel, flags, taxonomy),)
    ]
    targets = [f"profile:{m}" for m in members]
    audit = [
        {"at": a.occurred_at, "actor": a.actor, "action": a.action, "target": a.target}
        for a in session.scalars(
            select(AuditEntry)
            .where(AuditEntry.chain == workspace_id, AuditEntry.target.in_(targets))
            .order_by(AuditEntry.seq)
        )
    ]
    merges = [
        {"at": m.at, "reason": m.reason, "merged_id": m.merged_id, "undone_at": m.undone_at}
        for m in session.scalars(
            select(MergeRecord)
            .where(MergeRecord.workspace_id == workspace_id, MergeRecord.survivor_id.in_(members))
            .order_by(MergeRecord.at)
        )
    ]
    requests = [
        {"id": r.id, "type": r.type, "status": r.status, "received_at": r.received_at}
        for r in session.scalars(
            select(PrivacyRequest)
            .where(
                PrivacyRequest.workspace_id == workspace_id,
                PrivacyRequest.profile_id.in_(members),
            )
            .order_by(PrivacyRequest.received_at)
        )
    ]
    sources = sorted(
        {t["source"] for t in traits}
        | {
            str(e["message"].get("context", {}).get("library", {}).get("name"))
            for e in events
            if isinstance(e["message"].get("context", {}).get("library"), dict)
        }
    )
    return {
        "profile_id": live,
        "identities": identities,
        "traits": traits,
        "computed_traits": computed,
        "events": events,
        "consents": {"current": current, "records": consents},
        "merges": merges,
        "segments": [],
        "scores": [],
        "decisions": [],
        "audit": audit,
        "privacy_requests": requests,
        "about": _about(taxonomy, sources),
    }


def build(session: Session, workspace_id: str, profile_id: str, *, at: datetime) -> Package:
    held = collect(session, workspace_id, profile_id)
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", _README.format(at=at.isoformat(timespec="seconds")))
        archive.writestr("data.json", _json(held))
        archive.writestr("about.json", _json(held["about"]))
        archive.writestr(
            "identities.csv",
            _csv(held["identities"], ["type", "value", "first_seen", "last_seen"]),
        )
        archive.writestr(
            "traits.csv", _csv(held["traits"], ["name", "value", "source", "observed_at"])
        )
        archive.writestr("computed.csv", _csv(held["computed_traits"], ["name", "value"]))
        archive.writestr(
            "events.csv",
            _csv(
                (
                    {
                        **e,
                        "properties": e["message"].get("properties") or e["message"].get("traits"),
                    }
                    for e in held["events"]
                ),
                ["timestamp", "type", "event", "message_id", "properties"],
            ),
        )
        archive.writestr(
            "consents.csv",
            _csv(
                held["consents"]["records"],
                ["at", "purpose", "channel", "status", "objection", "legal_basis", "source"],
            ),
        )
        archive.writestr("audit.csv", _csv(held["audit"], ["at", "actor", "action", "target"]))
    data = sink.getvalue()
    counts = {
        k: len(held[k])
        for k in ("identities", "traits", "computed_traits", "events", "audit", "merges")
    }
    counts["consents"] = len(held["consents"]["records"])
    return Package(data, hashlib.sha256(data).hexdigest(), counts)
