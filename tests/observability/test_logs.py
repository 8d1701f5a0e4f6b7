"""Logs are JSON, carry the request id, and never contain key material or personal data."""

from __future__ import annotations

import logging

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from coreo.observability.logs import JsonFormatter, redact
from tests.conftest import Tenant
from tests.helpers import key_secret

_local = st.from_regex(r"[a-z][a-z0-9._+-]{0,15}", fullmatch=True)
_domain = st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(ch|de|com|fr|it)", fullmatch=True)


@given(local=_local, domain=_domain, before=st.text(max_size=20), after=st.text(max_size=20))
def test_redact_removes_any_email(local: str, domain: str, before: str, after: str) -> None:
    email = f"{local}@{domain}"
    assert email not in redact(f"{before} {email} {after}")


@given(secret=st.from_regex(r"[A-Za-z0-9_-]{43}", fullmatch=True))
def test_redact_keeps_only_the_key_prefix(secret: str) -> None:
    token = f"coreo_sk_abcdefghjkmn_{secret}"
    cleaned = redact(f"auth with {token} failed")
    assert secret not in cleaned
    assert "coreo_sk_abcdefghjkmn_***" in cleaned


@pytest.mark.parametrize("phone", ["+41 79 123 45 67", "079 123 45 67", "0041791234567"])
def test_redact_removes_phone_numbers(phone: str) -> None:
    assert phone not in redact(f"call {phone} now")


def test_redact_keeps_ordinary_text() -> None:
    text = "GET /v1/keys/{key_id} 200 in 3.2 ms at 2026-11-24T10:00:00"
    assert redact(text) == text


def test_formatter_writes_one_json_object() -> None:
    record = logging.LogRecord(
        "coreo.x", logging.INFO, "f.py", 1, "hi %s", ("bob@example.com",), None
    )
    record.route = "/v1/keys"
    line = orjson.loads(JsonFormatter().format(record))
    assert line["msg"] == "hi <email>"
    assert line["route"] == "/v1/keys" and line["level"] == "INFO" and line["logger"] == "coreo.x"


def test_server_logs_hold_no_secrets_or_personal_data(
    client: TestClient, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    email = "maria.rossi@example.ch"
    client.get("/v1/whoami", headers=tenant.admin)
    client.get(f"/v1/keys/{email}", headers=tenant.admin)
    client.get(f"/v1/audit?action={email}", headers=tenant.admin)
    client.post("/v1/keys", headers=tenant.admin, json={"name": email, "scopes": ["admin"]})
    client.get("/v1/whoami", headers={"Authorization": f"Bearer {tenant.admin_token}x"})
    client.get("/v1/whoami", auth=(tenant.write_token, "hunter2"))

    def explode() -> None:
        raise ValueError(f"cannot handle {email} with {tenant.admin_token}, call +41 79 123 45 67")

    client.app.add_api_route("/explode", explode)  # type: ignore[attr-defined]
    assert client.get("/explode").status_code == 500

    logs = capsys.readouterr().err
    lines = [orjson.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(line.get("route") == "/v1/keys/{key_id}" for line in lines)  # access log exists
    assert any(line.get("error", {}).get("type") == "ValueError" for line in lines)
    assert all(line.get("request_id") for line in lines if line["logger"] == "coreo.access")
    for secret in (
        email,
        tenant.admin_token,
        key_secret(tenant.admin_token),
        key_secret(tenant.write_token),
        "hunter2",
        "+41 79 123 45 67",
        "Bearer",
    ):
        assert secret not in logs, secret
