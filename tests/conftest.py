"""Fixtures shared by every domain: settings, a database per backend, the app, tenants.

Every test that takes ``database`` (directly or through ``app``/``client``) runs twice: on
SQLite and on PostgreSQL. Service-backed variants skip when the service is unreachable, and
fail instead when COREO_REQUIRE_SERVICES=1 (as in CI).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

import coreo.models  # noqa: F401  (all tables on Base.metadata)
from coreo.app import create_app
from coreo.auth import service as auth_service
from coreo.config import Settings, get_settings
from coreo.db import Base, Database
from coreo.errors import ServiceUnavailableError
from coreo.eventlog.nats import NatsEventLog

REQUIRE_SERVICES = os.environ.get("COREO_REQUIRE_SERVICES") == "1"
POSTGRES_ADMIN_URL = os.environ.get(
    "COREO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("COREO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
NATS_URL = os.environ.get("COREO_TEST_NATS_URL", "nats://127.0.0.1:4222")


def service_unavailable(service: str, reason: object) -> None:
    """Skip, or fail when services are required: a missing service must never pass silently."""
    message = f"{service} is not reachable ({reason})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; COREO_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's COREO_* variables and coreo.toml out of the tests."""
    for name in list(os.environ):
        if name.startswith("COREO_") and name not in {
            "COREO_REQUIRE_SERVICES",
            "COREO_TEST_POSTGRES_URL",
            "COREO_TEST_REDIS_URL",
        }:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


# -- databases -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "coreo.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    database.dispose()
    return path


@contextmanager
def scratch_postgres_database(prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its URL, drop it afterwards."""
    admin = make_url(POSTGRES_ADMIN_URL)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        service_unavailable("PostgreSQL", str(error).splitlines()[0])
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated, dropped afterwards."""
    with scratch_postgres_database("coreo_test") as url:
        database = Database(url)
        database.migrate()
        database.dispose()
        yield url


def truncate_all(database: Database) -> None:
    """Empty every table (PostgreSQL), between tests."""
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The operational store, empty and migrated, once per backend."""
    if request.param == "sqlite":
        path = tmp_path / "coreo.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        db = Database(f"sqlite:///{path}")
    else:
        db = Database(request.getfixturevalue("postgres_url"))
        truncate_all(db)
    yield db
    db.dispose()


# -- app and tenants -------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return get_settings(home=tmp_path / "home", log_level="DEBUG")


@pytest.fixture
def app_factory(settings: Settings, database: Database) -> Callable[..., TestClient]:
    """Build a TestClient over an app with settings overridden by keyword."""

    def build(**overrides: object) -> TestClient:
        app_settings = settings.model_copy(update=overrides)
        return TestClient(create_app(app_settings, database=database))

    return build


@pytest.fixture
def client(app_factory: Callable[..., TestClient]) -> Iterator[TestClient]:
    with app_factory() as test_client:
        yield test_client


@dataclass(frozen=True)
class Tenant:
    workspace_id: str
    slug: str
    admin_token: str
    write_token: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_tenant(database: Database) -> Callable[[str], Tenant]:
    """Create a workspace with an admin key and a write key."""

    def make(slug: str) -> Tenant:
        with database.transaction() as session:
            ws = auth_service.create_workspace(session=session, slug=slug, actor="test")
            admin, write = auth_service.create_starter_keys(
                session=session, workspace_id=ws.id, label="test", actor="test"
            )
        return Tenant(ws.id, slug, admin.token, write.token)

    return make


@pytest.fixture
def tenant(make_tenant: Callable[[str], Tenant]) -> Tenant:
    return make_tenant("acme")


# -- NATS ------------------------------------------------------------------------------------


@pytest.fixture
def make_nats_log() -> Iterator[Callable[[int], NatsEventLog]]:
    """Build NATS event logs under names of their own; their streams go when the test ends."""
    logs: list[NatsEventLog] = []

    def make(partitions: int) -> NatsEventLog:
        log = NatsEventLog(
            NATS_URL, partitions, name=f"T{uuid.uuid4().hex[:12].upper()}", timeout=3
        )
        logs.append(log)
        try:
            log.ping()
        except ServiceUnavailableError as error:
            service_unavailable("nats", error)
        return log

    yield make
    for log in logs:
        with suppress(ServiceUnavailableError):
            log.delete_all()
        log.close()
