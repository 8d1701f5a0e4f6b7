"""Fixtures for privacy: the pipeline drain and the ingestion client."""

from __future__ import annotations

from tests.ingest.conftest import drain

__all__ = ["drain"]
