"""Identity rules are validated once per stored document, yet a change made by another
process (another connection pool) is seen by the next batch."""

from __future__ import annotations

from typing import Any

from coreo.db import Database
from coreo.identity import service
from coreo.identity.rules import DEFAULT_RULES


def test_rules_changed_by_another_process_are_seen(database: Database, tenant: Any) -> None:
    ws = tenant.workspace_id
    other = Database(database.url.render_as_string(hide_password=False))
    try:
        with database.transaction(write=False) as session:
            assert service.rules_for(session, ws) is DEFAULT_RULES
        exact = DEFAULT_RULES.model_copy(update={"email_key": "exact"})
        with other.transaction() as session:
            service.put_rules(session, ws, exact, actor="test")
        with database.transaction(write=False) as session:
            first = service.rules_for(session, ws)
            assert first.email_key == "exact"
            assert service.rules_for(session, ws) is first  # validated once
        # A reset and a new document: the row starts again at version 1, in between reads.
        with other.transaction() as session:
            service.put_rules(session, ws, None, actor="test")
            service.put_rules(
                session,
                ws,
                DEFAULT_RULES.model_copy(update={"shared_after_users": 3}),
                actor="test",
            )
        with database.transaction(write=False) as session:
            now = service.rules_for(session, ws)
        assert now.email_key == DEFAULT_RULES.email_key
        assert now.shared_after_users == 3
        with other.transaction() as session:
            service.put_rules(session, ws, None, actor="test")
        with database.transaction(write=False) as session:
            assert service.rules_for(session, ws) is DEFAULT_RULES
    finally:
        other.dispose()
