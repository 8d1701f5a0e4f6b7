"""Encryption of personal data at rest, per person (GDPR Art. 25, 32), and crypto-shredding.

Key hierarchy:

* the **master key** (``COREO_MASTER_KEY`` or the key file, ``coreo.privacy.keys``) only
  derives the key-encryption key (KEK, HKDF-SHA256 "data-keys");
* every person (profile) has a random 256-bit **data key**, stored wrapped by the KEK
  (AES-256-GCM, bound to workspace and profile) in ``privacy_data_keys``;
* personal traits (``TraitRule.personal``: e-mail, phone, address, names, birthday, ...) are
  sealed with the person's data key (AES-256-GCM, bound to workspace, profile and trait
  name) as ``enc:v1:<base64url(nonce | ciphertext)>``;
* identifiers (user ids, cookies, e-mail addresses, device ids, external ids) are kept in
  ``profile_identities`` as their blind index (``identity_key``, what the resolver and
  the lookups search by) beside the value sealed with the data key of the profile that
  first held it (``sealed_by``, a member of the person's cluster); the event history keeps
  the index in its ``user_id``/``anonymous_id`` columns and seals ``userId``,
  ``anonymousId``, ``previousId``, ``context.device.id`` and ``context.ip`` inside the
  stored event;
* an installation **HMAC secret**, wrapped by the KEK in ``privacy_keyring``, derives the
  keys of consent proofs, erasure tombstones and the blind index that makes sealed traits
  and identifiers searchable by exact value.
* the keyring also holds the **transit keys** of the day that seal the event log's records
  and the dead letters before anybody knows whose they are (``coreo.privacy.transit``).

Sealing happens when a session flushes and opening when the ORM loads a trait, so the
domain code handles plain values; code that selects trait values as columns opens them
with ``open_value``. ``coreo keys rotate-master`` re-wraps every data key and the HMAC
secret under a new master key: nothing sealed has to be rewritten and every hash stays
comparable. Erasure deletes the person's data key (``shred``): anything it sealed, in
any copy or backup, can no longer be read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import event, select
from sqlalchemy.orm import Session, attributes

from coreo.config import Settings
from coreo.db import Database, utcnow
from coreo.errors import ConfigurationError
from coreo.identity.models import ProfileIdentity
from coreo.privacy.keys import derived_key, forget_key_files, master_key
from coreo.privacy.keystore import HMAC, KeyStore, key_store, key_store_of
from coreo.profiles.models import SEALED_PREFIX, ProfileTrait, search_key
from coreo.profiles.traits import DEFAULT_SCHEMA, TraitSchema

__all__ = [
    "Crypto",
    "blind_index",
    "crypto_of",
    "data_key",
    "data_keys",
    "enable",
    "existing_key",
    "fingerprint",
    "hash_key",
    "identity_key",
    "identity_values",
    "is_sealed",
    "kek_of",
    "keyring_secret",
    "keys_of",
    "looks_sealed",
    "open_computed",
    "open_identity",
    "open_message",
    "open_rows",
    "open_value",
    "preload",
    "reads_sealed",
    "rotate_master",
    "seal_computed",
    "seal_identity",
    "seal_identity_at_flush",
    "seal_message",
    "shred",
]

_INFO = "coreo.crypto"
_KEYS = "coreo.data_keys"  # session.info: (workspace, profile) -> unwrapped data key
_PLAIN = "coreo.plain"  # session.info: traits sealed for a flush, restored after it
_IDENTITY_PLAIN = "coreo.identity_plain"  # session.info: new identity rows → their values
_NONCE = 12
_KEYRING_MADE = "coreo.keyring_made"  # session.info: secrets this session made (uncommitted)
Field = tuple[str, dict[str, Any], str]  # an event's place: label, holder, name in it


@dataclass
class Crypto:
    """One installation's keys (read lazily: the master key file is made on first use)."""

    settings: Settings
    schema: TraitSchema = DEFAULT_SCHEMA
    _kek: bytes | None = None
    _hashes: dict[str, bytes] = field(default_factory=dict)
    # day → (transit key, when read: time.monotonic()), committed keys only
    transit: dict[str, tuple[bytes, float]] = field(default_factory=dict)

    @property
    def keys(self) -> KeyStore:
        """Where the wrapped keys live (``COREO_KEY_DATABASE_URL``, else the database)."""
        return key_store_of(self.settings)

    @property
    def seals(self) -> bool:
        return self.settings.encrypt_personal_data

    @property
    def kek(self) -> bytes:
        if self._kek is None:
            self._kek = kek_of(master_key(self.settings))
        return self._kek

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        """Unwrap with the KEK; after a failure, once more with the master key read again
        (``coreo keys rotate-master`` may have replaced the key file meanwhile)."""
        try:
            return _unwrap(self.kek, blob, aad)
        except ConfigurationError:
            forget_key_files()
            self._kek = None
            return _unwrap(self.kek, blob, aad)


def kek_of(master: bytes) -> bytes:
    return derived_key(master, "data-keys")


def enable(database: Database, settings: Settings) -> None:
    """Give every session of ``database`` the installation's keys."""
    database.session_info[_INFO] = Crypto(settings)


def crypto_of(session: Session) -> Crypto | None:
    found = session.info.get(_INFO)
    return found if isinstance(found, Crypto) else None


def keys_of(session: Session) -> KeyStore:
    """Where the keys of ``session``'s installation live (a database opened without the
    installation's keys has only its own tables)."""
    crypto = crypto_of(session)
    return crypto.keys if crypto is not None else key_store(None)


def _crypto(session: Session) -> Crypto:
    found = crypto_of(session)
    if found is None:
        raise ConfigurationError("this database was opened without the installation's keys")
    return found


def _wrap(kek: bytes, key: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(kek).encrypt(nonce, key, aad)


def _unwrap(kek: bytes, blob: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(kek).decrypt(bytes(blob[:_NONCE]), bytes(blob[_NONCE:]), aad)
    except InvalidTag:
        raise ConfigurationError(
            "a wrapped key does not open with this master key (wrong COREO_MASTER_KEY or key file?)"
        ) from None


def _key_aad(workspace_id: str, profile_id: str) -> bytes:
    return f"coreo/data-key/{workspace_id}/{profile_id}".encode()


def _value_aad(workspace_id: str, profile_id: str, name: str) -> bytes:
    return f"coreo/trait/{workspace_id}/{profile_id}/{name}".encode()


# -- installation secrets ---------------------------------------------------------------


def keyring_secret(
    session: Session, name: str, *, create: bool, settings: Settings | None = None
) -> tuple[bytes, bool] | None:
    """The installation secret ``name`` of the keyring, unwrapped, and whether it is still
    uncommitted (made by this session: a rollback takes it away, so a caller must not keep
    it beyond the session); made when missing and ``create``, else None. ``settings`` name
    the master key when the session's database was opened without it."""
    crypto = crypto_of(session) or (Crypto(settings) if settings is not None else None)
    if crypto is None:
        raise ConfigurationError("this database was opened without the installation's keys")
    made: set[str] = session.info.setdefault(_KEYRING_MADE, set())
    aad = _keyring_aad(name)
    wrapped = crypto.keys.keyring_entry(session, name)
    if wrapped is None:
        if not create:
            return None
        if not crypto.keys.separate:  # a key store of its own commits the entry at once
            made.add(name)
        secret, used = os.urandom(32), crypto.kek

        def rewrap(hmac_entry: bytes | None) -> bytes | None:
            return _wrap(crypto.kek, secret, aad) if _rotated(crypto, hmac_entry, used) else None

        wrapped = crypto.keys.add_keyring_entry(
            session, name, _wrap(used, secret, aad), utcnow(), rewrap
        )
    return crypto.unwrap(wrapped, aad), name in made


def _keyring_aad(name: str) -> bytes:
    return f"coreo/keyring/{name}".encode()


def _rotated(crypto: Crypto, hmac_entry: bytes | None, used: bytes) -> bool:
    """Whether ``coreo keys rotate-master`` replaced the master key since new keys were
    wrapped under KEK ``used``: the keyring's HMAC secret, as the transaction inserting
    them sees it, no longer opens with ``used`` (``unwrap`` then reads the master key
    again, and raises when neither opens it)."""
    if hmac_entry is None:
        return False
    crypto.unwrap(hmac_entry, _keyring_aad(HMAC))
    return crypto.kek != used


def hash_key(session: Session, purpose: str, settings: Settings | None = None) -> bytes:
    """The HMAC key for ``purpose`` (consent-proof, tombstone, blind-index), derived from
    the installation's HMAC secret (created on first use). ``settings`` name the master key
    when the session's database was opened without it."""
    crypto = crypto_of(session) or (Crypto(settings) if settings is not None else None)
    if crypto is None:
        raise ConfigurationError("this database was opened without the installation's keys")
    if purpose not in crypto._hashes:
        found = keyring_secret(session, HMAC, create=True, settings=settings)
        assert found is not None  # noqa: S101 - made when missing
        secret, uncommitted = found
        if uncommitted:  # not kept until committed: a rollback would take the secret with it
            return derived_key(secret, purpose)
        crypto._hashes[purpose] = derived_key(secret, purpose)
    return crypto._hashes[purpose]


def blind_index(session: Session, name: str, value: Any) -> str | None:
    """What a sealed trait is searched by: a keyed hash of its search key (exact match)."""
    key = search_key(name, value)
    return None if key is None else _blind(session, "h:", f"{name}\x1f{key}")


def _blind(session: Session, prefix: str, text: str) -> str:
    """``prefix`` and 40 hex digits of the blind-index HMAC of ``text``."""
    digest = hmac.digest(hash_key(session, "blind-index"), text.encode(), "sha256")
    return prefix + digest.hex()[:40]


def identity_key(session: Session, kind: str, value: str) -> str:
    """What ``profile_identities.value`` and the event history's ``user_id`` and
    ``anonymous_id`` hold for an identifier: a keyed hash of type and value (``"i:"`` and
    40 hex digits, exact match only). The same whether sealing is on or off, so switching
    ``encrypt_personal_data`` finds everything again; only a database opened without the
    installation's keys holds the values themselves."""
    if crypto_of(session) is None:
        return value
    return _blind(session, "i:", f"identity\x1f{kind}\x1f{value}")


# -- data keys --------------------------------------------------------------------------


def data_key(session: Session, workspace_id: str, profile_id: str) -> bytes:
    """The person's data key, created on first use (to seal with)."""
    cache: dict[tuple[str, str], bytes] = session.info.setdefault(_KEYS, {})
    found = cache.get((workspace_id, profile_id))
    if found is not None:
        return found
    data_keys(session, workspace_id, [profile_id])
    found = cache.get((workspace_id, profile_id))
    if found is None:
        raise ConfigurationError(f"no data key could be made for {profile_id}")
    return found


def existing_key(session: Session, workspace_id: str, profile_id: str) -> bytes | None:
    """The person's data key if it exists (to open with): reading never makes a key, so an
    erased person's destroyed key stays destroyed, even in a key store of its own."""
    _crypto(session)
    cache: dict[tuple[str, str], bytes] = session.info.setdefault(_KEYS, {})
    if (workspace_id, profile_id) not in cache:
        preload(session, workspace_id, [profile_id])
    return cache.get((workspace_id, profile_id))


def data_keys(session: Session, workspace_id: str, profile_ids: Iterable[str]) -> None:
    """Make sure these profiles have data keys, unwrapped in the session (many at once:
    one insert for those without one, where ``data_key`` costs a round trip each)."""
    crypto = _crypto(session)
    preload(session, workspace_id, profile_ids)
    cache: dict[tuple[str, str], bytes] = session.info.setdefault(_KEYS, {})
    missing = sorted({p for p in profile_ids if (workspace_id, p) not in cache})
    if not missing:
        return
    now, used = utcnow(), crypto.kek
    raw = {p: os.urandom(32) for p in missing}

    def rows(kek: bytes) -> list[dict[str, Any]]:
        return [
            {
                "workspace_id": workspace_id,
                "profile_id": p,
                "wrapped": _wrap(kek, raw[p], _key_aad(workspace_id, p)),
                "created_at": now,
            }
            for p in missing
        ]

    def rewrap(hmac_entry: bytes | None) -> list[dict[str, Any]] | None:
        return rows(crypto.kek) if _rotated(crypto, hmac_entry, used) else None

    crypto.keys.add_keys(session, rows(used), rewrap)
    preload(session, workspace_id, missing)


def preload(session: Session, workspace_id: str, profile_ids: Iterable[str]) -> None:
    """Unwrap the data keys of many profiles with one query per 500 (those without one get
    theirs when first sealed)."""
    crypto = crypto_of(session)
    if crypto is None:
        return
    cache: dict[tuple[str, str], bytes] = session.info.setdefault(_KEYS, {})
    wanted = {p for p in profile_ids if (workspace_id, p) not in cache}
    for profile_id, wrapped in crypto.keys.wrapped_keys(session, workspace_id, wanted).items():
        aad = _key_aad(workspace_id, profile_id)
        cache[(workspace_id, profile_id)] = crypto.unwrap(wrapped, aad)


def open_rows(
    session: Session, workspace_id: str, rows: Iterable[tuple[str, str, Any]]
) -> list[tuple[str, str, Any]]:
    """(profile id, trait name, stored value) rows with their values opened."""
    listed = list(rows)
    if any(is_sealed(v) for _, _, v in listed):
        preload(session, workspace_id, (p for p, _, v in listed if is_sealed(v)))
    return [(p, n, open_value(session, workspace_id, p, n, v)) for p, n, v in listed]


def shred(session: Session, workspace_id: str, profile_ids: Iterable[str]) -> int:
    """Destroy the data keys of these profiles (erasure). In a key store of its own they
    are destroyed when the caller's transaction commits (``coreo.privacy.keystore``)."""
    ids = sorted(set(profile_ids))
    cache: dict[tuple[str, str], bytes] = session.info.get(_KEYS, {})
    for profile_id in ids:
        cache.pop((workspace_id, profile_id), None)
    return keys_of(session).delete_keys(session, workspace_id, ids)


_SEALED_JSON = b'"' + SEALED_PREFIX.encode()  # how a sealed value starts in JSON text


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def _seal(key: bytes, value: Any, aad: bytes) -> str:
    nonce = os.urandom(_NONCE)
    sealed = nonce + AESGCM(key).encrypt(nonce, orjson.dumps(value), aad)
    return SEALED_PREFIX + base64.urlsafe_b64encode(sealed).decode()


def _open(key: bytes, token: str, aad: bytes) -> Any:
    blob = base64.urlsafe_b64decode(token[len(SEALED_PREFIX) :])
    return orjson.loads(AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], aad))


def open_value(session: Session, workspace_id: str, profile_id: str, name: str, value: Any) -> Any:
    """A trait value as stored → as it was given (a plain value is returned as it is)."""
    if not is_sealed(value):
        return value
    aad = _value_aad(workspace_id, profile_id, name)
    return _open_own(session, workspace_id, profile_id, value, aad, f"trait {name!r}")


def _open_own(
    session: Session, workspace_id: str, profile_id: str, token: str, aad: bytes, what: str
) -> Any:
    """A value sealed with the person's data key, opened; a clear error when it does not
    open (a key that is not the one it was sealed with)."""
    key = existing_key(session, workspace_id, profile_id)
    if key is None:
        raise ConfigurationError(
            f"the sealed {what} of {profile_id} has no data key (destroyed by an erasure?)"
        )
    try:
        return _open(key, token, aad)
    except (InvalidTag, ValueError):
        raise ConfigurationError(
            f"the sealed {what} of {profile_id} does not open with its data key"
        ) from None


def _computed_aad(workspace_id: str, profile_id: str, name: str, part: str) -> bytes:
    return f"coreo/computed/{workspace_id}/{profile_id}/{name}/{part}".encode()


def seal_computed(
    session: Session, workspace_id: str, profile_id: str, name: str, state: Any, value: Any
) -> tuple[Any, Any]:
    """A computed trait's state and value as stored when it aggregates a personal field
    (``last`` of an e-mail property, the distinct addresses of ``distinct_count``): each
    sealed with the person's data key, so that erasure shreds them in every copy. An empty
    state and a null value say nothing and stay as they are."""
    key = data_key(session, workspace_id, profile_id)
    if state and not is_sealed(state):
        state = _seal(key, state, _computed_aad(workspace_id, profile_id, name, "state"))
    if value is not None and not is_sealed(value):
        value = _seal(key, value, _computed_aad(workspace_id, profile_id, name, "value"))
    return state, value


def open_computed(
    session: Session, workspace_id: str, profile_id: str, name: str, state: Any, value: Any
) -> tuple[Any, Any]:
    """A computed trait's stored state and value → as computed (plain ones as they are)."""

    def aad(part: str) -> bytes:
        return _computed_aad(workspace_id, profile_id, name, part)

    what = f"computed trait {name!r}"
    opened = [
        _open_own(session, workspace_id, profile_id, stored, aad(part), what)
        if is_sealed(stored)
        else stored
        for part, stored in (("state", state), ("value", value))
    ]
    return opened[0], opened[1]


# -- identifiers ------------------------------------------------------------------------


def _identity_aad(workspace_id: str, owner: str, kind: str, key: str) -> bytes:
    return f"coreo/identity/{workspace_id}/{owner}/{kind}/{key}".encode()


def seal_identity_at_flush(session: Session, row: ProfileIdentity, plain: str) -> None:
    """Keep a new identity row's value beside its key when the session flushes: sealed
    with the data key of the profile it belongs to then, or plain with sealing off. A row
    keyed by its value itself (a database without the keys) needs nothing."""
    if row.value != plain:
        session.info.setdefault(_IDENTITY_PLAIN, {})[row] = plain


def _seal_identities(session: Session, pending: dict[ProfileIdentity, str], seals: bool) -> None:
    new = session.new  # built anew on every access: once, not once a row
    rows = [(row, plain) for row, plain in pending.items() if row in new]
    if not seals:
        for row, plain in rows:
            row.sealed, row.sealed_by = plain, None
        return
    owners: dict[str, set[str]] = {}
    for row, _ in rows:
        owners.setdefault(row.workspace_id, set()).add(row.profile_id)
    for workspace_id, profile_ids in owners.items():
        data_keys(session, workspace_id, profile_ids)
    for row, plain in rows:
        row.sealed = seal_identity(
            session, row.workspace_id, row.profile_id, row.type, row.value, plain
        )
        row.sealed_by = row.profile_id


def seal_identity(
    session: Session, workspace_id: str, owner: str, kind: str, key: str, plain: str
) -> str:
    """An identifier's value sealed with profile ``owner``'s data key, bound to its row."""
    data = data_key(session, workspace_id, owner)
    return _seal(data, plain, _identity_aad(workspace_id, owner, kind, key))


def open_identity(
    session: Session,
    workspace_id: str,
    kind: str,
    key: str,
    sealed: str | None,
    sealed_by: str | None,
) -> str:
    """An identity row's value: opened from ``sealed`` (kept plain there when ``sealed_by``
    is None: sealing was off), or the key itself (a database without the keys); the value
    of a row whose data key was destroyed reads ``[erased]``."""
    if sealed is None:
        return key
    if sealed_by is None:
        return sealed
    data = existing_key(session, workspace_id, sealed_by)
    try:
        if data is None:
            raise ValueError("destroyed")
        opened = _open(data, sealed, _identity_aad(workspace_id, sealed_by, kind, key))
    except (InvalidTag, ValueError):
        return "[erased]"
    return str(opened)


def identity_values(
    session: Session, workspace_id: str, rows: Iterable[Any]
) -> dict[tuple[str, str], str]:
    """(type, stored value) → value, for identity rows (ORM objects or rows with ``type``,
    ``value``, ``sealed`` and ``sealed_by``), their data keys read at once."""
    listed = list(rows)
    preload(session, workspace_id, {r.sealed_by for r in listed if r.sealed_by})
    return {
        (r.type, r.value): open_identity(
            session, workspace_id, r.type, r.value, r.sealed, r.sealed_by
        )
        for r in listed
    }


# -- events -----------------------------------------------------------------------------

_CONTAINERS = ("traits", "properties", "context.traits")
# Identifiers of the person (or their device) at fixed places of every call: always sealed.
_IDENTIFIER_FIELDS = ("userId", "anonymousId", "previousId", "context.device.id", "context.ip")


def _at_path(message: dict[str, Any], path: str) -> Any:
    holder: Any = message
    for part in path.split("."):
        holder = holder.get(part) if isinstance(holder, dict) else None
    return holder


def _fields(message: dict[str, Any], personal: Callable[[str], bool]) -> list[Field]:
    """The places of an event that hold personal data: (label, holder, name) where
    ``holder[name]`` is the value and ``label`` binds its sealing to the place."""
    found: list[Field] = []
    for path in _IDENTIFIER_FIELDS:
        parent, _, name = path.rpartition(".")
        holder = _at_path(message, parent) if parent else message
        if isinstance(holder, dict) and holder.get(name) is not None:
            found.append((path, holder, name))
    for path in _CONTAINERS:
        holder = _at_path(message, path)
        if isinstance(holder, dict):
            found.extend(
                (f"{path}.{name}", holder, name)
                for name, value in holder.items()
                if value is not None and personal(name)
            )
    return found


def looks_sealed(message: dict[str, Any], serialized: bytes | None = None) -> bool:
    """Whether a value a client sent, at a place ``seal_message`` seals, would pass for a
    sealed one (ingestion refuses it: it would not open). ``serialized``: the message as
    JSON, when the caller has it: most messages are then cleared by one substring search."""
    if serialized is not None and _SEALED_JSON not in serialized:
        return False
    return any(is_sealed(holder[name]) for _, holder, name in _fields(message, lambda _: True))


def reads_sealed(path: str, schema: TraitSchema = DEFAULT_SCHEMA) -> bool:
    """Whether an event path (``properties.email``, ``context``) reaches a field that
    ``seal_message`` seals: an identifier's place, a personal field of a container, or a
    whole container or parent holding them."""
    for fixed in (*_IDENTIFIER_FIELDS, *_CONTAINERS):
        if fixed == path or fixed.startswith(path + "."):
            return True  # the field itself, or a parent holding it
        if path.startswith(fixed + "."):
            return (
                fixed in _IDENTIFIER_FIELDS
                or schema.rule(path[len(fixed) + 1 :].split(".")[0]).personal
            )
    return False


def _event_aad(workspace_id: str, profile_id: str, message_id: str, path: str) -> bytes:
    return f"coreo/event/{workspace_id}/{profile_id}/{message_id}/{path}".encode()


def seal_message(
    session: Session, workspace_id: str, profile_id: str, message: dict[str, Any]
) -> dict[str, Any]:
    """A copy of an event whose personal fields are sealed with the person's key: its
    identifiers (``userId``, ``anonymousId``, ``previousId``, ``context.device.id``,
    ``context.ip``) and the traits, properties and context.traits named as personal in the
    trait schema (e-mail, phone, names, address, ...); the message itself is left as it is."""
    crypto = crypto_of(session)
    if crypto is None or not crypto.seals:
        return message
    schema = crypto.schema
    copy: dict[str, Any] = orjson.loads(orjson.dumps(message))
    found = [
        (label, holder, name)
        for label, holder, name in _fields(copy, lambda n: schema.rule(n).personal)
        if not is_sealed(holder[name])
    ]
    if not found:  # every event names someone: rare, so the copy is made up front
        return message
    key = data_key(session, workspace_id, profile_id)
    message_id = str(message.get("messageId"))
    for label, holder, name in found:
        aad = _event_aad(workspace_id, profile_id, message_id, label)
        holder[name] = _seal(key, holder[name], aad)
    return copy


def open_message(
    session: Session, workspace_id: str, profile_id: str | None, payload: str | bytes
) -> dict[str, Any]:
    """An event as stored → as it was received (its sealed fields opened). An event whose
    person was erased cannot be opened: its sealed fields read ``[erased]``."""
    message: dict[str, Any] = orjson.loads(payload)
    text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
    if SEALED_PREFIX not in text or profile_id is None:
        return message
    message_id = str(message.get("messageId"))
    key: bytes | None = None
    for label, holder, name in _fields(message, lambda _: True):
        value = holder[name]
        if not is_sealed(value):
            continue
        key = key or existing_key(session, workspace_id, profile_id)
        aad = _event_aad(workspace_id, profile_id, message_id, label)
        try:
            if key is None:
                raise ValueError("destroyed")
            holder[name] = _open(key, value, aad)
        except (InvalidTag, ValueError):
            holder[name] = "[erased]"
    return message


# -- the ORM hooks ----------------------------------------------------------------------


@event.listens_for(Session, "before_flush")
def _seal_traits(session: Session, _context: Any, _instances: Any) -> None:
    crypto = crypto_of(session)
    if crypto is None:
        return
    identities = session.info.pop(_IDENTITY_PLAIN, None)
    if identities:
        _seal_identities(session, identities, crypto.seals)
    if not crypto.seals:
        return
    sealed: list[tuple[ProfileTrait, Any]] = session.info.setdefault(_PLAIN, [])
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, ProfileTrait) or is_sealed(obj.value):
            continue
        if obj.value is None or not crypto.schema.rule(obj.name).personal:
            continue
        plain = obj.value
        key = data_key(session, obj.workspace_id, obj.profile_id)
        obj.search_value = blind_index(session, obj.name, plain)
        obj.value = _seal(key, plain, _value_aad(obj.workspace_id, obj.profile_id, obj.name))
        sealed.append((obj, plain))


@event.listens_for(Session, "after_flush_postexec")
def _restore_plain(session: Session, _context: Any) -> None:
    for obj, plain in session.info.pop(_PLAIN, []):
        attributes.set_committed_value(obj, "value", plain)


@event.listens_for(Session, "after_soft_rollback")
def _forget_keys(session: Session, _previous: Any) -> None:
    """A rolled-back savepoint may have made a data key that is gone now: read them anew."""
    session.info.pop(_KEYS, None)


@event.listens_for(ProfileTrait, "refresh")
def _open_refreshed(target: ProfileTrait, context: Any, _attributes: Any) -> None:
    _open_loaded(target, context)  # rows expired by a rollback are loaded again this way


@event.listens_for(ProfileTrait, "load")
def _open_loaded(target: ProfileTrait, context: Any) -> None:
    if not is_sealed(target.__dict__.get("value")):  # not loaded: nothing to open (no lazy load)
        return
    session = context.session
    with session.no_autoflush:
        plain = open_value(
            session, target.workspace_id, target.profile_id, target.name, target.value
        )
    attributes.set_committed_value(target, "value", plain)


# -- rotation ---------------------------------------------------------------------------


def rotate_master(database: Database, old_master: bytes, new_master: bytes) -> dict[str, int]:
    """Re-wrap every data key and the keyring under ``new_master`` in one transaction (of
    the key store, where the keys live); sealed values stay as they are. No key is added
    meanwhile: a key wrapped under the old master key and added after the re-wrapping is
    wrapped anew by the process adding it (``data_keys``)."""
    old, new = kek_of(old_master), kek_of(new_master)
    counts = {"data_keys": 0, "keyring": 0}
    installation = database.session_info.get(_INFO)
    if not isinstance(installation, Crypto):
        raise ConfigurationError("this database was opened without the installation's keys")
    store = installation.keys
    with (
        database.transaction(write=not store.separate) as session,
        store.tables_in(session, write=True, exclusive=True) as (own, keys, ring),
    ):
        connection = own.connection()
        for row in connection.execute(
            select(keys.c.workspace_id, keys.c.profile_id, keys.c.wrapped)
        ).all():
            aad = _key_aad(row.workspace_id, row.profile_id)
            key = _unwrap(old, bytes(row.wrapped), aad)
            connection.execute(
                keys.update()
                .where(
                    keys.c.workspace_id == row.workspace_id,
                    keys.c.profile_id == row.profile_id,
                )
                .values(wrapped=_wrap(new, key, aad))
            )
            counts["data_keys"] += 1
        for name, wrapped in connection.execute(select(ring.c.name, ring.c.wrapped)).all():
            aad = _keyring_aad(name)
            secret = _unwrap(old, bytes(wrapped), aad)
            connection.execute(
                ring.update().where(ring.c.name == name).values(wrapped=_wrap(new, secret, aad))
            )
            counts["keyring"] += 1
    return counts


def fingerprint(master: bytes) -> str:
    """A short, non-secret name for a master key (to tell keys apart in messages)."""
    return hashlib.sha256(b"coreo/fingerprint/" + master).hexdigest()[:12]
