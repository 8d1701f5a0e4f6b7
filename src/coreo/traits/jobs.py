"""Who runs a back-fill: one runner at a time, and a stopped server's back-fills resumed.

A runner claims a back-fill before it starts (``claim``) and renews its heartbeat while it
runs (``running``). Another process can take it over only when that heartbeat is older
than ``TIMEOUT``, or at once when the runner was a process on this host that is gone
(``kill -9``). A server, when it starts, looks for back-fills left ``pending`` or
``running`` by a runner that stopped (``orphans``) and runs them again: a back-fill starts
over from the history, so nothing is lost and nothing counted twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import cast

from sqlalchemy import Table, or_, select, update

from coreo.db import Database, utcnow
from coreo.errors import ConflictError, NotFoundError
from coreo.runtime.owners import owner_is_gone
from coreo.traits import backfill
from coreo.traits.models import TraitBackfill

__all__ = ["BEAT", "TIMEOUT", "claim", "orphans", "run_owned", "running"]

BEAT = timedelta(seconds=5)
"""How often a runner renews its heartbeat."""
TIMEOUT = timedelta(seconds=60)
"""A heartbeat older than this is a runner that stopped."""

_JOBS = cast(Table, TraitBackfill.__table__)
_OPEN = ("pending", "running")
_log = logging.getLogger(__name__)


def claim(database: Database, workspace_id: str, job_id: str, owner: str) -> None:
    """Take the back-fill to run it; ConflictError while another live runner has it,
    NotFoundError when there is no such back-fill."""
    now = utcnow()
    with database.transaction(workspace_id=workspace_id) as session:
        current = session.execute(
            select(_JOBS.c.owner, _JOBS.c.status).where(
                _JOBS.c.id == job_id, _JOBS.c.workspace_id == workspace_id
            )
        ).first()
        if current is None:
            raise NotFoundError(f"no back-fill {job_id!r}")
        gone = current.owner if owner_is_gone(current.owner) else owner
        taken = session.execute(
            update(_JOBS)
            .where(
                _JOBS.c.id == job_id,
                _JOBS.c.workspace_id == workspace_id,
                _JOBS.c.status != "completed",
                or_(
                    _JOBS.c.owner.is_(None),
                    _JOBS.c.owner.in_([owner, gone]),
                    _JOBS.c.status == "failed",
                    _JOBS.c.heartbeat_at < now - TIMEOUT,
                ),
            )
            .values(owner=owner, heartbeat_at=now, status="running")
        )
        if getattr(taken, "rowcount", 0) == 1:
            return
    if current.status == "completed":
        raise ConflictError(f"back-fill {job_id} is already complete")
    raise ConflictError(
        f"back-fill {job_id} is running in another process; it can be taken over "
        f"{int(TIMEOUT.total_seconds())} s after that process stops"
    )


def _beat(database: Database, workspace_id: str, job_id: str, owner: str) -> bool:
    with database.transaction(workspace_id=workspace_id) as session:
        renewed = session.execute(
            update(_JOBS)
            .where(
                _JOBS.c.id == job_id,
                _JOBS.c.workspace_id == workspace_id,
                _JOBS.c.owner == owner,
            )
            .values(heartbeat_at=utcnow())
        )
        return getattr(renewed, "rowcount", 0) == 1


@contextmanager
def running(database: Database, workspace_id: str, job_id: str, owner: str) -> Iterator[None]:
    """Renew the claimed back-fill's heartbeat every ``BEAT`` while the block runs."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(BEAT.total_seconds()):
            try:
                if not _beat(database, workspace_id, job_id, owner):
                    _log.warning("back-fill %s was taken over by another process", job_id)
                    return
            except Exception:  # a busy database: try again at the next beat
                _log.warning("back-fill %s: heartbeat failed", job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"coreo-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


def run_owned(database: Database, workspace_id: str, job_id: str, owner: str) -> TraitBackfill:
    """Claim the back-fill and run it with a heartbeat (``backfill.run_backfill``)."""
    claim(database, workspace_id, job_id, owner)
    with running(database, workspace_id, job_id, owner):
        return backfill.run_backfill(database, workspace_id, job_id, owner=owner)


def orphans(database: Database) -> list[tuple[str, str]]:
    """Back-fills (workspace, id) of every workspace left ``pending`` or ``running`` by a
    runner that stopped, oldest first. A back-fill nobody claimed counts once it is
    ``TIMEOUT`` old (until then its creator is about to claim it)."""
    late = utcnow() - TIMEOUT
    with database.transaction(write=False) as session:
        rows = session.execute(
            select(
                _JOBS.c.workspace_id,
                _JOBS.c.id,
                _JOBS.c.owner,
                _JOBS.c.heartbeat_at,
                _JOBS.c.created_at,
            )
            .where(_JOBS.c.status.in_(_OPEN))
            .order_by(_JOBS.c.created_at)
        ).all()
    return [
        (workspace_id, job_id)
        for workspace_id, job_id, owner, beat_at, created_at in rows
        if (created_at < late if owner is None else (beat_at or created_at) < late)
        or owner_is_gone(owner)
    ]
