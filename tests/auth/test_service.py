"""Key minting, hashing, authentication and the session-level workspace guard."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import inspect, select, text

from coreo.auth import service as auth_service
from coreo.auth.models import ApiKey
from coreo.auth.service import InvalidCredentialsError, KeyKind, Principal
from coreo.db import Base, Database
from coreo.errors import ConflictError, InvalidInputError, NotFoundError
from tests.conftest import Tenant
from tests.helpers import key_prefix, key_secret


def test_token_is_never_stored(database: Database, tenant: Tenant) -> None:
    secret_part = key_secret(tenant.admin_token)
    with database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                dumped = repr(tuple(row))
                assert tenant.admin_token not in dumped
                assert secret_part not in dumped, table.name


def test_authenticate_returns_principal(database: Database, tenant: Tenant) -> None:
    with database.transaction(write=False) as session:
        principal = auth_service.authenticate(session=session, token=tenant.write_token)
    assert principal.workspace_id == tenant.workspace_id
    assert principal.kind is KeyKind.WRITE
    assert principal.has_scope("ingest") and not principal.has_scope("admin")


def test_admin_implies_every_scope() -> None:
    admin = Principal("ws", "key", "coreo_sk_x", KeyKind.SECRET, frozenset({"admin"}), None)
    reader = Principal(
        "ws", "key", "coreo_sk_x", KeyKind.SECRET, frozenset({"profiles:read"}), None
    )
    assert all(admin.has_scope(s) for s in auth_service.SCOPES)
    assert reader.has_scope("profiles:read") and not reader.has_scope("profiles:write")


@pytest.mark.parametrize("scopes", [[], ["root"], ["admin", "everything"]])
def test_invalid_scopes_are_refused(database: Database, tenant: Tenant, scopes: list[str]) -> None:
    with database.transaction() as session, pytest.raises(InvalidInputError):
        auth_service.create_api_key(
            session=session,
            workspace_id=tenant.workspace_id,
            name="x",
            kind=KeyKind.SECRET,
            scopes=scopes,
            actor="test",
        )


@pytest.mark.parametrize("slug", ["", "Upper", "-lead", "with space", "x" * 64, "ümlaut"])
def test_invalid_workspace_names_are_refused(database: Database, slug: str) -> None:
    with database.transaction() as session, pytest.raises(InvalidInputError):
        auth_service.create_workspace(session=session, slug=slug, actor="test")


def test_duplicate_workspace_is_conflict(database: Database, tenant: Tenant) -> None:
    with database.transaction() as session, pytest.raises(ConflictError):
        auth_service.create_workspace(session=session, slug="acme", actor="test")


def test_revoked_key_fails_authentication(database: Database, tenant: Tenant) -> None:
    with database.transaction() as session:
        prefix = key_prefix(tenant.admin_token)
        auth_service.revoke_api_key(
            session=session, workspace_id=tenant.workspace_id, key_ref=prefix, actor="test"
        )
    with (
        database.transaction(write=False) as session,
        pytest.raises(InvalidCredentialsError, match="revoked"),
    ):
        auth_service.authenticate(session=session, token=tenant.admin_token)


def test_confined_session_cannot_read_other_workspace(
    database: Database, make_tenant: Callable[[str], Tenant]
) -> None:
    a, b = make_tenant("alpha"), make_tenant("beta")
    with database.transaction(workspace_id=a.workspace_id, write=False) as session:
        # Even a query that forgets the workspace filter sees only alpha's rows.
        keys = session.execute(select(ApiKey)).scalars().all()
        assert {k.workspace_id for k in keys} == {a.workspace_id}
        with pytest.raises(NotFoundError):
            auth_service.get_api_key(
                session=session,
                workspace_id=b.workspace_id,
                key_ref=key_prefix(b.admin_token),
            )


def test_confined_session_cannot_write_other_workspace(
    database: Database, make_tenant: Callable[[str], Tenant]
) -> None:
    a, b = make_tenant("alpha"), make_tenant("beta")
    with (
        pytest.raises(PermissionError),
        database.transaction(workspace_id=a.workspace_id) as session,
    ):
        auth_service.create_api_key(
            session=session,
            workspace_id=b.workspace_id,
            name="smuggled",
            kind=KeyKind.SECRET,
            scopes=["admin"],
            actor="test",
        )
    with database.engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM api_keys WHERE name = 'smuggled'"))
        assert count.scalar_one() == 0


def test_every_customer_table_is_workspace_scoped() -> None:
    """A table added later without workspace_id fails here unless it is listed with a reason."""
    unscoped = {
        "workspaces": "the tenants themselves",
        "audit_chains": "scoped by `chain` (= workspace id), append-only",
        "audit_entries": "scoped by `chain` (= workspace id), append-only",
        "event_log_heads": "log positions per partition; no customer data",
        "event_log_consumers": "consumer-group offsets; no customer data",
        "event_log_members": "live workers of a consumer group; no customer data",
        "event_log_leases": "which worker processes which partition; no customer data",
        "privacy_keyring": "the installation's wrapped HMAC secret; no customer data",
        "privacy_key_store_binding": "which key store holds the keys; no customer data",
    }
    for table in Base.metadata.sorted_tables:
        if table.name in unscoped:
            continue
        column = table.columns.get("workspace_id")
        assert column is not None, f"{table.name} has no workspace_id column"
        assert not column.nullable
        assert any(fk.column.table.name == "workspaces" for fk in column.foreign_keys), table.name
    assert set(unscoped) <= {t.name for t in Base.metadata.sorted_tables}
    assert inspect(ApiKey).columns["workspace_id"] is not None
