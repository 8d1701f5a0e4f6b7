"""The data map: the data categories every stored column holds.

Every column of every table is listed here (a test fails when a table or column is added
without its categories), so the governance code knows where personal data lives without
being told again:

* erasure searches every column holding personal data for what is left of a person after
  the targeted deletes (``personal_columns``): a table added later cannot be forgotten;
* the record of processing activities lists the categories held (``categories_held``);
* retention knows which category a table's rows belong to.

Categories (GDPR Art. 4(1), Art. 30(1)(c)): ``identifiers`` (user ids, cookies, device ids,
loyalty cards, external ids), ``contact`` (e-mail, phone, address), ``demographic``
(name, birthday, gender), ``behavioural`` (events: what a person did where),
``transactional`` (orders, amounts), ``support_content`` (what a person wrote),
``inferred`` (computed traits, scores, matches), ``consent`` (decisions and their proof),
``pseudonymous`` (Coreo's own random ids: personal data only together with the rest),
``technical`` (no personal data). Special categories (Art. 9: health, religion, ethnic
origin, political opinions, trade-union membership, sex life or orientation, genetic and
biometric data) are not held: ingestion refuses them (``SPECIAL_CATEGORY_FIELDS``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal, get_args

__all__ = [
    "CATEGORIES",
    "DATA_MAP",
    "PERSONAL",
    "SPECIAL_CATEGORY_FIELDS",
    "Category",
    "categories_held",
    "fold",
    "is_special_category",
    "personal_columns",
]

Category = Literal[
    "identifiers",
    "contact",
    "demographic",
    "behavioural",
    "transactional",
    "support_content",
    "inferred",
    "consent",
    "pseudonymous",
    "technical",
]
CATEGORIES: tuple[Category, ...] = get_args(Category)
PERSONAL: frozenset[Category] = frozenset(CATEGORIES) - {"pseudonymous", "technical"}
"""Categories that identify or describe a person on their own."""

_T: tuple[Category, ...] = ("technical",)
_P: tuple[Category, ...] = ("pseudonymous",)
_EVENT: tuple[Category, ...] = (
    "identifiers",
    "contact",
    "demographic",
    "behavioural",
    "transactional",
    "support_content",
)
_TRAIT: tuple[Category, ...] = ("contact", "demographic", "transactional", "inferred")


def _of(names: str, categories: tuple[Category, ...]) -> dict[str, tuple[Category, ...]]:
    """Columns (named space-separated) that hold ``categories``."""
    return dict.fromkeys(names.split(), categories)


def _technical(names: str) -> dict[str, tuple[Category, ...]]:
    """Columns (space-separated) that hold no personal data."""
    return _of(names, _T)


DATA_MAP: dict[str, dict[str, tuple[Category, ...]]] = {
    "workspaces": _technical("id slug display_name created_at updated_at"),
    "api_keys": _technical(
        "id workspace_id kind name prefix secret_hash scopes "
        "rate_limit_per_second created_at created_by expires_at revoked_at "
        "revoked_by last_used_at"
    ),
    "audit_chains": _technical("chain last_seq last_hash"),
    # Audit entries name profiles by id only, never by their data (checked by the erasure
    # test): the accountability record (Art. 5(2)) outlives an erasure.
    "audit_entries": {
        **_technical("chain seq occurred_at actor action prev_hash hash"),
        "target": _P,
        "details": _P,
    },
    "event_log": {
        **_technical("partition_no log_offset workspace_id appended_at"),
        "key": ("identifiers",),
        "payload": _EVENT,
    },
    "event_log_heads": _technical("partition_no last_offset"),
    "event_log_consumers": _technical("consumer_group partition_no log_offset updated_at"),
    "event_log_members": _technical("consumer_group owner expires_at"),
    "event_log_leases": _technical("consumer_group partition_no owner expires_at"),
    "events": {
        **_technical("workspace_id message_id type event timestamp received_at"),
        "user_id": ("identifiers",),
        "anonymous_id": ("identifiers",),
        "profile_id": _P,
        "payload": _EVENT,
    },
    "ingest_seen_messages": _technical("message_id workspace_id received_at"),
    "dead_letters": {
        **_technical(
            "id workspace_id stage event_type event_name message_id key_id "
            "received_at created_at status replay_count replayed_at"
        ),
        "reason": ("support_content",),  # an error message may quote a value
        "payload": _EVENT,
    },
    "tracking_plans": _technical(
        "id workspace_id key_id mode events traits allow_unplanned version updated_at updated_by"
    ),
    "tracking_plan_violations": {
        **_technical(
            "id workspace_id key_id plan_version event_type event_name message_id action created_at"
        ),
        "errors": ("support_content",),  # a schema error may quote the value it refused
    },
    "import_jobs": _technical(
        "id workspace_id source file_name file_sha256 file_bytes format "
        "encoding delimiter mapping mapping_sha256 stored_path key_id status "
        "rows_read rows_accepted rows_duplicate rows_rejected resumed owner "
        "error created_by created_at updated_at finished_at"
    ),
    "profiles": {
        **_technical("workspace_id created_at updated_at merged_at"),
        "id": _P,
        "merged_into": _P,
    },
    "profile_identities": {
        **_technical("workspace_id type first_seen last_seen shared"),
        "value": ("identifiers", "contact"),
        "profile_id": _P,
        "users": ("identifiers",),
        "sealed": ("identifiers", "contact"),
        "sealed_by": _P,
    },
    "profile_merges": {
        **_technical("id workspace_id reason identifier_type message_id at undone_at"),
        "survivor_id": _P,
        "merged_id": _P,
        "identities": ("identifiers", "contact"),
    },
    "profile_merge_refusals": {
        **_technical("id workspace_id identifier_type reason message_id at"),
        "profile_ids": _P,
    },
    "profile_splits": {
        **_technical("id workspace_id merge_id actor at"),
        "first_id": _P,
        "second_id": _P,
    },
    "identity_rules": _technical("workspace_id rules version updated_at updated_by"),
    "identity_match_reviews": {
        **_technical(
            "id workspace_id probability weight status created_at decided_at decided_by outcome"
        ),
        "left_id": _P,
        "right_id": _P,
        "explanation": ("inferred", "demographic", "contact"),  # compared values
    },
    "profile_traits": {
        **_technical("workspace_id name source observed_at first_seen_at message_id"),
        "profile_id": _P,
        "value": _TRAIT,
        "search_value": _TRAIT,
    },
    "computed_trait_definitions": _technical(
        "workspace_id name definition version status created_at updated_at"
    ),
    "computed_trait_values": {
        **_technical("workspace_id name expires_at updated_at"),
        "profile_id": _P,
        "state": ("inferred", "behavioural"),
        "value": ("inferred",),
    },
    "computed_trait_dirty": {"workspace_id": _T, "profile_id": _P},
    "computed_trait_backfills": _technical(
        "id workspace_id names status phase events_total profiles_written error "
        "created_at started_at finished_at owner heartbeat_at"
    ),
    "consent_records": {
        **_technical("id workspace_id actor recorded_at"),
        "profile_id": _P,
        **_of(
            "purpose channel status objection legal_basis source collection_point "
            "notice_version notice_hash ip_hash user_agent_hash at",
            ("consent",),
        ),
    },
    "consent_purposes": _technical("workspace_id taxonomy version updated_at updated_by"),
    "privacy_requests": {
        **_technical(
            "id workspace_id type status verification "
            "received_at due_at extended extension_reason completed_at evidence "
            "rejection_reason created_by updated_at"
        ),
        "profile_id": _P,
        "details": ("contact", "demographic"),  # a rectification's corrected values
        "verification_method": ("support_content",),  # may quote what was checked
    },
    "privacy_suppressions": {
        **_technical("id workspace_id kind request_id created_at lifted_at lifted_reason"),
        "key_hash": _P,  # keyed hash: unusable without the installation's key
        "profile_id": _P,
    },
    "privacy_data_files": _technical(
        "id workspace_id kind path format rows purpose created_by created_at erased_at"
    ),
    "privacy_data_keys": {
        **_technical("workspace_id wrapped created_at"),
        "profile_id": _P,
    },
    "privacy_keyring": _technical("name wrapped created_at"),
    "privacy_key_store_binding": _technical("id store_id bound_at"),
    "privacy_legal_holds": {
        **_technical(
            "id workspace_id category reason created_by created_at released_at released_by"
        ),
        "profile_id": _P,
    },
}


def personal_columns() -> dict[str, list[str]]:
    """Table → the columns that may hold a person's data on their own."""
    found: dict[str, list[str]] = {}
    for table, columns in DATA_MAP.items():
        names = [c for c, cats in columns.items() if PERSONAL.intersection(cats)]
        if names:
            found[table] = names
    return found


def categories_held() -> dict[Category, list[str]]:
    """Personal-data category → the tables holding it."""
    held: dict[Category, list[str]] = {}
    for table, columns in DATA_MAP.items():
        for cats in columns.values():
            for category in cats:
                if category in PERSONAL and table not in held.setdefault(category, []):
                    held[category].append(table)
    return held


SPECIAL_CATEGORY_FIELDS: tuple[str, ...] = (
    "health",
    "healthcondition",
    "medicalcondition",
    "diagnosis",
    "disability",
    "pregnancy",
    "religion",
    "religiousbelief",
    "confession",
    "ethnicity",
    "ethnicorigin",
    "race",
    "politicalopinion",
    "politicalparty",
    "tradeunion",
    "trademembership",
    "sexualorientation",
    "sexlife",
    "genetic",
    "geneticdata",
    "biometric",
    "biometricdata",
    "fingerprint",
    "criminalrecord",
)
"""Field names (compared lower-case, without ``_``, ``-`` or spaces) that carry special
categories of personal data (GDPR Art. 9, 10; revDSG Art. 5(c))."""
_FOLD = re.compile(r"[\s_\-]")


def fold(field: str) -> str:
    """A field name as special categories are compared: lower-case, no ``_ -`` or spaces."""
    # Names repeat from event to event: short ones (the clients' own) are folded once.
    return _fold_cached(field) if len(field) <= _CACHED_NAME else _FOLD.sub("", field).lower()


_CACHED_NAME = 64  # characters: longer names are folded each time, never kept


@lru_cache(maxsize=4096)
def _fold_cached(field: str) -> str:
    return _FOLD.sub("", field).lower()


def is_special_category(field: str) -> bool:
    return fold(field) in SPECIAL_CATEGORY_FIELDS
