"""Sealing of what passes through before it is a person's: event-log records and dead letters.

An event is accepted before anybody knows whose it is (identity resolution runs in the
worker), so the event log and the dead-letter queue cannot seal with a person's data key.
They are sealed instead with a **transit key of the day** (AES-256-GCM, bound to the
workspace): a random key per UTC day, kept in the keyring wrapped by the master key like
every other key (``coreo keys rotate-master`` re-wraps it with the rest).

* an event-log record's payload is ``enc:t1:<yyyymmdd>:`` followed by nonce and ciphertext
  (bytes); a dead letter's payload the same with the blob in base64url (text);
* the record's partition key is a keyed hash of the anonymous or user id (``i:`` and 40
  hex digits), so the log holds no identifier in clear either and a person's events still
  share a partition;
* a day's key is destroyed (``destroy_unused_keys``, run by the retention purge) once no
  record of the log and no dead letter can still hold something it sealed: the log is
  trimmed after ``retention_log_days`` and dead letters are purged after
  ``retention_operational_days``, and with the key, every copy and backup of what that day
  carried becomes unreadable, an erased person's events included.

Nothing sealed is refused or lost for being plain: a record or letter written with sealing
off (or before it existed) is read as it is.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Table, event, func, select
from sqlalchemy.orm import Session, attributes

from coreo.db import utcnow
from coreo.eventlog.base import EventLog
from coreo.eventlog.models import LogRecord
from coreo.eventlog.sql import SqlEventLog
from coreo.ingest.models import DeadLetter
from coreo.privacy.crypto import crypto_of, identity_key, keyring_secret, keys_of

__all__ = [
    "TransitKeyGone",
    "destroy_unused_keys",
    "is_sealed_record",
    "log_key",
    "open_record",
    "open_text",
    "record_text",
    "seal_record",
    "seal_records",
    "seal_text",
]

_PREFIX = b"enc:t1:"
_TEXT_PREFIX = _PREFIX.decode()
_DAY = 8  # yyyymmdd
_HEAD = len(_PREFIX) + _DAY + 1  # the prefix, the day and a colon
_NONCE = 12
_NAME = "transit:"  # keyring entries: transit:yyyymmdd
_KEYS = "coreo.transit_keys"  # session.info: day → key made by this session (uncommitted)
_LETTERS = cast(Table, DeadLetter.__table__)
_LOG = cast(Table, LogRecord.__table__)
_GRACE = timedelta(days=1)  # a record sealed just before midnight may be appended after it
# A process reads a cached day key again after this long: a key that another process
# destroyed leaves every process's memory within it (and never opens anything meanwhile
# that the destroying process had not already given up: the records needing it are gone).
KEPT_SECONDS = 300.0


class TransitKeyGone(ValueError):
    """The transit key a record was sealed with was destroyed (or the record was altered)."""


def _sealing(session: Session) -> bool:
    crypto = crypto_of(session)
    return crypto is not None and crypto.seals


def _key(session: Session, day: str, *, create: bool) -> bytes | None:
    crypto = crypto_of(session)
    if crypto is None:
        return None
    cached = crypto.transit.get(day)
    if cached is not None and time.monotonic() - cached[1] < KEPT_SECONDS:
        return cached[0]
    own = session.info.get(_KEYS, {}).get(day)
    if own is not None:
        return cast(bytes, own)
    found = keyring_secret(session, _NAME + day, create=create)
    if found is None:
        crypto.transit.pop(day, None)  # destroyed (by another process): gone here too
        return None
    key, uncommitted = found
    if uncommitted:  # a rollback would take the key with it: kept for this session only
        session.info.setdefault(_KEYS, {})[day] = key
    else:
        crypto.transit[day] = (key, time.monotonic())
    return key


def _aad(workspace_id: str, day: str) -> bytes:
    return f"coreo/transit/{day}/{workspace_id}".encode()


def log_key(session: Session, workspace_id: str, partition_key: str) -> str:
    """The event-log key of an event whose anonymous or user id is ``partition_key``: a
    keyed hash of it (the identifier itself only in a database opened without the keys)."""
    hashed = identity_key(session, "log", partition_key) if partition_key else ""
    return f"{workspace_id}:{hashed}"


def is_sealed_record(payload: bytes) -> bool:
    return payload.startswith(_PREFIX)


def seal_record(
    session: Session, workspace_id: str, payload: bytes, *, like: bytes | None = None
) -> bytes:
    """An event-log payload sealed with today's transit key (as it is with sealing off).
    ``like``: a sealed payload this one replaces in place, whose day's key it takes (a
    partition's records keep their days in order; ``destroy_unused_keys`` relies on it)."""
    day = _day_text(like) if like is not None else None
    return seal_records(session, workspace_id, [payload], day=day)[0]


def seal_records(
    session: Session, workspace_id: str, payloads: Sequence[bytes], *, day: str | None = None
) -> list[bytes]:
    """``seal_record`` of each of ``payloads``, with one key (today's, or ``day``'s)."""
    if not payloads or not _sealing(session):
        return list(payloads)
    day = day or utcnow().strftime("%Y%m%d")
    key = _key(session, day, create=True)
    assert key is not None  # noqa: S101 - made when missing
    cipher, aad, head = AESGCM(key), _aad(workspace_id, day), _PREFIX + day.encode() + b":"
    sealed = []
    for payload in payloads:
        nonce = os.urandom(_NONCE)
        sealed.append(b"".join((head, nonce, cipher.encrypt(nonce, payload, aad))))
    return sealed


def open_record(session: Session, workspace_id: str, payload: bytes) -> bytes:
    """An event-log payload as it was appended; raises ``TransitKeyGone`` when its day's
    key was destroyed. A plain payload is returned as it is."""
    if not payload.startswith(_PREFIX):
        return payload
    day = _day_text(payload)
    key = None if day is None else _key(session, day, create=False)
    if day is None or key is None:
        raise TransitKeyGone(f"the transit key of {day} was destroyed")
    try:
        return AESGCM(key).decrypt(
            payload[_HEAD : _HEAD + _NONCE], payload[_HEAD + _NONCE :], _aad(workspace_id, day)
        )
    except InvalidTag:
        raise TransitKeyGone("the record does not open with its transit key") from None


def record_text(payload: bytes) -> str:
    """A sealed event-log payload as a dead letter keeps it (text), or a plain one decoded."""
    if not payload.startswith(_PREFIX):
        return payload.decode("utf-8", "replace")
    return payload[:_HEAD].decode() + base64.urlsafe_b64encode(payload[_HEAD:]).decode()


def seal_text(session: Session, workspace_id: str, text: str) -> str:
    """A dead letter's payload sealed with today's transit key (as it is with sealing off
    or when it is sealed already)."""
    if text.startswith(_TEXT_PREFIX):
        return text
    sealed = seal_record(session, workspace_id, text.encode())
    return record_text(sealed) if sealed.startswith(_PREFIX) else text


def open_text(session: Session, workspace_id: str, text: str) -> str:
    """A dead letter's payload as it was given; one whose key was destroyed stays sealed."""
    if not text.startswith(_TEXT_PREFIX) or len(text) < _HEAD:
        return text
    try:
        blob = text[:_HEAD].encode() + base64.urlsafe_b64decode(text[_HEAD:])
        return open_record(session, workspace_id, blob).decode("utf-8", "replace")
    except (TransitKeyGone, ValueError):
        return text


@event.listens_for(DeadLetter, "load")
def _open_loaded_letter(target: DeadLetter, context: Any) -> None:
    text = target.__dict__.get("payload")
    if isinstance(text, str) and text.startswith(_TEXT_PREFIX):
        with context.session.no_autoflush:
            plain = open_text(context.session, target.workspace_id, text)
        attributes.set_committed_value(target, "payload", plain)


@event.listens_for(DeadLetter, "refresh")
def _open_refreshed_letter(target: DeadLetter, context: Any, _attributes: Any) -> None:
    _open_loaded_letter(target, context)


@event.listens_for(Session, "after_soft_rollback")
def _forget_made_keys(session: Session, _previous: Any) -> None:
    """A key made in a rolled-back savepoint is gone from the keyring: never seal with it."""
    session.info.pop(_KEYS, None)


def _parse_day(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:])) if len(text) == _DAY else None
    except ValueError:
        return None


def _day_text(payload: bytes) -> str | None:
    """The day (yyyymmdd) whose key sealed ``payload``; None for a plain one."""
    if not payload.startswith(_PREFIX):
        return None
    text = payload[len(_PREFIX) : _HEAD - 1].decode("ascii", "replace")
    return text if _parse_day(text) is not None else None


def _day_of(payload: bytes) -> date | None:
    text = _day_text(payload)
    return None if text is None else _parse_day(text)


def _heads(session: Session, log: EventLog | None, scan: int) -> Iterator[list[bytes]]:
    """The first ``scan`` payloads of each partition: of the SQL log through the session
    (what it trimmed in this transaction is gone), of another through the log."""
    if log is not None and not isinstance(log, SqlEventLog):
        for partition in range(log.partitions):
            yield [r.payload for r in log.read(partition, 0, scan)]
        return
    connection = session.connection()
    for partition in connection.scalars(select(_LOG.c.partition_no).distinct()).all():
        yield [
            bytes(p)
            for p in connection.scalars(
                select(_LOG.c.payload)
                .where(_LOG.c.partition_no == partition)
                .order_by(_LOG.c.log_offset)
                .limit(scan)
            )
        ]


def _oldest_in_log(session: Session, log: EventLog | None, scan: int) -> date | None:
    """The day of the oldest sealed record the log still holds (each partition's first
    sealed record; days only grow along a partition). A partition whose first ``scan``
    records are all plain counts as holding today's (nothing is destroyed: unsure)."""
    oldest: date | None = None
    for payloads in _heads(session, log, scan):
        day = next((d for p in payloads if (d := _day_of(p)) is not None), None)
        if day is None and len(payloads) == scan:
            day = utcnow().date()
        if day is not None and (oldest is None or day < oldest):
            oldest = day
    return oldest


def destroy_unused_keys(
    session: Session, log: EventLog | None, *, now: datetime | None = None, scan: int = 1000
) -> list[str]:
    """Destroy the transit keys no record of the event log (``log``; None: the SQL log of
    this database) and no dead letter of any workspace can need any more, a day's grace
    kept; return their days. Today's and yesterday's keys always stay."""
    now = now or utcnow()
    keep_from = (now - _GRACE).date()
    in_log = _oldest_in_log(session, log, scan)
    if in_log is not None:
        keep_from = min(keep_from, in_log - _GRACE)
    # On the connection: a workspace's session would see its own letters only. The day
    # each letter was sealed on (a record dead-lettered as it was keeps its older day).
    oldest_letter = session.connection().scalar(
        select(func.min(func.substr(_LETTERS.c.payload, len(_PREFIX) + 1, _DAY))).where(
            _LETTERS.c.payload.startswith(_TEXT_PREFIX)
        )
    )
    letter_day = _parse_day(str(oldest_letter)) if oldest_letter else None
    if letter_day is not None:
        keep_from = min(keep_from, letter_day - _GRACE)
    keys = keys_of(session)
    names = keys.keyring_names(session, _NAME)
    days = sorted(
        day
        for name in names
        if (parsed := _parse_day(day := name[len(_NAME) :])) is not None and parsed < keep_from
    )
    if days:
        gone = [_NAME + day for day in days]
        keys.delete_keyring_entries(session, gone)
        if (crypto := crypto_of(session)) is not None:
            for day in days:
                crypto.transit.pop(day, None)
    return days
