"""Event history: every processed event, queryable by identity and time."""
