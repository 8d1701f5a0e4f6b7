"""Master-record matching on the identity graph: sure pairs merge, likely pairs wait for a
person, and every decision is audited."""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import coreo.sim as sim_package
from coreo.audit.models import AuditEntry
from coreo.config import MatchingBackend, Settings
from coreo.db import Database, utcnow
from coreo.eventlog.sql import SqlEventLog
from coreo.identity import master
from coreo.identity.matching import MatchConfig
from coreo.identity.models import MatchReview, MergeRecord, Profile
from coreo.identity.stage import IdentityStage
from coreo.ingest.imports import service as imports
from coreo.ingest.imports.mapping import load_mapping
from coreo.profiles.stage import ProfileStage, merge_traits
from coreo.runtime.worker import Stage, Worker
from coreo.sim.generate import generate
from coreo.sim.scenario import Scenario
from tests.helpers import identity_graph


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "world"
    generate(Scenario(customers=400, days=30, seed=3), out)
    return out


def _load_erp(database: Database, settings: Settings, workspace_id: str, world: Path) -> None:
    request = imports.FileImport(
        path=world / "exports" / "erp_customers.csv",
        source="erp",
        format="csv",
        mapping=load_mapping(Path(sim_package.__file__).parent / "mappings" / "erp_customers.yml"),
    )
    job, _ = imports.prepare_job(database, workspace_id=workspace_id, request=request, actor="t")
    owner = imports.new_owner()
    imports.claim_job(database, workspace_id=workspace_id, job_id=job.id, owner=owner)
    log = SqlEventLog(database, settings.event_log_partitions)
    imports.run_job(
        database, log, settings, job=job, owner=owner, path=request.path, stop=threading.Event()
    )
    stages: list[Stage] = [IdentityStage(on_merge=(merge_traits,)), ProfileStage()]
    Worker(database, log, stages).drain()


def _person_of(world: Path) -> dict[str, str]:
    with (world / "truth" / "identifiers.csv").open(newline="", encoding="utf-8") as handle:
        return {
            r["value"]: r["person_id"]
            for r in csv.DictReader(handle)
            if r["kind"] == "erp:customer_no"
        }


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_sure_matches_merge_and_likely_ones_wait_for_review(
    database: Database, settings: Settings, tenant: Any, world: Path
) -> None:
    _load_erp(database, settings, tenant.workspace_id, world)
    run = master.run_matching(
        database, workspace_id=tenant.workspace_id, actor="test", on_merge=(merge_traits,)
    )
    assert run.records > 300 and run.merged > 10
    person_of = _person_of(world)
    with database.transaction(write=False) as session:
        merges = session.scalars(select(MergeRecord)).all()
        numbers: dict[str, list[str]] = {}  # profile -> its ERP customer numbers
        for identifier, profile_id in identity_graph(database, tenant.workspace_id).items():
            kind, _, number = identifier.partition(":")
            if kind == "erp_customer_no":
                numbers.setdefault(profile_id, []).append(number)
        audit = session.scalars(
            select(AuditEntry.action).where(AuditEntry.chain == tenant.workspace_id)
        ).all()
    assert all(m.identifier_type == "match" and "probability" in m.reason for m in merges)
    mixed = [p for p, ns in numbers.items() if len({person_of[n] for n in ns}) > 1]
    assert len(mixed) <= max(1, len(merges) // 50)  # precision of merges >= 98 %
    assert "identity.matching.run" in audit
    master.run_matching(database, workspace_id=tenant.workspace_id, actor="test")
    with database.transaction(write=False) as session:
        pairs = [(r.left_id, r.right_id) for r in session.scalars(select(MatchReview))]
    assert len(pairs) == len(set(pairs))  # a pair already queued is not queued again


def _review(database: Database, workspace_id: str) -> tuple[str, str, str]:
    with database.transaction() as session:
        left, right = sorted(
            session.scalars(select(Profile.id).where(Profile.workspace_id == workspace_id))
        )[:2]
        review = MatchReview(
            id=f"mrv_{left[-8:]}",
            workspace_id=workspace_id,
            left_id=left,
            right_id=right,
            probability=0.8,
            weight=4.2,
            explanation=[],
            status="open",
            created_at=utcnow(),
        )
        session.add(review)
    return review.id, left, right


def test_reviews_are_accepted_or_rejected_through_the_api(
    client: TestClient, feed_profiles: Any, tenant: Any, database: Database
) -> None:
    from tests.identity.conftest import message

    feed_profiles(
        message("identify", 0, userId="u1", traits={"lastName": "Meier"}),
        message("identify", 1, anonymousId="a2", traits={"lastName": "Meyer"}),
        message("identify", 2, anonymousId="a3"),
    )
    review_id, _left, right = _review(database, tenant.workspace_id)
    listed = client.get("/v1/identity/reviews", headers=tenant.admin).json()["items"]
    assert [r["id"] for r in listed] == [review_id]
    accepted = client.post(f"/v1/identity/reviews/{review_id}/accept", headers=tenant.admin)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["outcome"].startswith("merged into ")
    twice = client.post(f"/v1/identity/reviews/{review_id}/reject", headers=tenant.admin)
    assert twice.status_code == 409
    merged = client.get(f"/v1/profiles/{right}", headers=tenant.admin, follow_redirects=False)
    assert merged.status_code in (200, 308)
    with database.transaction(write=False) as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.chain == tenant.workspace_id)
        ).all()
    assert "identity.review.accepted" in actions
    bad = client.post(
        "/v1/identity/matching/run", headers=tenant.admin, json={"auto_merge": 0.5, "review": 0.9}
    )
    assert bad.status_code == 422
    write_key = client.get("/v1/identity/reviews", headers=tenant.bearer(tenant.write_token))
    assert write_key.status_code == 403


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_api_matches_on_the_backend_the_settings_name(
    database: Database,
    settings: Settings,
    tenant: Any,
    world: Path,
    app_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``matching_backend`` / ``matching_spark_master`` reach the matcher. (Spark itself is
    checked against DuckDB in test_matching_spark.py; here the run goes on on DuckDB.)"""
    _load_erp(database, settings, tenant.workspace_id, world)
    asked: list[MatchConfig] = []
    real = master.deduplicate

    def spy(records: Any, *, config: MatchConfig) -> Any:
        asked.append(config)
        return real(records, config=config.model_copy(update={"backend": "duckdb"}))

    monkeypatch.setattr(master, "deduplicate", spy)
    with app_factory(
        matching_backend=MatchingBackend.SPARK, matching_spark_master="local[1]"
    ) as client:
        response = client.post("/v1/identity/matching/run", headers=tenant.admin, json={})
    assert response.status_code == 200, response.text
    assert response.json()["merged"] > 10
    assert [(c.backend, c.spark_master) for c in asked] == [("spark", "local[1]")]
