"""`coreo consent record|show|check`: the CLI is a source of the ledger too."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from coreo.auth.models import Workspace
from coreo.config import get_settings
from coreo.consent.models import ConsentRecord
from coreo.db import Database
from coreo.identity.stage import IdentityStage
from coreo.runtime.worker import Event
from tests.cli.test_cli import assert_one_line_error, coreo
from tests.identity.conftest import message


def test_record_show_and_check_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert coreo(home, "init").returncode == 0
    database = Database.from_settings(get_settings(home=home))
    with database.transaction(write=False) as session:
        ws = session.scalars(select(Workspace.id)).one()
    events = [Event(0, 0, ws, message("identify", userId="anna"))]
    with database.transaction() as session:
        IdentityStage().process(session, events)
    anna = str(events[0].annotations["profile_id"])

    granted = coreo(home, "consent", "record", anna, "marketing", "granted", "--channel", "email")
    assert granted.returncode == 0, granted.stderr
    assert f"marketing granted for {anna}" in granted.stdout
    allowed = coreo(home, "consent", "check", anna, "marketing", "--channel", "email")
    assert allowed.returncode == 0 and allowed.stdout.startswith("allowed")
    withdrawn = coreo(
        home, "consent", "record", anna, "marketing", "withdrawn", "--channel", "email",
        "--collection-point", "phone call",
    )  # fmt: skip
    assert withdrawn.returncode == 0, withdrawn.stderr
    refused = coreo(home, "consent", "check", anna, "marketing", "--channel", "email")
    assert refused.returncode == 1 and refused.stdout.startswith("not allowed: withdrawn")
    dated = coreo(home, "consent", "record", anna, "analytics", "granted", "--at", "2026-01-05")
    assert dated.returncode == 0, dated.stderr
    shown = coreo(home, "consent", "show", anna)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("marketing") >= 6 and "withdrawn" in shown.stdout
    with database.transaction(write=False) as session:
        rows = session.scalars(select(ConsentRecord).order_by(ConsentRecord.at)).all()
    assert [(r.purpose, r.status, r.source) for r in rows] == [
        ("analytics", "granted", "cli"),  # decided on 5 January
        ("marketing", "granted", "cli"),
        ("marketing", "withdrawn", "cli"),
    ]
    assert rows[2].collection_point == "phone call" and rows[2].actor.startswith("cli")
    database.dispose()

    assert_one_line_error(
        coreo(home, "consent", "record", anna, "spying", "granted"), "unknown purpose 'spying'"
    )
    assert_one_line_error(
        coreo(home, "consent", "record", anna, "analytics", "maybe"), "status must be"
    )
    assert_one_line_error(
        coreo(home, "consent", "check", "prf_nobody", "analytics"), "no profile 'prf_nobody'"
    )
    assert_one_line_error(coreo(home, "consent", "check", anna, "marketing"), "given per channel")
