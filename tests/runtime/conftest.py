"""Deployments for tests with real processes: each is a COREO_HOME plus the environment of
one backend combination (embedded SQLite, PostgreSQL with the SQL log, PostgreSQL with NATS)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from coreo.auth import service as auth_service
from coreo.config import Settings, get_settings
from coreo.db import Database
from coreo.eventlog import build_event_log
from coreo.eventlog.base import EventLog
from coreo.eventlog.nats import NatsEventLog
from tests.cli.test_cli import _env
from tests.conftest import NATS_URL, scratch_postgres_database


@dataclass
class Deployment:
    """Where the processes of one test keep their state, and how to reach it."""

    kind: str  # "sqlite", "postgres-sql" or "postgres-nats"
    home: Path
    database_url: str | None = None
    nats_stream: str | None = None
    _database: Database | None = field(default=None, repr=False)

    @property
    def nats(self) -> bool:
        return self.nats_stream is not None

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a `coreo` process of this deployment."""
        values = {}
        if self.database_url is not None:
            values["COREO_DATABASE_URL"] = self.database_url
        if self.nats_stream is not None:
            values.update(
                COREO_EVENT_LOG="nats", COREO_NATS_URL=NATS_URL, COREO_NATS_STREAM=self.nats_stream
            )
        return _env(self.home, **values, **extra)

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {"home": self.home, "database_url": self.database_url}
        if self.nats_stream is not None:
            values.update(
                event_log="nats", nats_url=SecretStr(NATS_URL), nats_stream=self.nats_stream
            )
        return get_settings(**values, **overrides)

    @property
    def database(self) -> Database:
        """A connection pool of the test's own (processes under test have theirs)."""
        if self._database is None:
            self._database = Database.from_settings(self.settings())
        return self._database

    def count(self, sql: str) -> int:
        with self.database.engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one() or 0)

    def execute(self, sql: str) -> None:
        with self.database.engine.begin() as connection:
            connection.execute(text(sql))

    def event_log(self) -> EventLog:
        return build_event_log(self.settings(), self.database)

    def init(self) -> str:
        """What `coreo init` does: migrate, create a workspace; return its write key."""
        self.database.migrate()
        with self.database.transaction() as session:
            workspace = auth_service.create_workspace(session=session, slug="default", actor="t")
            _, write = auth_service.create_starter_keys(
                session=session, workspace_id=workspace.id, label="initial", actor="t"
            )
        return write.token

    def close(self) -> None:
        if self._database is not None:
            self._database.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres-sql", id="postgres-sql", marks=pytest.mark.postgres),
        pytest.param(
            "postgres-nats", id="postgres-nats", marks=[pytest.mark.postgres, pytest.mark.nats]
        ),
    ]
)
def deployment(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_nats_log: Callable[[int], NatsEventLog],
) -> Iterator[Deployment]:
    """A fresh deployment per backend: its own SQLite file or PostgreSQL database, and for
    NATS streams under a name of its own; all removed afterwards."""
    home = tmp_path / "home"
    if request.param == "sqlite":
        deployment = Deployment("sqlite", home)
        yield deployment
        deployment.close()
        return
    with scratch_postgres_database("coreo_rt") as url:
        stream = None
        if request.param == "postgres-nats":
            stream = make_nats_log(get_settings().event_log_partitions).name  # deleted after
        deployment = Deployment(request.param, home, database_url=url, nats_stream=stream)
        try:
            yield deployment
        finally:
            deployment.close()


@pytest.fixture
def nats_deployment(
    tmp_path: Path, make_nats_log: Callable[[int], NatsEventLog]
) -> Iterator[Deployment]:
    """PostgreSQL with the NATS log: the cluster deployment."""
    with scratch_postgres_database("coreo_rt") as url:
        stream = make_nats_log(get_settings().event_log_partitions).name
        deployment = Deployment(
            "postgres-nats", tmp_path / "home", database_url=url, nats_stream=stream
        )
        try:
            yield deployment
        finally:
            deployment.close()
