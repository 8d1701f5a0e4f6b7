"""Reading a profile on SQLite touches only that profile's rows: every statement the read
runs is planned on an index that leads to the profile, never a walk of the workspace."""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from coreo.db import Database
from coreo.history.models import EventRecord
from coreo.identity.models import MergeRecord, Profile, ProfileIdentity
from coreo.profiles import service

WS = "ws_plan"
AT = "2026-01-01 00:00:00.000000"


def _populate(database: Database, profiles: int, merged: int) -> None:
    """Profiles with two identifiers and two events each; the last ``merged`` of them
    merged into the first ones (bulk SQL, as an import would leave them)."""
    ids = [f"prf_{i:06d}" for i in range(profiles)]
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO workspaces (id, slug, display_name, created_at, updated_at) "
            "VALUES (?, 'plan', 'plan', ?, ?)",
            (WS, AT, AT),
        )
        connection.exec_driver_sql(
            "INSERT INTO profiles (id, workspace_id, created_at, updated_at, merged_into, "
            "merged_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (pid, WS, AT, AT, ids[i % merged] if i >= profiles - merged else None, None)
                for i, pid in enumerate(ids)
            ],
        )
        connection.exec_driver_sql(
            "INSERT INTO profile_identities (workspace_id, type, value, profile_id, first_seen, "
            "last_seen, users, shared) VALUES (?, ?, ?, ?, ?, ?, '[]', 0)",
            [(WS, t, f"{t}-{pid}", pid, AT, AT) for pid in ids for t in ("email", "user_id")],
        )
        connection.exec_driver_sql(
            "INSERT INTO profile_merges (id, workspace_id, survivor_id, merged_id, reason, "
            "identifier_type, identities, at) VALUES (?, ?, ?, ?, 'rule', 'email', '[]', ?)",
            [
                (f"mrg_{i}", WS, ids[i % merged], ids[i], AT)
                for i in range(profiles - merged, profiles)
            ],
        )
        connection.exec_driver_sql(
            "INSERT INTO events (workspace_id, message_id, type, profile_id, timestamp, "
            "received_at, payload) VALUES (?, ?, 'track', ?, ?, ?, '{}')",
            [(WS, f"m-{pid}-{n}", pid, AT, AT) for pid in ids for n in range(2)],
        )


def _plans(database: Database, profile_id: str) -> dict[str, list[str]]:
    """Each SELECT that reading the profile runs → its query plan."""
    statements: list[tuple[str, Any]] = []

    def capture(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        with database.transaction(workspace_id=WS, write=False) as session:
            shown = service.view(session, WS, profile_id)
            plans = {
                statement: [
                    row[3]
                    for row in session.connection().exec_driver_sql(
                        f"EXPLAIN QUERY PLAN {statement}", parameters
                    )
                ]
                for statement, parameters in list(statements)
            }
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    assert len(shown.identities) == 2
    assert len(shown.merges) == 1
    assert len(shown.events) == 4  # its own two and those of the profile merged into it
    return plans


def test_reading_a_profile_never_walks_the_workspace(sqlite_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "coreo.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}", statistics_interval=0)  # every write refreshes
    try:
        with database.transaction():  # statistics of the empty database
            pass
        # Pooled connections that loaded those must not keep planning with them.
        with ExitStack() as readers:
            for _ in range(3):
                session = readers.enter_context(database.transaction(workspace_id=WS, write=False))
                session.get(Profile, "prf_000000")
        _populate(database, profiles=3000, merged=100)
        with database.transaction():  # a write gathers them again
            pass
        with database.engine.connect() as connection:
            analyzed = {row[0] for row in connection.execute(text("SELECT tbl FROM sqlite_stat1"))}
        assert {"profiles", "profile_identities", "profile_merges", "events"} <= analyzed
        with ExitStack() as readers:  # planned on each pooled connection
            for _ in range(3):
                readers.enter_context(database.transaction(workspace_id=WS, write=False))
            plans = _plans(database, "prf_000001")  # a survivor, one profile merged into it
        tables = (Profile, ProfileIdentity, MergeRecord, EventRecord)
        assert {t.__tablename__ for t in tables} <= {
            word for statement in plans for word in statement.replace(",", " ").split()
        }
        for statement, plan in plans.items():
            for step in plan:
                assert not step.startswith("SCAN"), (statement, plan)
                assert "_workspace_id" not in step, (statement, plan)
        (members,) = [p for s, p in plans.items() if "profiles.merged_into IN" in s]
        assert any("ix_profiles_merged_into" in step for step in members)
    finally:
        database.dispose()


def test_identities_are_read_by_profile_even_without_statistics(
    sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "coreo.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    try:
        _populate(database, profiles=300, merged=10)
        plans = _plans(database, "prf_000001")
        (identities,) = [p for s, p in plans.items() if "FROM profile_identities" in s]
        assert identities == [
            "SEARCH profile_identities USING INDEX ix_profile_identities_profile "
            "(workspace_id=? AND profile_id=?)"
        ]
    finally:
        database.dispose()
