"""The durable, partitioned event log: one interface, SQL table and NATS JetStream backends."""

from __future__ import annotations

from coreo.config import Settings
from coreo.db import Database
from coreo.eventlog.base import EventLog

__all__ = ["build_event_log"]


def build_event_log(settings: Settings, database: Database) -> EventLog:
    """The backend the settings choose (``COREO_EVENT_LOG``)."""
    if settings.event_log == "nats" and settings.nats_url is not None:
        from coreo.eventlog.nats import NatsEventLog

        return NatsEventLog(
            settings.nats_url.get_secret_value(),
            settings.event_log_partitions,
            name=settings.nats_stream,
        )
    from coreo.eventlog.sql import SqlEventLog

    return SqlEventLog(database, settings.event_log_partitions)
