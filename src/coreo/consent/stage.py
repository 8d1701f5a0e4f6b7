"""The pipeline stage that turns consent signals carried by events into ledger records.

Read from every event of a resolved profile:

* ``context.consent.categoryPreferences`` as Segment's consent management sends it
  (``{"Analytics": true, "Advertising": false}``): each category named in
  the workspace's ``Taxonomy.categories`` grants or denies its purposes; other categories (strictly
  necessary, unknown names) are not read;
* ``context.consent.tcString``: an IAB TCF v2.2 TC string (``coreo.consent.tcf``); its
  purposes grant or deny analytics and personalisation (``tcf.coreo_purposes``). A string
  that does not decode, or has a policy version below 4, decides nothing;
* ``context.consent.purposes``: Coreo's own explicit form, for preference centres and file
  imports: ``{"marketing:email": true, "analytics": "withdrawn"}`` (a purpose, or a purpose
  and channel; true, false, or a status). Imported rows are recorded with source ``import``;
* ``context.consent.gpc`` (set at ingestion from the ``Sec-GPC: 1`` request header, or sent
  by the client): the Global Privacy Control signal, an opt-out of selling and sharing
  (``third_party_sharing`` withdrawn).

Where signals disagree about a purpose, a refusal wins.

A banner sends its state with every event, so a signal is recorded only when it differs
from the last one the events gave for that purpose: an unchanged banner does not override
a withdrawal made elsewhere (preference centre, API), and an event processed again changes
nothing. The record's time is the event's; the proof is its IP address and user agent,
kept as keyed hashes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreo.consent import service, tcf
from coreo.consent.models import ConsentRecord
from coreo.consent.purposes import Taxonomy
from coreo.consent.taxonomy import taxonomy_for
from coreo.db import utcnow
from coreo.identity.service import cluster_members
from coreo.runtime.worker import Event

__all__ = ["ConsentStage", "signals_of"]


Signal = tuple[str, service.Status]  # purpose, status
_log = logging.getLogger(__name__)


def signals_of(message: dict[str, Any], taxonomy: Taxonomy) -> list[Signal]:
    """The purposes an event's consent context grants, denies or withdraws, in the terms of
    the workspace's ``taxonomy`` (its purposes and banner categories)."""
    context = message.get("context")
    consent = context.get("consent") if isinstance(context, dict) else None
    if not isinstance(consent, dict):
        return []
    decided: dict[str, service.Status] = {}
    preferences = consent.get("categoryPreferences")
    if isinstance(preferences, dict):
        for category, given in preferences.items():
            if not isinstance(given, bool) or not isinstance(category, str):
                continue
            for purpose in taxonomy.categories.get(category.strip().lower(), ()):
                # two categories of one purpose: a refusal of either wins
                if decided.get(purpose) != "denied":
                    decided[purpose] = "granted" if given else "denied"
    tc_string = consent.get("tcString")
    if isinstance(tc_string, str) and tc_string:
        try:
            tc = tcf.decode(tc_string)
        except tcf.TCStringError as error:
            _log.info("a TC string was not used as consent: %s", error)
        else:
            for purpose, given in tcf.coreo_purposes(tc).items():
                if _known(purpose, taxonomy) and decided.get(purpose) != "denied":
                    decided[purpose] = "granted" if given else "denied"
    explicit = consent.get("purposes")
    if isinstance(explicit, dict):
        for name, given in explicit.items():
            status = _explicit_status(given)
            if status is not None and isinstance(name, str) and _known(name, taxonomy):
                decided[name] = status  # stated for the purpose itself: it wins
    if consent.get("gpc") is True and _known("third_party_sharing", taxonomy):
        decided["third_party_sharing"] = "withdrawn"
    return sorted(decided.items())


def _explicit_status(given: Any) -> service.Status | None:
    if isinstance(given, bool):
        return "granted" if given else "denied"
    if given in ("granted", "denied", "withdrawn"):
        return cast(service.Status, given)
    return None


def _known(key: str, taxonomy: Taxonomy) -> bool:
    """``purpose`` or ``purpose:channel`` of the taxonomy (marketing needs its channel)."""
    name, _, channel = key.partition(":")
    purpose = taxonomy.purpose(name)
    if purpose is None:
        return False
    return channel in purpose.channels if purpose.channels else not channel


def _has_consent(message: dict[str, Any]) -> bool:
    context = message.get("context")
    return isinstance(context, dict) and isinstance(context.get("consent"), dict)


class ConsentStage:
    """Record the consent signals of each event for its profile (see the module)."""

    name = "consent"

    def __init__(self, proof_key: Callable[[Session], bytes]) -> None:
        self._proof_key = proof_key

    def process(self, session: Session, events: Sequence[Event]) -> None:
        taxonomies: dict[str, Taxonomy] = {}
        found = []
        for event in events:
            if "profile_id" not in event.annotations or not _has_consent(event.message):
                continue
            ws = event.workspace_id
            if ws not in taxonomies:
                taxonomies[ws] = taxonomy_for(session, ws)
            if signals := signals_of(event.message, taxonomies[ws]):
                found.append((event, signals))
        if not found:
            return
        key = self._proof_key(session)
        for workspace_id in sorted({e.workspace_id for e, _ in found}):
            mine = [(e, s) for e, s in found if e.workspace_id == workspace_id]
            last = _last_event_signals(
                session, workspace_id, [str(e.annotations["profile_id"]) for e, _ in mine]
            )
            for event, signals in mine:
                profile_id = str(event.annotations["profile_id"])
                for purpose, status in signals:
                    if last.get((profile_id, purpose)) == status:
                        continue
                    service.record(
                        session,
                        workspace_id,
                        profile_id,
                        _input(event.message, purpose, status),
                        actor="pipeline",
                        proof_key=key,
                        taxonomy=taxonomies[workspace_id],
                    )
                    last[(profile_id, purpose)] = status


def _input(message: dict[str, Any], key: str, status: service.Status) -> service.ConsentInput:
    context = message.get("context")
    context = context if isinstance(context, dict) else {}
    ip, agent = context.get("ip"), context.get("userAgent")
    purpose, _, channel = key.partition(":")
    imported = context.get("import")
    if isinstance(imported, dict):  # a row of a file import (ERP, CRM, a sign-up list)
        source, point = "import", f"import:{imported.get('source')} row {imported.get('row')}"
    else:
        name = message.get("event") if message.get("type") == "track" else message.get("type")
        source, point = "event", f"event:{name}"
    return service.ConsentInput(
        purpose=purpose,
        channel=channel or None,
        status=status,
        source=source,
        collection_point=point[:200],
        at=min(datetime.fromisoformat(str(message["timestamp"])), utcnow()),
        ip=ip if isinstance(ip, str) else None,
        user_agent=agent if isinstance(agent, str) else None,
    )


def _last_event_signals(
    session: Session, workspace_id: str, profile_ids: Sequence[str]
) -> dict[tuple[str, str], str]:
    """(live profile, purpose[:channel]) → the status of the newest record events (or
    imported rows) gave."""
    members = cluster_members(session, workspace_id, sorted(set(profile_ids)))
    last: dict[tuple[str, str], str] = {}
    rows = session.execute(
        select(
            ConsentRecord.profile_id,
            ConsentRecord.purpose,
            ConsentRecord.channel,
            ConsentRecord.status,
        )
        .where(
            ConsentRecord.workspace_id == workspace_id,
            ConsentRecord.profile_id.in_(sorted(members)),
            ConsentRecord.source.in_(("event", "import")),
        )
        .order_by(ConsentRecord.at, ConsentRecord.recorded_at, ConsentRecord.id)
    )
    for profile_id, purpose, channel, status in rows:
        last[(members[profile_id], f"{purpose}:{channel}" if channel else purpose)] = status
    return last
