"""POST /v1/imports: upload a file, follow its import, resume it after an interruption."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from coreo.config import Settings
from coreo.db import Database
from coreo.eventlog.sql import SqlEventLog
from coreo.ingest.imports import service
from coreo.ingest.imports.mapping import load_mapping
from tests.ingest.conftest import dead_letters
from tests.ingest.imports.conftest import ERP_MAPPING, erp_csv


@pytest.fixture
def api(app_factory: Callable[..., TestClient]) -> Iterator[TestClient]:
    with app_factory(worker_enabled=False) as client:
        yield client


def _wait(api: TestClient, tenant: Any, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body: dict[str, Any] = api.get(
            f"/v1/imports/{job_id}", headers=tenant.bearer(tenant.write_token)
        ).json()
        if body["status"] not in ("pending", "running"):
            return body
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def _upload(api: TestClient, tenant: Any, path: Path, **form: str) -> Any:
    with path.open("rb") as handle:
        return api.post(
            "/v1/imports",
            headers=tenant.bearer(tenant.write_token),
            files={"file": (path.name, handle, "text/csv")},
            data={"source": "erp", **form},
        )


def test_an_uploaded_file_is_imported_in_the_background(
    api: TestClient, tenant: Any, database: Database, tmp_path: Path
) -> None:
    path = erp_csv(tmp_path / "kunden.csv", 300, bad={9: "neun"})
    response = _upload(api, tenant, path, mapping=ERP_MAPPING)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/imports/{job['id']}"
    assert job["file_name"] == "kunden.csv" and job["format"] == "csv"
    done = _wait(api, tenant, job["id"])
    assert (done["status"], done["rows_read"], done["rows_accepted"], done["rows_rejected"]) == (
        "completed",
        300,
        299,
        1,
    )
    (letter,) = dead_letters(database, tenant.workspace_id)
    assert letter.reason == "row 9: traits.lifetime_value: 'neun' is not a number"
    listed = api.get("/v1/imports", headers=tenant.admin).json()["items"]
    assert [j["id"] for j in listed] == [job["id"]]
    again = _upload(api, tenant, path, mapping=ERP_MAPPING)  # the same file: the same job
    assert again.status_code == 202 and again.json()["id"] == job["id"]
    assert len(list((tmp_path / "home" / "imports").iterdir())) == 1


@pytest.mark.parametrize(
    ("form", "status", "fragment"),
    [
        ({"mapping": "type: track\nuser_id: id\n"}, 422, "a track mapping needs 'event'"),
        ({"source": "Not A Slug"}, 422, "body.source"),
        ({"format": "xlsx"}, 422, "format"),
        ({"encoding": "klingon"}, 422, "unknown encoding"),
    ],
)
def test_bad_uploads_are_problems(
    api: TestClient,
    tenant: Any,
    tmp_path: Path,
    form: dict[str, str],
    status: int,
    fragment: str,
) -> None:
    response = _upload(api, tenant, erp_csv(tmp_path / "k.csv", 2), **form)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert fragment in response.text
    assert not list((tmp_path / "home" / "imports").glob("*"))  # nothing left behind


def test_uploads_need_an_ingest_key_and_respect_their_size_limit(
    app_factory: Callable[..., TestClient], tenant: Any, tmp_path: Path
) -> None:
    path = erp_csv(tmp_path / "k.csv", 200)
    with app_factory(worker_enabled=False, import_max_upload_bytes=2048) as api:
        small = erp_csv(tmp_path / "small.csv", 2)
        with small.open("rb") as handle:
            anonymous = api.post("/v1/imports", files={"file": handle}, data={"source": "erp"})
        assert anonymous.status_code == 401
        too_big = _upload(api, tenant, path)
        assert too_big.status_code == 413
        assert too_big.headers["content-type"] == "application/problem+json"


def test_an_interrupted_upload_resumes_through_the_api(
    api: TestClient, tenant: Any, database: Database, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "home" / "imports").mkdir(parents=True)
    stored = erp_csv(tmp_path / "home" / "imports" / "upl_x.csv", 250)
    request = service.FileImport(
        path=stored, source="erp", format="csv", mapping=load_mapping(ERP_MAPPING)
    )
    job, _ = service.prepare_job(
        database,
        workspace_id=tenant.workspace_id,
        request=request,
        actor="test",
        stored_path=stored,
    )
    service.claim_job(database, workspace_id=tenant.workspace_id, job_id=job.id, owner="gone")
    stop = threading.Event()
    stopped = service.run_job(
        database,
        SqlEventLog(database, settings.event_log_partitions),
        settings,
        job=job,
        owner="gone",
        stop=stop,
        chunk_rows=100,
        progress=lambda p: stop.set() if p.rows_read else None,
    )
    assert (stopped.status, stopped.rows_read) == ("interrupted", 100)
    response = api.post(f"/v1/imports/{job.id}/resume", headers=tenant.bearer(tenant.write_token))
    assert response.status_code == 202, response.text
    done = _wait(api, tenant, job.id)
    assert (done["status"], done["rows_accepted"], done["rows_duplicate"], done["resumed"]) == (
        "completed",
        250,
        0,
        1,
    )
    finished = api.post(f"/v1/imports/{job.id}/resume", headers=tenant.admin)
    assert finished.status_code == 422 and "already complete" in finished.text
    missing = api.get("/v1/imports/imp_nope", headers=tenant.admin)
    assert missing.status_code == 404
