"""Workspaces, API keys, write keys and scopes."""
