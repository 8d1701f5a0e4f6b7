"""Administrative commands: init, migrate, config, workspaces, keys, audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import orjson
import typer
from rich.table import Table

from coreo.audit import service as audit_service
from coreo.auth import service as auth_service
from coreo.auth.service import SCOPES, KeyKind
from coreo.cli._common import (
    WorkspaceOption,
    cli_actor,
    console,
    err_console,
    load_settings,
    open_database,
    workspace_by_slug,
)
from coreo.config import (
    ENV_PREFIX,
    Settings,
    config_file_keys,
    config_file_path,
    display_value,
    setting_source,
)
from coreo.privacy import keystore

__all__ = ["audit_app", "config_app", "init", "keys_app", "migrate", "workspace_app"]


def init(
    workspace: Annotated[str, typer.Option(help="Name of the first workspace.")] = "default",
) -> None:
    """Create the store, a first workspace, an admin key and a write key (shown once).

    Example: coreo init --workspace acme
    """
    settings = load_settings()
    database = open_database(settings, migrate=True)
    actor = cli_actor()
    with database.transaction() as session:
        if auth_service.get_workspace_by_slug(session=session, slug=workspace) is not None:
            console.print(
                f"Coreo is already initialised: workspace [bold]{workspace}[/] exists in "
                f"{database.display_url}.\nCreate another key with "
                f"`coreo keys create --workspace {workspace} --name NAME --scope admin`."
            )
            return
        ws = auth_service.create_workspace(session=session, slug=workspace, actor=actor)
        admin, write = auth_service.create_starter_keys(
            session=session, workspace_id=ws.id, label="initial", actor=actor
        )
    console.print(f"Initialised Coreo in {database.display_url}")
    console.print(f"Workspace: [bold]{workspace}[/] ({ws.id})")
    console.print(f"Admin key (all scopes):   [bold]{admin.token}[/]")
    console.print(f"Write key (ingest only):  [bold]{write.token}[/]")
    console.print("These keys are shown once and stored only as hashes. Keep them safe.")


def migrate() -> None:
    """Upgrade the database schema to this version of Coreo.

    Example: COREO_DATABASE_URL=postgresql+psycopg://coreo@db/coreo coreo migrate
    """
    settings = load_settings()
    database = open_database(settings, migrate=True, check_keys=False)
    current, _ = database.schema_revisions()
    console.print(f"Database {database.display_url} is at revision {current} (newest).")
    if settings.key_database_url is not None:
        store = keystore.key_store_of(settings)
        if keystore.bind(database, store):
            console.print(f"Keys live in the key store {store.display_url} (id {store.store_id}).")
        else:
            err_console.print(
                "The database holds its keys itself: run `coreo keys move-to-store` to move "
                f"them into the key store {store.display_url}."
            )


# -- config ----------------------------------------------------------------------------------

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@config_app.command("show")
def config_show(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print every setting with its source and description; secrets are masked.

    Example: COREO_PORT=9000 coreo config show
    """
    settings = load_settings()
    path = config_file_path()
    file_keys = config_file_keys(path)
    rows = []
    for name, field in Settings.model_fields.items():
        env = f"{ENV_PREFIX}{name.upper()}"
        source = setting_source(name, file_keys)
        value = display_value(name, getattr(settings, name))
        rows.append({"setting": env, "value": value, "source": source, "help": field.description})
    rows.append(
        {
            "setting": "(effective database)",
            "value": display_value("database_url", settings.effective_database_url),
            "source": "derived",
            "help": "The store in use: COREO_DATABASE_URL or SQLite in COREO_HOME.",
        }
    )
    if as_json:
        console.print_json(orjson.dumps(rows).decode())
        return
    table = Table(title=f"Coreo configuration{f' (file: {path})' if path else ''}")
    for column in ("setting", "value", "source", "help"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(row[c] or "") for c in ("setting", "value", "source", "help")))
    console.print(table)


# -- workspaces ------------------------------------------------------------------------------

workspace_app = typer.Typer(help="Manage workspaces (tenants).", no_args_is_help=True)


@workspace_app.command("create")
def workspace_create(
    slug: Annotated[str, typer.Argument(help="Unique name: lower-case letters, digits, '-'.")],
    display_name: Annotated[str | None, typer.Option(help="Human-readable name.")] = None,
) -> None:
    """Create a workspace.

    Example: coreo workspace create acme-ch --display-name "ACME Schweiz"
    """
    database = open_database(load_settings())
    with database.transaction() as session:
        ws = auth_service.create_workspace(
            session=session, slug=slug, display_name=display_name, actor=cli_actor()
        )
    console.print(f"Created workspace [bold]{ws.slug}[/] ({ws.id}).")


@workspace_app.command("list")
def workspace_list() -> None:
    """List workspaces.

    Example: coreo workspace list
    """
    database = open_database(load_settings())
    with database.transaction(write=False) as session:
        workspaces = auth_service.list_workspaces(session=session)
    table = Table("slug", "id", "display name", "created")
    for ws in workspaces:
        table.add_row(ws.slug, ws.id, ws.display_name, ws.created_at.isoformat(timespec="seconds"))
    console.print(table)


# -- keys ------------------------------------------------------------------------------------

keys_app = typer.Typer(help="Manage API keys and write keys.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'crm-sync'.")],
    workspace: WorkspaceOption = "default",
    kind: Annotated[KeyKind, typer.Option(help="secret, or write (ingestion only).")] = (
        KeyKind.SECRET
    ),
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Repeatable. One of: {', '.join(SCOPES)}. Default for secret keys: admin."
        ),
    ] = None,
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="Expire the key after this many days.")
    ] = None,
) -> None:
    """Create a key and print it once; only its hash is stored.

    Example: coreo keys create --workspace default --name crm-sync --scope profiles:read
    """
    database = open_database(load_settings())
    with database.transaction() as session:
        ws = workspace_by_slug(session, workspace)
        created = auth_service.create_api_key(
            session=session,
            workspace_id=ws.id,
            name=name,
            kind=kind,
            scopes=scope or ([] if kind is KeyKind.WRITE else ["admin"]),
            actor=cli_actor(),
            expires_in=timedelta(days=expires_in_days) if expires_in_days else None,
        )
    console.print(
        f"Created {kind.value} key {created.key.prefix} ({', '.join(created.key.scopes)})"
    )
    console.print(f"[bold]{created.token}[/]")
    console.print("This is the only time the key is shown.")


@keys_app.command("list")
def keys_list(
    workspace: WorkspaceOption = "default",
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List a workspace's keys (prefixes only; secrets are never stored).

    Example: coreo keys list --workspace default --all
    """
    database = open_database(load_settings())
    with database.transaction(write=False) as session:
        ws = workspace_by_slug(session, workspace)
        keys = auth_service.list_api_keys(
            session=session, workspace_id=ws.id, include_revoked=all_keys
        )
    table = Table("prefix", "id", "kind", "name", "scopes", "created", "last used", "revoked")
    for key in keys:
        table.add_row(
            key.prefix,
            key.id,
            key.kind,
            key.name,
            ", ".join(key.scopes),
            key.created_at.isoformat(timespec="seconds"),
            key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "",
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="Key id (key_…) or public prefix (coreo_sk_…).")],
    workspace: WorkspaceOption = "default",
) -> None:
    """Revoke a key; requests with it fail with 401 from then on.

    Example: coreo keys revoke coreo_sk_ab12cd34ef56 --workspace default
    """
    database = open_database(load_settings())
    with database.transaction() as session:
        ws = workspace_by_slug(session, workspace)
        revoked = auth_service.revoke_api_key(
            session=session, workspace_id=ws.id, key_ref=key, actor=cli_actor()
        )
    console.print(f"Revoked {revoked.prefix}.")


# -- audit -----------------------------------------------------------------------------------

audit_app = typer.Typer(
    help="Read and verify the tamper-evident audit trail.", no_args_is_help=True
)


@audit_app.command("verify")
def audit_verify(
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="Only this workspace's chain.")
    ] = None,
) -> None:
    """Recompute the hash chain; exit 1 naming the first broken entry of each broken chain.

    Example: coreo audit verify
    """
    database = open_database(load_settings())
    with database.transaction(write=False) as session:
        chain = workspace_by_slug(session, workspace).id if workspace else None
        report = audit_service.verify(session=session, chain=chain)
    if report.ok:
        console.print(f"OK: {report.checked} entries in {report.chains} chain(s) verified.")
        return
    for found in report.breaks:
        console.print(f"BROKEN: chain {found.chain}, entry {found.seq}: {found.reason}")
    raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    workspace: WorkspaceOption = "default",
    system: Annotated[
        bool,
        typer.Option(
            "--system", help="Show the installation's chain (server configuration changes)."
        ),
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    after: Annotated[int, typer.Option(min=0, help="Start after this entry number.")] = 0,
) -> None:
    """Print a workspace's (or, with --system, the installation's) audit entries, oldest first.

    Example: coreo audit show --workspace default --limit 20
    """
    database = open_database(load_settings())
    with database.transaction(write=False) as session:
        chain = audit_service.SYSTEM_CHAIN if system else workspace_by_slug(session, workspace).id
        entries = audit_service.list_entries(
            session=session, chain=chain, after_seq=after, limit=limit
        )
    table = Table("seq", "time", "actor", "action", "target", "changed", "hash")
    for entry in entries:
        changed = (
            entry.details.get("changed") if entry.action == audit_service.CONFIG_CHANGED else None
        )
        table.add_row(
            str(entry.seq),
            entry.occurred_at.isoformat(timespec="seconds"),
            entry.actor,
            entry.action,
            entry.target,
            ", ".join(changed) if isinstance(changed, dict) else "",
            entry.hash[:12],
        )
    console.print(table)
