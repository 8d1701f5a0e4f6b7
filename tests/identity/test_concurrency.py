"""Two worker processes racing to merge the same people on PostgreSQL end in one
consistent graph."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from coreo.auth import service as auth_service
from coreo.db import Database
from coreo.identity.models import Profile
from tests.helpers import identity_graph

# Each process feeds the same people's events in its own order, one small transaction each.
_RACER = """
import sys, orjson, random
import coreo.models  # every table, as a worker process has them
from coreo.db import Database
from coreo.identity.stage import IdentityStage
from coreo.runtime.worker import Event

url, workspace_id, path, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
messages = orjson.loads(open(path, "rb").read())
random.Random(seed).shuffle(messages)
database = Database(url)
stage = IdentityStage()
for start in range(0, len(messages), 3):
    events = [Event(0, n, workspace_id, m) for n, m in enumerate(messages[start:start + 3])]
    with database.transaction() as session:
        stage.process(session, events)
database.dispose()
"""

PEOPLE = 40


def _messages() -> list[dict[str, object]]:
    """Per person: three cookies, each later tied to the person's login or e-mail."""
    out: list[dict[str, object]] = []
    for p in range(PEOPLE):
        for c in range(3):
            out.append(
                {
                    "type": "track",
                    "event": "Viewed",
                    "anonymousId": f"a{p}-{c}",
                    "messageId": f"t{p}-{c}",
                    "timestamp": "2025-01-01T00:00:00+00:00",
                }
            )
        out.append(
            {
                "type": "identify",
                "userId": f"u{p}",
                "anonymousId": f"a{p}-0",
                "messageId": f"i{p}-0",
                "timestamp": "2025-01-02T00:00:00+00:00",
            }
        )
        out.append(
            {
                "type": "identify",
                "anonymousId": f"a{p}-1",
                "traits": {"email": f"p{p}@x.ch"},
                "userId": f"u{p}",
                "messageId": f"i{p}-1",
                "timestamp": "2025-01-03T00:00:00+00:00",
            }
        )
        out.append(
            {
                "type": "track",
                "event": "Viewed",
                "anonymousId": f"a{p}-2",
                "context": {"traits": {"email": f"p{p}@x.ch"}},
                "messageId": f"t{p}-9",
                "timestamp": "2025-01-04T00:00:00+00:00",
            }
        )
    return out


@pytest.mark.postgres
def test_racing_workers_leave_one_profile_per_person(postgres_url: str, tmp_path: Path) -> None:
    database = Database(postgres_url)
    with database.transaction() as session:
        ws = auth_service.create_workspace(session=session, slug="race", actor="test")
    path = tmp_path / "messages.json"
    path.write_bytes(orjson.dumps(_messages()))
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, postgres_url, ws.id, str(path), str(seed)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    for racer in racers:
        _, stderr = racer.communicate(timeout=120)
        assert racer.returncode == 0, stderr
    with database.transaction(write=False) as session:
        profiles = {
            p.id: p for p in session.scalars(select(Profile).where(Profile.workspace_id == ws.id))
        }
    by_profile: dict[str, set[str]] = {}
    for identifier, profile_id in identity_graph(database, ws.id).items():
        assert profiles[profile_id].merged_into is None  # never left on a merged profile
        by_profile.setdefault(profile_id, set()).add(identifier)
    expected = {
        frozenset(
            {f"user_id:u{p}", f"email:p{p}@x.ch", *(f"anonymous_id:a{p}-{c}" for c in range(3))}
        )
        for p in range(PEOPLE)
    }
    assert {frozenset(v) for v in by_profile.values()} == expected
    survivors = [p.merged_into for p in profiles.values() if p.merged_into is not None]
    assert all(profiles[s].merged_into is None for s in survivors if s)  # one hop
    database.dispose()
