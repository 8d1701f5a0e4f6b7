"""Tamper-evident audit trail: a hash chain per workspace."""
