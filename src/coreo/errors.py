"""Domain errors. Services raise these; the API maps them to problem+json, the CLI to one line."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = [
    "ConfigurationError",
    "ConflictError",
    "CoreoError",
    "InvalidInputError",
    "NotFoundError",
    "ServiceUnavailableError",
    "first_problem",
]


class CoreoError(Exception):
    """Base of every error Coreo reports to a person rather than as a crash."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(CoreoError):
    """A setting is missing, malformed or inconsistent."""


class NotFoundError(CoreoError):
    """The thing asked for does not exist (in the caller's workspace)."""


class ConflictError(CoreoError):
    """The request conflicts with the current state (duplicate name, already revoked...)."""


class InvalidInputError(CoreoError):
    """Input is well-formed but not acceptable; ``field`` names the offending input."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ServiceUnavailableError(CoreoError):
    """A backing service (database, Redis, event log) cannot be reached."""


def first_problem(error: ValidationError) -> str:
    """A pydantic error's first problem as one line: ``where.it.is: what is wrong``."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
