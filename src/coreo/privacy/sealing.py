"""Seal what an older Coreo stored in clear: identifiers, the identifiers inside events and
the computed traits over personal fields; and key e-mail addresses stored before they were
keyed by mailbox as the workspace's rules key them now (``rekey_emails``).

Before identifiers were sealed, ``profile_identities`` held their values, the event history
its user and anonymous ids, merge records the values a merged profile brought and refusals
the value that was refused. ``seal_stored`` rewrites them as this version stores them
(``coreo.privacy.crypto``): the keyed hash to search by, the value sealed with its
person's data key. It runs after a migration that found existing data (``coreo migrate``,
or an embedded store opened by a newer Coreo) and on ``coreo keys seal`` (after turning
``encrypt_personal_data`` on), in chunks of one transaction each, and can
be interrupted: what is done stays done, the rest is found again next time.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any, cast

import orjson
from sqlalchemy import Table, delete, or_, select, tuple_, update
from sqlalchemy.orm import Session

from coreo.db import Database
from coreo.history.models import EventRecord
from coreo.identity.models import MergeRecord, ProfileIdentity, RefusedMerge
from coreo.identity.service import rekey_emails, rules_for
from coreo.privacy.crypto import (
    crypto_of,
    data_keys,
    identity_key,
    is_sealed,
    seal_identity_at_flush,
    seal_message,
)
from coreo.traits import service as computed
from coreo.traits.models import TraitDefinitionRow, TraitValue

__all__ = ["is_key", "seal_stored"]

_KEY = re.compile(r"i:[0-9a-f]{40}")
_IDENTITIES = cast(Table, ProfileIdentity.__table__)
_EVENTS = cast(Table, EventRecord.__table__)
_VALUES = cast(Table, TraitValue.__table__)
_DEFINITIONS = cast(Table, TraitDefinitionRow.__table__)
_LINKED = re.compile(r"^([a-z][a-z0-9_]{0,63}):(.*) of \S+ arrived in one event", re.DOTALL)
_REFUSED = re.compile(r"^([a-z][a-z0-9_]{0,63}) (['\"])(.*?)\2: ", re.DOTALL)


def is_key(value: Any) -> bool:
    """Whether a stored identifier is already keyed (``identity_key``'s form)."""
    return isinstance(value, str) and _KEY.fullmatch(value) is not None


def seal_stored(database: Database, *, chunk: int = 1000) -> dict[str, int]:
    """Key (and, with sealing on, seal) every identifier still stored in clear; returns
    how many rows of each table changed (nothing for a database without the keys)."""
    counts: Counter[str] = Counter()
    with database.session() as session:
        if crypto_of(session) is None:
            return {}
    while True:  # what a chunk seals is not found again
        with database.transaction() as session:
            done = _identities(session, chunk)
        if not done:
            break
        counts["profile_identities"] += done
    with database.session() as session:
        emails = session.connection().execute(
            select(_IDENTITIES.c.workspace_id).where(_IDENTITIES.c.type == "email").distinct()
        )
        workspaces = sorted(emails.scalars())
    for workspace_id in workspaces:  # addresses stored before e-mail was keyed by mailbox
        cursor: str | None = ""
        while cursor is not None:
            with database.transaction() as session:
                rules = rules_for(session, workspace_id)
                rekeyed, cursor = rekey_emails(
                    session, workspace_id, rules, after=cursor, chunk=chunk
                )
            counts.update({f"email identifiers {k}": n for k, n in rekeyed.items()})
    after: Any = ("", "")
    while after is not None:  # one pass over the history, in key order
        with database.transaction() as session:
            done, after = _events(session, after, chunk)
        counts["events"] += done
    passes: tuple[tuple[str, Any, Any], ...] = (
        ("profile_merges", MergeRecord, _merge_keys),
        ("profile_merge_refusals", RefusedMerge, _refusal_key),
    )
    for name, model, convert in passes:
        last = ""
        while True:  # one pass over all of them, by id
            with database.transaction() as session:
                records = session.scalars(
                    select(model).where(model.id > last).order_by(model.id).limit(chunk)
                ).all()
                counts[name] += sum(convert(session, r) for r in records)
            if len(records) < chunk:
                break
            last = records[-1].id
    for workspace_id, name, path in _personal_traits(database):
        profile: str | None = ""
        while profile is not None:  # one pass over the trait's rows, by profile
            with database.transaction() as session:
                done, profile = _computed(session, workspace_id, name, path, profile, chunk)
            counts["computed_trait_values"] += done
    return {name: n for name, n in counts.items() if n}


def _personal_traits(database: Database) -> list[tuple[str, str, str]]:
    """(workspace, name, property) of the computed traits over a personal field, whose
    stored rows are sealed while sealing is on (``coreo.traits.service.write_rows``)."""
    with database.session() as session:
        sealed = computed.sealed_property(session)
        rows = session.connection().execute(
            select(_DEFINITIONS.c.workspace_id, _DEFINITIONS.c.name, _DEFINITIONS.c.definition)
        )
        return [
            (workspace_id, name, path)
            for workspace_id, name, definition in rows
            if sealed(path := definition.get("property"))
        ]


def _computed(
    session: Session, workspace_id: str, name: str, path: str, after: str, chunk: int
) -> tuple[int, str | None]:
    """One chunk of a personal computed trait's rows after profile ``after``: those in
    clear are sealed. Returns how many and where the next chunk starts (None: done)."""
    found = session.execute(
        select(_VALUES)
        .where(
            _VALUES.c.workspace_id == workspace_id,
            _VALUES.c.name == name,
            _VALUES.c.profile_id > after,
        )
        .order_by(_VALUES.c.profile_id)
        .limit(chunk)
    ).all()
    clear = [
        {**row._asdict(), "property": path}
        for row in found
        if (row.state and not is_sealed(row.state))
        or (row.value is not None and not is_sealed(row.value))
    ]
    computed.write_rows(session, clear)
    return len(clear), (found[-1].profile_id if len(found) == chunk else None)


def _identities(session: Session, chunk: int) -> int:
    """Identities stored in clear (or kept plain while sealing was off): keyed and, with
    sealing on, sealed."""
    crypto = crypto_of(session)
    seals = crypto is not None and crypto.seals
    clear: Any = _IDENTITIES.c.sealed.is_(None)
    if seals:
        clear = or_(clear, _IDENTITIES.c.sealed_by.is_(None))
    found = session.execute(select(_IDENTITIES).where(clear).limit(chunk)).all()
    for row in found:
        session.execute(
            delete(_IDENTITIES).where(
                _IDENTITIES.c.workspace_id == row.workspace_id,
                _IDENTITIES.c.type == row.type,
                _IDENTITIES.c.value == row.value,
            )
        )
        plain = row.value if row.sealed is None else row.sealed
        fresh = ProfileIdentity(
            workspace_id=row.workspace_id,
            type=row.type,
            value=identity_key(session, row.type, plain),
            profile_id=row.profile_id,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            # Known users were noted by their ids, now by their keys; a note of a profile
            # ("profile:…") stays as it is.
            users=[
                u if u.startswith("profile:") or is_key(u) else identity_key(session, "user_id", u)
                for u in (row.users or [])
            ],
            shared=row.shared,
        )
        session.add(fresh)
        seal_identity_at_flush(session, fresh, plain)
    session.flush()
    return len(found)


def _events(session: Session, after: tuple[str, str], chunk: int) -> tuple[int, Any]:
    """One chunk of the history in key order, after ``after``: id columns in clear are
    keyed, and with sealing on a message with an identifier in clear is sealed. Returns
    how many changed and where the next chunk starts (None: done)."""
    crypto = crypto_of(session)
    seals = crypto is not None and crypto.seals
    found = session.execute(
        select(
            _EVENTS.c.workspace_id,
            _EVENTS.c.message_id,
            _EVENTS.c.user_id,
            _EVENTS.c.anonymous_id,
            _EVENTS.c.profile_id,
            _EVENTS.c.payload,
        )
        .where(tuple_(_EVENTS.c.workspace_id, _EVENTS.c.message_id) > after)
        .order_by(_EVENTS.c.workspace_id, _EVENTS.c.message_id)
        .limit(chunk)
    ).all()
    owners: dict[str, set[str]] = defaultdict(set)
    for row in found:
        if seals and row.profile_id:
            owners[row.workspace_id].add(row.profile_id)
    for workspace_id, profile_ids in owners.items():
        data_keys(session, workspace_id, profile_ids)
    rules = {ws: rules_for(session, ws) for ws in {r.workspace_id for r in found}}
    changed = 0
    for row in found:
        values: dict[str, Any] = {}
        for kind in ("user_id", "anonymous_id"):
            value = getattr(row, kind)
            if value is not None and not is_key(value):
                text = rules[row.workspace_id].key(kind, str(value).strip()) or str(value)
                values[kind] = identity_key(session, kind, text)
        if seals and row.profile_id:
            message = orjson.loads(row.payload)
            sealed = seal_message(session, row.workspace_id, row.profile_id, message)
            if sealed is not message:
                values["payload"] = orjson.dumps(sealed).decode()
        if values:
            session.execute(
                update(_EVENTS)
                .where(
                    _EVENTS.c.workspace_id == row.workspace_id,
                    _EVENTS.c.message_id == row.message_id,
                )
                .values(values)
            )
            changed += 1
    last = (found[-1].workspace_id, found[-1].message_id) if len(found) == chunk else None
    return changed, last


def _merge_keys(session: Session, record: Any) -> bool:
    """A merge record listing values (and naming the linking one) lists their keys."""
    changed = False
    if not all(is_key(v) for _, v in record.identities):
        record.identities = [
            [t, v if is_key(v) else identity_key(session, t, v)] for t, v in record.identities
        ]
        changed = True
    link = _LINKED.match(record.reason)
    if link is not None and not is_key(link.group(2)):
        key = identity_key(session, link.group(1), link.group(2))
        record.reason = f"{link.group(1)}:{key}{record.reason[link.end(2) :]}"
        changed = True
    return changed


def _refusal_key(session: Session, refusal: Any) -> bool:
    """A refusal naming the refused value names its key."""
    match = _REFUSED.match(refusal.reason)
    if match is None or is_key(match.group(3)):
        return False
    key = identity_key(session, match.group(1), match.group(3))
    refusal.reason = f"{match.group(1)} {key!r}: {refusal.reason[match.end() :]}"
    return True
