"""Unified customer profiles: what Coreo knows about a person, and the API to read it."""
