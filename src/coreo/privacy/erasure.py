"""Erasure (GDPR Art. 17, revDSG Art. 32(2)(c)): remove a person from every store.

``erase`` runs in the caller's transaction:

1. the person is the live profile, the profiles merged into it, every identifier they
   hold, and every event attributed to them or sent under one of their user or anonymous
   ids (the message ids);
2. targeted deletes: events, the event log's records (the SQL log's table here; a NATS
   log's streams are read through and cleaned by ``erase_from_log``), dead letters, tracking-plan
   violations, the processed-message guard, identities, traits, computed traits, consent
   records, merges, refusals, splits, match reviews, restrictions and the profiles;
3. a sweep of every column the data map (``coreo.privacy.datamap``) marks as personal,
   in every table, for the person's identifier values: a row that still holds one (another
   person's event quoting the address, a table added after this code was written) has the
   value replaced by ``[erased]``, or is deleted where the value is part of its key;
4. files: every recorded event export and every uploaded import file is rewritten without
   the rows that mention the person;
5. crypto-shredding: the person's data keys are destroyed, so whatever they sealed, in a
   copy or a backup, cannot be opened any more (``coreo.privacy.crypto``);
6. tombstones: the keyed hash of each identifier goes on the suppression list, so later
   events from the same identifiers are dropped unless they bring new consent;
7. the audit chain records what was removed, by counts; entries name the profile id only
   (a random id that, once its data is gone, identifies nobody).

A person under a legal hold is not erased (Art. 17(3)(e)): ``ConflictError``.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import String, Table, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.consent.models import ConsentRecord
from coreo.db import Base, Database, utcnow
from coreo.errors import ConflictError
from coreo.eventlog.base import EventLog, NewRecord
from coreo.eventlog.models import LogHead, LogRecord
from coreo.eventlog.sql import SqlEventLog
from coreo.history.models import EventRecord
from coreo.identity.models import (
    MatchReview,
    MergeRecord,
    Profile,
    ProfileIdentity,
    ProfileSplit,
    RefusedMerge,
)
from coreo.identity.service import cluster_members, lock_workspace, rules_for
from coreo.ingest.imports.models import ImportJob
from coreo.ingest.models import DeadLetter, PlanViolation, SeenMessage
from coreo.privacy import crypto, suppression, transit
from coreo.privacy.datamap import personal_columns
from coreo.privacy.files import rewrite_without, whole_values
from coreo.privacy.models import DataFile, DataKey, LegalHold, PrivacyRequest, Suppression
from coreo.profiles.models import ProfileTrait
from coreo.traits.models import TraitDirty, TraitValue

__all__ = [
    "ERASED",
    "LogScan",
    "Person",
    "erase",
    "find_person",
    "hold_on",
    "scan_log",
    "searches_ahead",
]

ERASED = "[erased]"
_CHUNK = 500
_LETTERS = typing.cast(Table, DeadLetter.__table__)
_LOG_COLUMNS = (LogRecord.partition_no, LogRecord.log_offset, LogRecord.key, LogRecord.payload)
_LOG_PAGE = 1000  # event-log records a query
_MIN_NEEDLE = 3  # shorter values are too common to be a person's trace
_NOT_SWEPT = {"audit_entries"}  # append-only hash chain: holds ids only (tested)


@dataclass(slots=True)
class Person:
    workspace_id: str
    profile_id: str  # the live profile
    members: list[str]  # it and the profiles merged into it
    identifiers: list[tuple[str, str]]  # (type, value)
    # (type, stored value): how the identity graph and the event history hold them (their
    # keyed hashes with personal data sealed, else the values again)
    keys: list[tuple[str, str]] = field(default_factory=list)
    message_ids: set[str] = field(default_factory=set)
    # Derived once from the identifiers:
    needles: list[str] = field(init=False)  # values that identify them anywhere, lower-case
    users: frozenset[str] = field(init=False)
    anonymous: frozenset[str] = field(init=False)
    user_keys: frozenset[str] = field(init=False)
    anonymous_keys: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        values = {v for _, v in self.identifiers} | {v for _, v in self.keys}
        self.needles = sorted({v.lower() for v in values if len(v) >= _MIN_NEEDLE})
        self.users = frozenset(v for t, v in self.identifiers if t == "user_id")
        self.anonymous = frozenset(v for t, v in self.identifiers if t == "anonymous_id")
        self.user_keys = frozenset(v for t, v in self.keys if t == "user_id")
        self.anonymous_keys = frozenset(v for t, v in self.keys if t == "anonymous_id")


def _chunks(values: Collection[str]) -> Iterable[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def find_person(session: Session, workspace_id: str, profile_id: str) -> Person:
    """Everything that identifies the person behind ``profile_id`` (a live profile)."""
    members = sorted(cluster_members(session, workspace_id, [profile_id]))
    rows = session.execute(
        select(
            ProfileIdentity.type,
            ProfileIdentity.value,
            ProfileIdentity.sealed,
            ProfileIdentity.sealed_by,
            ProfileIdentity.shared,
        ).where(
            ProfileIdentity.workspace_id == workspace_id,
            ProfileIdentity.profile_id.in_(members),
        )
    ).all()
    values = crypto.identity_values(session, workspace_id, rows)
    # A household's tablet is not this person's alone: neither its value nor its key goes.
    shared = {(r.type, r.value) for r in rows if r.shared}
    keys = {(str(r.type), str(r.value)) for r in rows}
    for (brought,) in session.execute(
        select(MergeRecord.identities).where(
            MergeRecord.workspace_id == workspace_id,
            or_(MergeRecord.survivor_id.in_(members), MergeRecord.merged_id.in_(members)),
        )
    ):
        keys.update((str(t), str(v)) for t, v in brought)
    keyed = crypto.crypto_of(session) is not None
    # Without the keys, what merges recorded are values; else keys, known only as keys.
    identifiers = {
        (t, values.get((t, v), v)) for t, v in keys - shared if (t, v) in values or not keyed
    }
    person = Person(
        workspace_id, profile_id, members, sorted(identifiers), keys=sorted(keys - shared)
    )
    conditions = [EventRecord.profile_id.in_(members)]
    if person.user_keys:
        conditions.append(EventRecord.user_id.in_(sorted(person.user_keys)))
    if person.anonymous_keys:
        conditions.append(EventRecord.anonymous_id.in_(sorted(person.anonymous_keys)))
    person.message_ids = {
        str(m)
        for (m,) in session.execute(
            select(EventRecord.message_id).where(
                EventRecord.workspace_id == workspace_id, or_(*conditions)
            )
        )
    }
    return person


def _delete_by(
    session: Session, workspace_id: str, model: Any, column: Any, values: Collection[str]
) -> int:
    removed = 0
    for chunk in _chunks(values):
        result = session.execute(
            delete(model).where(model.workspace_id == workspace_id, column.in_(chunk))
        )
        removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return removed


def _redact_json(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [_redact_json(v, pattern) for v in value]
    if isinstance(value, dict):
        return {pattern.sub(ERASED, k): _redact_json(v, pattern) for k, v in value.items()}
    return value


def _mentions(message: dict[str, Any], person: Person) -> bool:
    """Whether a logged message is the person's own (not one that only quotes them)."""
    return (
        str(message.get("messageId")) in person.message_ids
        or message.get("userId") in person.users
        or message.get("anonymousId") in person.anonymous
        or message.get("previousId") in person.users | person.anonymous
    )


@dataclass(frozen=True, slots=True)
class LogScan:
    """Which of a workspace's SQL event-log records are some people's own (by the log's
    key) or quote their values, found before the erasure's write transaction
    (``scan_log``), so that it opens those records only: the search through a log of
    millions takes seconds, during which no writer may wait.

    ``heads``: per partition, the last offset committed when the scan began; every record
    up to it was searched. Records after it (appended since) are searched by the erasure.
    Nothing searched can come to quote a value later: records are only appended, deleted,
    or redacted (which takes values out).

    The workspace's dead letters are searched the same way: ``letters`` are the ids
    searched, ``letters_found`` those quoting a needle. A letter's payload never changes
    but by an erasure's redaction, so the erasure opens those found and those not searched
    (dead-lettered since)."""

    workspace_id: str
    needles: frozenset[str]
    keys: frozenset[str]
    heads: dict[int, int]
    # (partition, offset) → the keys and needles the record matched: a retention run's
    # search serves many people, each erasure opens only the records that matched theirs
    found: dict[tuple[int, int], frozenset[str]]
    letters: frozenset[str] = frozenset()
    letters_found: dict[str, frozenset[str]] = field(default_factory=dict)

    def searched_for(self, person: Person) -> bool:
        """Whether the search looked for every value of the person (the dead letters')."""
        return self.workspace_id == person.workspace_id and self.needles.issuperset(person.needles)

    def covers(self, person: Person, keys: Collection[str]) -> bool:
        """Whether the search looked for the person's values and the log's keys."""
        return self.searched_for(person) and self.keys.issuperset(keys)

    def places_of(self, person: Person, keys: Collection[str]) -> list[tuple[int, int]]:
        theirs = set(person.needles) | set(keys)
        return [place for place, matched in self.found.items() if not matched.isdisjoint(theirs)]

    def letters_of(self, person: Person) -> set[str]:
        """The dead letters found quoting the person (when ``searched_for`` them)."""
        theirs = person.needles
        return {i for i, found in self.letters_found.items() if not found.isdisjoint(theirs)}


def _log_page(session: Session, ws: str, partition_no: int, after: int, upto: int | None) -> Any:
    """Up to a thousand of the workspace's records of a partition after offset ``after``,
    along the primary key (partition, offset): a page costs its own rows whatever the
    log's size (a workspace's rows in position order would be sorted anew for every page
    on SQLite: quadratic in the log)."""
    query = select(*_LOG_COLUMNS).where(
        LogRecord.partition_no == partition_no,
        LogRecord.log_offset > after,
        LogRecord.workspace_id == ws,
    )
    if upto is not None:
        query = query.where(LogRecord.log_offset <= upto)
    return session.execute(query.order_by(LogRecord.log_offset).limit(_LOG_PAGE)).all()


def _log_keys(session: Session, person: Person) -> set[str]:
    """The event-log keys the person's own records are appended under (keyed hashes of
    their user and anonymous ids, or the ids themselves when written without keys)."""
    ws, ids = person.workspace_id, sorted(person.users | person.anonymous)
    return {f"{ws}:{v}" for v in ids} | {transit.log_key(session, ws, v) for v in ids}


def searches_ahead(log: EventLog | None) -> bool:
    """Whether ``log`` is searched ahead of an erasure (``scan_log``): the SQL log is (None
    stands for it); an external one (NATS) is read through by ``erase_from_log``."""
    return log is None or isinstance(log, SqlEventLog)


def scan_log(
    source: Database | Session, people: Sequence[Person], log: EventLog | None = None
) -> LogScan | None:
    """Search the SQL event log for the records of ``people`` (of one workspace) and
    those quoting them. Given the database, a page per short read transaction: no write
    lock is held, and writers go on. Given a session (a transaction that erases several
    people), in it: one search for them all instead of one each. None without people, or
    when ``log`` is an external one (NATS: ``erase_from_log`` reads it through)."""
    if not people or not searches_ahead(log):
        return None

    def reading() -> AbstractContextManager[Session]:
        if isinstance(source, Session):
            return nullcontext(source)
        return source.transaction(write=False)

    ws = people[0].workspace_id
    needles = frozenset(n for person in people for n in person.needles)
    with reading() as session:
        keys = frozenset(k for person in people for k in _log_keys(session, person))
        rows = session.execute(select(LogHead.partition_no, LogHead.last_offset)).all()
        heads: dict[int, int] = {row.partition_no: row.last_offset for row in rows}
    found: dict[tuple[int, int], frozenset[str]] = {}
    for partition_no, head in sorted(heads.items()):
        for session, page in _pages(reading, ws, partition_no, -1, head):
            for row in page:
                matched = {row.key} & keys
                if needles:  # else only the keys can match: nothing to open
                    matched |= _needles_in(_opened(session, ws, bytes(row.payload)), needles)
                if matched:
                    found[(row.partition_no, row.log_offset)] = frozenset(matched)
    letters, letters_found = _scan_letters(reading, ws, needles)
    return LogScan(ws, needles, keys, heads, found, letters, letters_found)


def _scan_letters(
    reading: Callable[[], AbstractContextManager[Session]], ws: str, needles: frozenset[str]
) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The workspace's dead letters searched for ``needles``, a chunk per read transaction:
    the ids searched, and those quoting a needle → the needles they quote."""
    with reading() as session:
        ids = list(session.scalars(select(_LETTERS.c.id).where(_LETTERS.c.workspace_id == ws)))
    found: dict[str, frozenset[str]] = {}
    if not needles:
        return frozenset(ids), found
    for chunk in _chunks(ids):
        with reading() as session:
            for letter_id, stored in _letters_by_id(session, chunk):
                matched = _needles_in(transit.open_text(session, ws, stored), needles)
                if matched:
                    found[letter_id] = frozenset(matched)
    return frozenset(ids), found


def _letters_by_id(session: Session, ids: Sequence[str]) -> Sequence[Any]:
    """(id, payload as stored: sealed) of these dead letters."""
    query = select(_LETTERS.c.id, _LETTERS.c.payload).where(_LETTERS.c.id.in_(ids))
    return session.connection().execute(query).all()  # not the ORM's opened text


def _pages(
    reading: Callable[[], AbstractContextManager[Session]],
    ws: str,
    partition_no: int,
    after: int,
    upto: int | None,
) -> Iterator[tuple[Session, Sequence[Any]]]:
    """A partition's records of the workspace after ``after`` (up to ``upto``), page by
    page, each read in a session ``reading`` gives and handled before it closes."""
    while True:
        with reading() as session:
            rows = _log_page(session, ws, partition_no, after, upto)
            if not rows:
                return
            yield session, rows
        after = rows[-1].log_offset


def _opened(session: Session | None, workspace_id: str, payload: bytes) -> bytes | None:
    """A log record's payload opened; None when it cannot be (its transit key is gone, so
    is what it held; without a session, sealed records are passed over)."""
    if session is None:
        return None if transit.is_sealed_record(payload) else payload
    try:
        return transit.open_record(session, workspace_id, payload)
    except transit.TransitKeyGone:
        return None


def _needles_in(payload: bytes | str | None, needles: Collection[str]) -> set[str]:
    """The needles (lower-case values) that occur in an opened payload."""
    if payload is None:
        return set()
    text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
    lowered = text.lower()
    return {n for n in needles if n in lowered}


def _erase_log(
    session: Session, person: Person, pattern: re.Pattern[str], scan: LogScan | None = None
) -> tuple[int, int]:
    """The SQL event log's records: the person's own go, others have the values redacted.
    The payloads are sealed (``privacy.transit``), so records are opened and searched here:
    those ``scan`` found and those appended since it, or (without a scan that covers the
    person) every record of the workspace, a thousand a query."""
    keys = _log_keys(session, person)
    removed = redacted = 0
    if scan is None or not scan.covers(person, keys):
        scan = None
        removed = _delete_by(session, person.workspace_id, LogRecord, LogRecord.key, keys)
        if not person.needles:  # the key's delete reads the whole log (no index) ...
            return removed, redacted
    for rows in _candidate_pages(session, person, keys, scan):  # ... the scan spares it
        gone, redone = _erase_log_page(session, person, pattern, rows, keys)
        removed, redacted = removed + gone, redacted + redone
    return removed, redacted


def _candidate_pages(
    session: Session, person: Person, keys: Collection[str], scan: LogScan | None
) -> Iterator[Sequence[Any]]:
    """The records to open for the person: those ``scan`` found for them and those after
    its heads; without a scan, every record of the workspace."""
    ws = person.workspace_id
    if scan is not None:
        for partition_no, offsets in _by_partition(scan.places_of(person, keys)).items():
            for start in range(0, len(offsets), _CHUNK):
                yield session.execute(
                    select(*_LOG_COLUMNS).where(
                        LogRecord.workspace_id == ws,
                        LogRecord.partition_no == partition_no,
                        LogRecord.log_offset.in_(offsets[start : start + _CHUNK]),
                    )
                ).all()
    partitions = list(session.scalars(select(LogHead.partition_no).order_by(LogHead.partition_no)))
    for partition_no in partitions:
        after = -1 if scan is None else scan.heads.get(partition_no, -1)
        for _, rows in _pages(lambda: nullcontext(session), ws, partition_no, after, None):
            yield rows


def _by_partition(places: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = {}
    for partition_no, offset in sorted(places):
        grouped.setdefault(partition_no, []).append(offset)
    return grouped


def _erase_log_page(
    session: Session,
    person: Person,
    pattern: re.Pattern[str],
    rows: Sequence[Any],
    keys: Collection[str],
) -> tuple[int, int]:
    """Records of the workspace: the person's own (by ``keys``, the log's, or by what they
    hold) go, those quoting them are redacted in place (sealed again under their own
    day's key)."""
    ws = person.workspace_id
    removed = redacted = 0
    for partition, offset, key, payload in rows:
        where = (
            LogRecord.workspace_id == ws,
            LogRecord.partition_no == partition,
            LogRecord.log_offset == offset,
        )
        if key in keys:
            session.execute(delete(LogRecord).where(*where))
            removed += 1
            continue
        message = _quoting(session, ws, bytes(payload), person)
        if message is None:
            continue
        if _mentions(message, person):
            session.execute(delete(LogRecord).where(*where))
            removed += 1
        else:
            clean = transit.seal_record(  # in place: with the record's own day's key
                session, ws, orjson.dumps(_redact_json(message, pattern)), like=bytes(payload)
            )
            session.execute(update(LogRecord).where(*where).values(payload=clean))
            redacted += 1
    return removed, redacted


def _quoting(
    session: Session | None, workspace_id: str, payload: bytes, person: Person
) -> dict[str, Any] | None:
    """A log record's message when it names one of the person's values, else None (also
    when it cannot be read: its transit key is gone, so is what it held)."""
    opened = _opened(session, workspace_id, payload)
    if opened is None or not _needles_in(opened, person.needles):
        return None
    try:
        message = orjson.loads(opened)
    except orjson.JSONDecodeError:
        return None
    return message if isinstance(message, dict) else None


def erase_from_log(
    log: EventLog, person: Person, *, session: Session | None = None, batch: int = 1000
) -> tuple[int, int]:
    """An external log's records (NATS): the person's own are forgotten; a record that only
    quotes them is forgotten and appended again redacted (the pipeline's processed-message
    guard keeps it from being applied twice). Reads every partition from the start; sealed
    records are opened with ``session``'s keys (without one they are passed over)."""
    pattern = whole_values(person.needles)
    removed = redacted = 0
    for partition in range(log.partitions):
        after, end = 0, log.end_offset(partition)
        while after < end:
            records = log.read(partition, after, batch)
            if not records:
                break
            after = records[-1].offset
            gone: list[tuple[int, int]] = []
            again: list[NewRecord] = []
            for record in records:
                if record.workspace_id != person.workspace_id:
                    continue
                message = _quoting(session, record.workspace_id, record.payload, person)
                if message is None:
                    continue
                if _mentions(message, person):
                    gone.append((record.partition, record.offset))
                    continue
                clean = _redact_json(message, pattern)
                if clean != message:
                    gone.append((record.partition, record.offset))
                    payload = orjson.dumps(clean)
                    if session is not None:
                        payload = transit.seal_record(session, record.workspace_id, payload)
                    again.append(NewRecord(record.key, record.workspace_id, payload))
            if gone:
                log.forget(gone)
                removed += len(gone) - len(again)
            if again:
                log.append(again)
                redacted += len(again)
    return removed, redacted


def _own_dead_letters(
    session: Session, person: Person, pattern: re.Pattern[str], scan: LogScan | None = None
) -> int:
    """Dead letters that are the person's own events (never processed, so not among the
    message ids): deleted; those that quote them: redacted. Their payloads are sealed
    (``privacy.transit``), so letters are opened and searched here: those ``scan`` found
    and those dead-lettered since it or, without a scan that covers the person, all the
    workspace's letters."""
    if not person.needles:
        return 0
    ws = person.workspace_id
    connection = session.connection()
    mine: list[str] = []
    # Their ids first (the workspace's index), then the payloads by id: paging the
    # workspace's letters in id order would sort them all again for every page on SQLite.
    ids = list(connection.scalars(select(_LETTERS.c.id).where(_LETTERS.c.workspace_id == ws)))
    if scan is not None and scan.searched_for(person):
        found = scan.letters_of(person)
        ids = [i for i in ids if i in found or i not in scan.letters]
    for chunk in _chunks(ids):
        for letter_id, stored in _letters_by_id(session, chunk):
            text = transit.open_text(session, ws, stored)
            if not _needles_in(text, person.needles):
                continue
            try:
                message = orjson.loads(text)
            except orjson.JSONDecodeError:
                message = None
            if (
                not isinstance(message, dict)
                or _mentions(message, person)
                or pattern.fullmatch(str(message.get("userId") or message.get("anonymousId") or ""))
            ):
                mine.append(letter_id)
            else:
                clean = orjson.dumps(_redact_json(message, pattern)).decode()
                connection.execute(
                    update(_LETTERS)
                    .where(_LETTERS.c.id == letter_id)
                    .values(payload=transit.seal_text(session, ws, clean))
                )
    return _delete_by(session, ws, DeadLetter, DeadLetter.id, mine)


def _sealed_mentions(session: Session, person: Person) -> int:
    """Another profile's sealed trait holding one of the person's values (found by its
    blind index, as the sweep cannot read sealed values): replaced by ``[erased]``."""
    sealing = crypto.crypto_of(session)
    if sealing is None or not person.needles:
        return 0
    personal = [name for name, rule in sealing.schema.traits.items() if rule.personal]
    hashes = {
        h
        for name in personal
        for _, value in person.identifiers
        if (h := crypto.blind_index(session, name, value)) is not None
    }
    if not hashes:
        return 0
    result = session.execute(
        update(ProfileTrait)
        .where(
            ProfileTrait.workspace_id == person.workspace_id,
            ProfileTrait.search_value.in_(sorted(hashes)),
        )
        .values(value=ERASED, search_value=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _sweep(session: Session, person: Person, pattern: re.Pattern[str]) -> dict[str, int]:
    """Redact what is left of the person in every column the data map calls personal."""
    swept: dict[str, int] = {}
    if not person.needles:
        return swept
    tables: dict[str, Table] = {t.name: t for t in Base.metadata.sorted_tables}
    for name, columns in personal_columns().items():
        table = tables.get(name)
        if table is None or name in _NOT_SWEPT or name == LogRecord.__tablename__:
            continue
        keys = [c.name for c in table.primary_key.columns]
        for column_name in columns:
            column = table.c[column_name]
            text = func.lower(cast(column, String))
            query = select(*(table.c[k] for k in keys), column).where(
                or_(*(text.contains(n) for n in person.needles))
            )
            if "workspace_id" in table.c:
                query = query.where(table.c.workspace_id == person.workspace_id)
            for row in session.execute(query).all():
                where = [table.c[k] == row[i] for i, k in enumerate(keys)]
                value = row[-1]
                if column_name in keys:
                    if not isinstance(value, str) or not pattern.fullmatch(value):
                        continue  # "hanna@x.ch" is somebody else
                    session.execute(delete(table).where(*where))
                else:
                    clean = _redact_json(value, pattern)
                    if clean == value:  # the value only occurs inside a longer one
                        continue
                    session.execute(update(table).where(*where).values({column_name: clean}))
                swept[name] = swept.get(name, 0) + 1
    return swept


def _rewrite_files(session: Session, person: Person) -> dict[str, int]:
    ws = person.workspace_id
    rewritten: dict[str, int] = {}
    needles = person.needles + sorted(person.message_ids)
    now = utcnow()
    for data_file in session.scalars(
        select(DataFile).where(DataFile.workspace_id == ws, DataFile.kind == "events-export")
    ):
        gone = rewrite_without(Path(data_file.path), data_file.format, needles)
        if gone:
            data_file.rows = max(0, data_file.rows - gone)
            data_file.erased_at = now
            rewritten[data_file.path] = gone
    for job in session.scalars(
        select(ImportJob).where(ImportJob.workspace_id == ws, ImportJob.stored_path.is_not(None))
    ):
        gone = rewrite_without(Path(str(job.stored_path)), job.format, person.needles)
        if gone:
            rewritten[str(job.stored_path)] = gone
    return rewritten


def hold_on(session: Session, person: Person) -> str | None:
    """The id of a legal hold on the person (Art. 17(3)(e)), if there is one."""
    return session.scalar(
        select(LegalHold.id).where(
            LegalHold.workspace_id == person.workspace_id,
            LegalHold.profile_id.in_(person.members),
            LegalHold.released_at.is_(None),
        )
    )


def erase(
    session: Session,
    workspace_id: str,
    profile_id: str,
    *,
    tombstone_key: bytes | None,
    actor: str,
    request_id: str | None = None,
    reason: str = "request",
    log: EventLog | None = None,
    scan: LogScan | None = None,
) -> dict[str, Any]:
    """Erase the person behind ``profile_id`` (a live profile) and return what was done.
    Without ``tombstone_key`` no tombstones are left (retention: the person did not object
    to anything, they were only inactive for too long). ``scan``: the SQL log's records
    quoting the person, searched beforehand (``scan_log``); without one that covers the
    person's values, every record of the workspace is searched in this transaction."""
    lock_workspace(session, workspace_id)  # no worker batch of this workspace meanwhile
    person = find_person(session, workspace_id, profile_id)
    hold = hold_on(session, person)
    if hold is not None:
        raise ConflictError(
            f"profile {profile_id} is under legal hold {hold}: release it before erasing "
            "(GDPR Art. 17(3)(e))"
        )
    counts = _erase(session, person, tombstone_key, request_id, scan)
    if log is not None and not searches_ahead(log):  # the SQL log was done above
        gone, redone = erase_from_log(log, person, session=session)
        if gone:
            counts["removed"]["event_log"] = counts["removed"].get("event_log", 0) + gone
        if redone:
            counts["redacted"]["event_log"] = counts["redacted"].get("event_log", 0) + redone
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="privacy.erased",
        target=f"profile:{profile_id}",
        details={
            "reason": reason,
            "request": request_id,
            "removed": counts["removed"],
            "files": len(counts["files"]),
        },
    )
    return counts


def _erase(
    session: Session,
    person: Person,
    tombstone_key: bytes | None,
    request_id: str | None,
    scan: LogScan | None,
) -> dict[str, Any]:
    needles = person.needles
    pattern = whole_values(needles)
    messages = person.message_ids
    members = person.members
    ws = person.workspace_id
    removed: dict[str, int] = {}

    def note(table: str, count: int) -> None:
        if count:
            removed[table] = removed.get(table, 0) + count

    for keyed in (EventRecord, SeenMessage, DeadLetter, PlanViolation):  # by message id
        note(keyed.__tablename__, _delete_by(session, ws, keyed, keyed.message_id, messages))
    note(DeadLetter.__tablename__, _own_dead_letters(session, person, pattern, scan))
    log_removed, log_redacted = _erase_log(session, person, pattern, scan)
    note("event_log", log_removed)
    for owned in (ProfileIdentity, ProfileTrait, TraitValue, TraitDirty, ConsentRecord):
        note(owned.__tablename__, _delete_by(session, ws, owned, owned.profile_id, members))
    pairs: tuple[tuple[Any, tuple[Any, Any]], ...] = (
        (MergeRecord, (MergeRecord.survivor_id, MergeRecord.merged_id)),
        (ProfileSplit, (ProfileSplit.first_id, ProfileSplit.second_id)),
        (MatchReview, (MatchReview.left_id, MatchReview.right_id)),
    )
    for model, columns in pairs:
        for column in columns:
            note(model.__tablename__, _delete_by(session, ws, model, column, members))
    refusal_text = cast(RefusedMerge.profile_ids, String)
    for profile in members:
        result = session.execute(
            delete(RefusedMerge).where(
                RefusedMerge.workspace_id == person.workspace_id,
                refusal_text.contains(profile),
            )
        )
        note(RefusedMerge.__tablename__, int(result.rowcount or 0))  # type: ignore[attr-defined]
    note(
        Suppression.__tablename__,
        _delete_by(session, ws, Suppression, Suppression.profile_id, members),
    )
    note(Profile.__tablename__, _delete_by(session, ws, Profile, Profile.id, members))
    session.execute(  # what a rectification corrected, what an identity check quoted
        update(PrivacyRequest)
        .where(
            PrivacyRequest.workspace_id == person.workspace_id,
            PrivacyRequest.profile_id.in_(members),
        )
        .values(details={}, verification_method=None)
    )
    note(DataKey.__tablename__, crypto.shred(session, person.workspace_id, members))
    session.flush()
    swept = _sweep(session, person, pattern)
    if sealed := _sealed_mentions(session, person):
        swept[ProfileTrait.__tablename__] = swept.get(ProfileTrait.__tablename__, 0) + sealed
    files = _rewrite_files(session, person)
    tombstones = (
        suppression.add_tombstones(
            session,
            person.workspace_id,
            tombstone_key,
            person.identifiers,
            request_id=request_id,
            mailbox_keys=rules_for(session, person.workspace_id).email_key == "mailbox",
        )
        if tombstone_key is not None
        else 0
    )
    return {
        "profiles": len(members),
        "identifiers": len(person.identifiers),
        "removed": removed,
        "redacted": {**swept, **({"event_log": log_redacted} if log_redacted else {})},
        "files": files,
        "tombstones": tombstones,
    }
