"""Helpers shared by CLI commands: consoles, settings, database, port checks, the actor."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.auth import service as auth_service
from coreo.auth.models import Workspace
from coreo.config import Settings, get_settings
from coreo.db import Database
from coreo.errors import ConfigurationError, InvalidInputError, NotFoundError
from coreo.privacy import keystore
from coreo.privacy.crypto import keys_of
from coreo.privacy.sealing import seal_stored

__all__ = [
    "WorkspaceOption",
    "as_utc",
    "audit_server_config",
    "cli_actor",
    "console",
    "ensure_port_free",
    "err_console",
    "load_settings",
    "open_database",
    "read_document",
    "workspace_by_slug",
]

T = TypeVar("T")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

WorkspaceOption = Annotated[
    str, typer.Option("--workspace", "-w", help="Workspace name (slug).", show_default=True)
]
"""The ``--workspace`` option of every command that works in one workspace."""


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and coreo.toml, with CLI options (not None) on top."""
    return get_settings(**{k: v for k, v in overrides.items() if v is not None})


def open_database(
    settings: Settings,
    *,
    migrate: bool | None = None,
    seal: bool = True,
    check_keys: bool = True,
) -> Database:
    """Open the store; migrate it when asked (default: only the embedded SQLite store).

    A PostgreSQL schema that is not current is an error naming `coreo migrate`. A
    migration also gives the key store (``COREO_KEY_DATABASE_URL``) its schema and binds
    the database to it, and a migration of existing data seals the identifiers an older
    Coreo stored in clear (``coreo.privacy.sealing``), unless ``seal`` is False (the caller
    seals). Unless ``check_keys`` is False, a database whose keys live elsewhere than the
    settings say is an error (``coreo.privacy.keystore``).
    """
    database = Database.from_settings(settings)
    if migrate if migrate is not None else settings.is_embedded:
        before, after = database.migrate()
        usable = settings.key_database_url is None or keystore.bind(  # False: keys to move
            database, keystore.key_store_of(settings)
        )
        if seal and usable and before is not None and before != after:  # an older Coreo's data
            sealed = seal_stored(database)
            if sealed:
                console.print(f"Sealed identifiers stored in clear: {sealed}")
    else:
        database.require_current_schema()
    if check_keys:
        with database.transaction(write=False) as session:
            keys_of(session).check(session)
    return database


def audit_server_config(database: Database, settings: Settings) -> None:
    """Append `config.changed` to the system audit chain when the settings differ from the
    last server start (secrets appear only as set or unset)."""
    with database.transaction() as session:
        audit_service.record_config(
            session=session, snapshot=settings.public_snapshot(), actor=cli_actor()
        )


def cli_actor() -> str:
    """Audit actor for CLI actions: the operating-system account that ran the command."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def workspace_by_slug(session: Session, slug: str) -> Workspace:
    workspace = auth_service.get_workspace_by_slug(session=session, slug=slug)
    if workspace is None:
        raise NotFoundError(f"no workspace named {slug!r}; list them with `coreo workspace list`")
    return workspace


def workspace_id_of(database: Database, slug: str) -> str:
    """The id of the workspace named ``slug``; NotFoundError names the way to list them."""
    with database.transaction(write=False) as session:
        return workspace_by_slug(session, slug).id


def ensure_port_free(host: str, port: int) -> None:
    """Fail with one clear line when the address cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = (
                "is already in use" if error.errno == 98 else f"cannot be used ({error.strerror})"
            )
            raise ConfigurationError(
                f"port {port} on {host} {reason}; choose another with --port or COREO_PORT"
            ) from None


def read_document(file: Path, load: Callable[[str], T]) -> T:
    """A YAML or JSON file given on the command line, loaded by ``load``; a one-line error
    names the file when it cannot be read or is not valid."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInputError(f"cannot read {file}: {error.strerror}") from None
    try:
        return load(text)
    except InvalidInputError as error:
        raise InvalidInputError(f"{file}: {error.message}") from None


def as_utc(value: datetime | None) -> datetime | None:
    """A time given on the command line (naive: UTC)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
