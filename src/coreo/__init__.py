"""Coreo: open-source, self-hosted customer orchestration platform."""

__version__ = "0.1.0"

__all__ = ["__version__"]
