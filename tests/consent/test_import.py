"""Consent from a file import (a sign-up list, the CRM's opt-ins): columns map to
``context.consent.purposes`` and become ledger records with source ``import`` and the row
they came from (GDPR Art. 7(1): the controller can show where a consent came from)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from coreo.consent import service
from coreo.consent.purposes import DEFAULT_TAXONOMY
from coreo.consent.stage import Signal, signals_of
from coreo.db import Database
from tests.helpers import identity_row
from tests.ingest.conftest import drain
from tests.ingest.imports.conftest import run_import

__all__ = ["drain", "run_import"]

MAPPING = """
type: identify
user_id: {template: "crm-{Id}"}
traits:
  email: Mail
context:
  consent.purposes.marketing:email: {column: Newsletter, type: boolean}
  consent.purposes.marketing:post: {column: Catalogue, type: boolean}
"""


def _signals(message: Any) -> list[Signal]:
    """What an event signals under the default taxonomy."""
    return signals_of(message, DEFAULT_TAXONOMY)


def test_signals_name_a_purpose_and_channel_explicitly() -> None:
    message = {"context": {"consent": {"purposes": {
        "marketing:email": True, "analytics": "withdrawn", "marketing": True,
        "marketing:fax": True, "nonsense": True, "personalisation": "maybe",
    }}}}  # fmt: skip
    assert _signals(message) == [("analytics", "withdrawn"), ("marketing:email", "granted")]


def test_imported_opt_ins_reach_the_ledger_with_their_row(
    run_import: Callable[..., Any],
    drain: Callable[[], None],
    database: Database,
    tenant: Any,
    tmp_path: Path,
) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("Id;Mail;Newsletter;Catalogue\n1;a@x.ch;ja;nein\n2;b@x.ch;nein;\n")
    job = run_import(path, mapping=MAPPING, source="crm")  # "ja"/"nein": German booleans
    assert job.status == "completed", job.error
    drain()
    with database.transaction(write=False) as session:
        first = identity_row(session, tenant.workspace_id, "user_id", "crm-1")
        second = identity_row(session, tenant.workspace_id, "user_id", "crm-2")
        assert first is not None and second is not None
        ledger = service.ledger(session, tenant.workspace_id, first.profile_id)
        assert [(r.purpose, r.channel, r.status, r.source) for r in ledger] == [
            ("marketing", "email", "granted", "import"),
            ("marketing", "post", "denied", "import"),
        ]
        assert ledger[0].collection_point == "import:crm row 1"
        allowed = service.check(
            session, tenant.workspace_id, first.profile_id, "marketing", "email"
        )
        assert allowed.allowed and allowed.entry_id == ledger[0].id
        other = service.ledger(session, tenant.workspace_id, second.profile_id)
        assert [(r.channel, r.status) for r in other] == [("email", "denied")]
