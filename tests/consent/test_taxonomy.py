"""Per-workspace purposes (GDPR Art. 5(1)(b), 13(1)(c)): a workspace names its own purposes,
legal bases, channels, retention and recipients, and maps its banner's categories onto
them; the ledger, the check, the banner signals and the records follow."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from coreo.consent import service
from coreo.consent.stage import ConsentStage
from coreo.db import Database
from coreo.identity.stage import IdentityStage
from coreo.privacy import ropa, suppression
from coreo.runtime.worker import Event
from tests.cli.test_cli import assert_one_line_error, coreo
from tests.helpers import assert_problem
from tests.identity.conftest import Feed, feed, message

__all__ = ["feed"]

CUSTOM: dict[str, Any] = {
    "purposes": [
        {"name": "necessary", "description": "Orders and delivery.",
         "legal_bases": ["contract"], "default_basis": "contract", "retention_days": 3650},
        {"name": "analytics", "description": "Shop statistics.",
         "legal_bases": ["consent"], "retention_days": 395},
        {"name": "marketing", "description": "Newsletters and letters.",
         "legal_bases": ["consent"], "channels": ["email", "letter"], "direct_marketing": True,
         "retention_days": 730, "recipients": ["mail house"]},
        {"name": "research", "description": "Customer research panels.",
         "legal_bases": ["consent"], "retention_days": 365},
    ],
    "categories": {"statistik": ["analytics"], "umfragen": ["research"]},
}  # fmt: skip


@pytest.fixture
def api(app_factory: Callable[..., TestClient]) -> Iterator[TestClient]:
    with app_factory(worker_enabled=False) as client:
        yield client


def test_a_workspace_defines_its_own_purposes(
    api: TestClient, database: Database, tenant: Any, feed: Feed
) -> None:
    ws = tenant.workspace_id
    before = api.get("/v1/purposes", headers=tenant.admin).json()
    assert before["custom"] is False and "third_party_sharing" in before["taxonomy"]["purposes"]
    put = api.put("/v1/purposes", headers=tenant.admin, json=CUSTOM)
    assert put.status_code == 200, put.text
    (anna,) = feed(message("identify", userId="anna"))
    body = {"profile_id": anna, "purpose": "marketing", "channel": "letter", "status": "granted"}
    assert api.post("/v1/consents", headers=tenant.admin, json=body).status_code == 201
    gone = {"profile_id": anna, "purpose": "third_party_sharing", "status": "granted"}
    problem = assert_problem(api.post("/v1/consents", headers=tenant.admin, json=gone), 422,
                             "validation-failed")  # fmt: skip
    assert "research" in problem["detail"]  # the workspace's purposes are named
    query = {"profile_id": anna, "purpose": "marketing", "channel": "letter"}
    checked = api.get("/v1/consents/check", headers=tenant.admin, params=query)
    assert checked.json()["allowed"] is True
    # The banner's own categories decide the workspace's purposes.
    banner = message("page", userId="anna", context={"consent": {"categoryPreferences": {
        "Statistik": True, "Umfragen": False, "Analytics": True}}})  # fmt: skip
    events = [Event(0, 0, ws, banner, {"profile_id": anna})]
    with database.transaction() as session:
        ConsentStage(lambda _: b"k" * 32).process(session, events)
        records = service.ledger(session, ws, str(anna))
        record = ropa.build(session, ws, api.app.state.runtime.settings)  # type: ignore[attr-defined]
    assert sorted((r.purpose, r.status) for r in records if r.source == "event") == [
        ("analytics", "granted"),
        ("research", "denied"),
    ]
    assert [a["purpose"] for a in record["activities"]] == [
        "necessary", "analytics", "marketing", "research"
    ]  # fmt: skip
    state = api.get(f"/v1/profiles/{anna}/consents", headers=tenant.admin).json()["current"]
    assert {(c["purpose"], c["channel"]) for c in state} == {
        ("necessary", None), ("analytics", None), ("marketing", "email"),
        ("marketing", "letter"), ("research", None),
    }  # fmt: skip
    reset = api.delete("/v1/purposes", headers=tenant.admin)
    assert reset.json()["custom"] is False
    # A key without admin may read the purposes but not change them.
    assert api.put(
        "/v1/purposes", headers=tenant.bearer(tenant.write_token), json=CUSTOM
    ).status_code in (401, 403)


def test_only_the_workspaces_own_banner_categories_bring_an_erased_person_back(
    api: TestClient, database: Database, tenant: Any
) -> None:
    """An erased person's events are suppressed until one brings new consent, in the
    terms of the workspace's taxonomy: its banner's own category counts, a category only
    the default taxonomy knows does not."""
    ws = tenant.workspace_id
    assert api.put("/v1/purposes", headers=tenant.admin, json=CUSTOM).status_code == 200
    key = b"k" * 32
    with database.transaction() as session:
        suppression.add_tombstones(
            session, ws, key, [("user_id", "anna")], request_id=None, mailbox_keys=True
        )
    stage = IdentityStage(tombstone_key=lambda _: key)

    def kept(categories: dict[str, bool]) -> bool:
        banner = message("page", userId="anna", context={"consent": {
            "categoryPreferences": categories}})  # fmt: skip
        events = [Event(0, 0, ws, banner)]
        with database.transaction() as session:
            stage.process(session, events)
        return events[0].annotations.get("suppressed") is None

    assert not kept({"Performance": True})  # analytics in the default taxonomy only
    assert not kept({"Umfragen": False})
    assert kept({"Statistik": True})  # this workspace's banner: analytics granted
    assert kept({"Performance": True})  # the tombstone is lifted: she is back


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"categories": {"statistik": ["nothing"]}}, "names no purpose"),
        ({"categories": {"news": ["marketing"]}}, "given per channel"),
        ({"purposes": [{"name": "x", "description": "d", "legal_bases": ["consent"],
                        "default_basis": "consent", "retention_days": 1}]}, "consent cannot"),
        ({"purposes": [{"name": "Bad Name", "description": "d", "legal_bases": ["consent"],
                        "retention_days": 1}]}, "should match pattern"),
    ],
)  # fmt: skip
def test_inconsistent_purposes_are_refused(
    api: TestClient, tenant: Any, change: dict[str, Any], fragment: str
) -> None:
    response = api.put("/v1/purposes", headers=tenant.admin, json=CUSTOM | change)
    body = assert_problem(response, 422, "validation-failed")
    assert fragment in " ".join(e["message"] for e in body["errors"])


def test_purposes_from_a_yaml_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert coreo(home, "init").returncode == 0
    path = tmp_path / "purposes.yml"
    path.write_text(yaml.safe_dump(CUSTOM))
    applied = coreo(home, "consent", "purposes", "apply", str(path))
    assert applied.returncode == 0 and "research" in applied.stdout, applied.stderr
    shown = yaml.safe_load(coreo(home, "consent", "purposes", "show").stdout)
    assert [p["name"] for p in shown["purposes"]][-1] == "research"
    path.write_text("purposes: [{name: x}]\n")
    assert_one_line_error(coreo(home, "consent", "purposes", "apply", str(path)), "purposes.yml")
    assert coreo(home, "consent", "purposes", "reset").returncode == 0
