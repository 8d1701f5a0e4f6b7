"""Computed traits: declarative aggregates over each profile's events (M4)."""
