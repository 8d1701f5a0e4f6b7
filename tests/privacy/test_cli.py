"""`coreo privacy`, `coreo retention` and `coreo ropa` from the command line."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import orjson
from sqlalchemy import select

from coreo.auth.models import Workspace
from coreo.config import get_settings
from coreo.db import Database
from coreo.identity.models import Profile
from coreo.identity.stage import IdentityStage
from coreo.runtime.worker import Event
from tests.cli.test_cli import assert_one_line_error, coreo
from tests.identity.conftest import message


def _request_id(output: str) -> str:
    found = re.search(r"dsr_[0-9a-z]+", output)
    assert found is not None, output
    return found.group(0)


def test_requests_retention_and_the_record_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert coreo(home, "init").returncode == 0
    database = Database.from_settings(get_settings(home=home))
    with database.transaction(write=False) as session:
        ws = session.scalars(select(Workspace.id)).one()
    events = [Event(0, n, ws, message("identify", userId=u)) for n, u in enumerate(["anna", "bo"])]
    with database.transaction() as session:
        IdentityStage().process(session, events)
    anna, bo = (str(e.annotations["profile_id"]) for e in events)

    access = coreo(home, "privacy", "create", "access", "--profile", bo)
    assert access.returncode == 0, access.stderr
    access_id = _request_id(access.stdout)
    assert coreo(home, "privacy", "verify", access_id, "--method", "account").returncode == 0
    assert_one_line_error(coreo(home, "privacy", "execute", access_id), "--out")
    package = tmp_path / "bo.zip"
    done = coreo(home, "privacy", "execute", access_id, "--out", str(package))
    assert done.returncode == 0, done.stderr
    data = orjson.loads(zipfile.ZipFile(package).read("data.json"))
    assert data["profile_id"] == bo

    erasure = coreo(home, "privacy", "create", "erasure", "--identifier", "user_id=anna")
    erasure_id = _request_id(erasure.stdout)
    assert_one_line_error(coreo(home, "privacy", "execute", erasure_id), "not verified")
    coreo(home, "privacy", "verify", erasure_id, "--method", "signed letter")
    assert coreo(home, "privacy", "execute", erasure_id).returncode == 0
    with database.transaction(write=False) as session:
        assert session.get(Profile, anna) is None and session.get(Profile, bo) is not None
    listed = coreo(home, "privacy", "list")
    assert erasure_id in listed.stdout and "completed" in listed.stdout

    for args, fragment in [
        (("privacy", "create", "erasure"), "--profile or --identifier"),
        (("privacy", "create", "erasure", "--identifier", "nobody"), "type=value"),
        (("privacy", "create", "deletion", "--profile", bo), "unknown request type"),
        (("privacy", "create", "access", "--identifier", "user_id=zed"), "no profile"),
        (("retention", "hold", "add", "--reason", "x"), "one of them"),
        (("ropa", "--format", "xml"), "md or json"),
    ]:
        assert_one_line_error(coreo(home, *args), fragment)

    hold = coreo(home, "retention", "hold", "add", "--reason", "court case", "--profile", bo)
    assert hold.returncode == 0 and "hld_" in hold.stdout
    assert "court case" in coreo(home, "retention", "hold", "list").stdout
    dry = coreo(home, "retention", "run", "--dry-run")
    assert dry.returncode == 0 and "Nothing has expired." in dry.stdout
    assert "Held: 1 profile(s)" in dry.stdout

    record = orjson.loads(coreo(home, "ropa", "--format", "json").stdout)
    assert {a["purpose"] for a in record["activities"]} >= {"marketing", "analytics"}
    assert "contact" in record["data_categories"]
    markdown = coreo(home, "ropa").stdout
    assert markdown.startswith("# Record of processing activities")
    assert "## Technical and organisational measures" in markdown
