"""History tests use the ingestion fixtures (an app without worker, a worker to drain)."""

from tests.ingest.conftest import drain, ingest_client

__all__ = ["drain", "ingest_client"]
