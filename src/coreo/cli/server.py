"""`coreo serve` and `coreo demo`."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx2
import orjson
import typer
import uvicorn
from rich.table import Table

import coreo.sim as sim_package
from coreo.app import create_app
from coreo.auth import service as auth_service
from coreo.auth.service import NewKey
from coreo.cli._common import (
    audit_server_config,
    cli_actor,
    console,
    ensure_port_free,
    load_settings,
    open_database,
)
from coreo.config import LogFormat, Settings
from coreo.db import Database
from coreo.errors import CoreoError
from coreo.history import service as history_service
from coreo.observability.logs import configure_logging
from coreo.sim.generate import Summary, generate
from coreo.sim.replay import read_events, replay
from coreo.sim.scenario import Scenario
from coreo.traits.definitions import load_yaml

__all__ = ["demo", "serve"]

HostOption = Annotated[str | None, typer.Option(help="Address to listen on (default: COREO_HOST).")]
PortOption = Annotated[
    int | None, typer.Option(min=1, max=65535, help="Port to listen on (default: COREO_PORT).")
]


def serve(
    host: HostOption = None,
    port: PortOption = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Server processes (default: COREO_WORKERS).")
    ] = None,
) -> None:
    """Run the API server (the embedded store is migrated automatically).

    Example: coreo serve --host 0.0.0.0 --port 8000 --workers 2
    """
    settings = load_settings(host=host, port=port, workers=workers)
    ensure_port_free(settings.host, settings.port)
    configure_logging(level=settings.log_level, fmt=settings.log_format.value)
    database = open_database(settings)
    audit_server_config(database, settings)
    database.dispose()
    if settings.workers > 1:
        # Each worker process writes its metrics to files that /metrics merges.
        metrics_dir = settings.home / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    # Worker processes build the app from the environment: pass CLI choices on through it.
    os.environ["COREO_HOST"], os.environ["COREO_PORT"] = settings.host, str(settings.port)
    uvicorn.run(
        "coreo.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


# -- demo ------------------------------------------------------------------------------------

DEMO_WORKSPACE = "demo"
_DEMO_KEY_NAMES = ("demo admin key", "demo write key")


@dataclass(frozen=True, slots=True)
class DemoKeys:
    admin: NewKey
    write: NewKey


def _prepare_demo_workspace(database: Database) -> DemoKeys:
    """Ensure the demo workspace and fresh demo keys (earlier demo keys are revoked)."""
    actor = cli_actor()
    with database.transaction() as session:
        ws = auth_service.get_workspace_by_slug(session=session, slug=DEMO_WORKSPACE)
        if ws is None:
            ws = auth_service.create_workspace(
                session=session, slug=DEMO_WORKSPACE, display_name="Coreo demo", actor=actor
            )
        for key in auth_service.list_api_keys(session=session, workspace_id=ws.id):
            if key.name in _DEMO_KEY_NAMES:
                auth_service.revoke_api_key(
                    session=session, workspace_id=ws.id, key_ref=key.id, actor=actor
                )
        admin, write = auth_service.create_starter_keys(
            session=session, workspace_id=ws.id, label="demo", actor=actor
        )
    return DemoKeys(admin=admin, write=write)


def _demo_world(settings: Settings, customers: int) -> Summary:
    """Generate the simulated company into COREO_HOME/sim (reused when already there)."""
    out = settings.home / "sim"
    scenario = Scenario(customers=customers, days=90)
    manifest = out / "manifest.json"
    if manifest.is_file():
        data = orjson.loads(manifest.read_bytes())
        if data.get("scenario") == scenario.model_dump(mode="json"):
            return Summary(out=out, counts=dict(data.get("counts", {})))
    shutil.rmtree(out, ignore_errors=True)
    with console.status(f"Simulating {customers:,} customers ..."):
        return generate(scenario, out)


def _replay_world(
    base: str, keys: DemoKeys, world: Summary, database: Database
) -> tuple[str, str, bool]:
    """Send the simulated events through the live batch API and wait until processed."""
    started = time.monotonic()
    with console.status(f"Replaying {world.counts.get('events', 0):,} simulated events ..."):
        report = replay(
            read_events(world.out / "events.jsonl"),
            url=base,
            write_key=keys.write.token,
            batch_size=500,
        )
        workspace_id = keys.write.key.workspace_id
        stored = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with database.transaction(write=False) as session:
                stored = history_service.count_events(session=session, workspace_id=workspace_id)
            if stored >= report.sent:
                break
            time.sleep(0.2)
    seconds = time.monotonic() - started
    return (
        "POST /v1/batch: replay the simulated company, then process it",
        f"{report.sent:,} sent, {stored:,} in history, {report.sent / seconds:,.0f} events/s",
        stored >= report.sent,
    )


DEMO_IMPORTS = (("erp_customers", "erp"), ("pos_transactions", "pos"))


def _import_exports(base: str, keys: DemoKeys, world: Summary) -> tuple[str, str, bool]:
    """Upload the retailer's ERP customer master and till receipts with their mappings."""
    mappings = Path(sim_package.__file__).parent / "mappings"
    auth = (keys.write.token, "")
    totals = {"rows_read": 0, "rows_accepted": 0, "rows_rejected": 0}
    passed = True
    with (
        console.status("Importing the ERP customer master and till receipts ..."),
        httpx2.Client(base_url=base, timeout=60) as client,
    ):
        for export, source in DEMO_IMPORTS:
            path = world.out / "exports" / f"{export}.csv"
            with path.open("rb") as handle:
                started = client.post(
                    "/v1/imports",
                    auth=auth,
                    files={"file": (path.name, handle, "text/csv")},
                    data={"source": source, "mapping": (mappings / f"{export}.yml").read_text()},
                )
            job = started.json()
            deadline = time.monotonic() + 120
            while started.is_success and job.get("status") in ("pending", "running"):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
                job = client.get(f"/v1/imports/{job['id']}", auth=auth).json()
            passed = passed and job.get("status") == "completed"
            for name in totals:
                totals[name] += int(job.get(name, 0))
    return (
        "POST /v1/imports: ERP customer master and till receipts (CSV + mapping)",
        f"{totals['rows_read']:,} rows, {totals['rows_accepted']:,} accepted, "
        f"{totals['rows_rejected']:,} rejected",
        passed,
    )


def _demo_user(world: Summary) -> str | None:
    """A simulated customer who logged in, to look up."""
    with (world.out / "events.jsonl").open("rb") as handle:
        for line in handle:
            message = orjson.loads(line)
            if message.get("type") == "identify" and message.get("userId"):
                return str(message["userId"])
    return None


def _traits_check(base: str, keys: DemoKeys) -> tuple[str, str, bool]:
    """Define the simulated retailer's computed traits (sim/traits.yml) through the API and
    wait for their back-fills; unchanged definitions (a later demo run) need none."""
    admin = {"Authorization": f"Bearer {keys.admin.token}"}
    definitions = load_yaml((Path(sim_package.__file__).parent / "traits.yml").read_text())
    jobs, ok = [], True
    with httpx2.Client(base_url=base, timeout=10) as client:
        for definition in definitions:
            body = definition.model_dump(mode="json", exclude_defaults=True)
            put = client.put(f"/v1/computed-traits/{definition.name}", json=body, headers=admin)
            ok = ok and put.is_success
            if put.is_success and put.json()["backfill"]:
                jobs.append(put.json()["backfill"]["id"])
        deadline = time.monotonic() + 60
        pending = list(jobs)
        while ok and pending and time.monotonic() < deadline:
            job = client.get(f"/v1/computed-traits/backfills/{pending[0]}", headers=admin)
            status = job.json().get("status") if job.is_success else "failed"
            if status == "completed":
                pending.pop(0)
            elif status == "failed":
                ok = False
            else:
                time.sleep(0.1)
    return (
        "PUT /v1/computed-traits: orders, revenue, favourite category, ...",
        f"{len(definitions)} defined, {len(jobs)} back-filled from history",
        ok and not pending,
    )


def _profile_check(base: str, keys: DemoKeys, user: str | None) -> tuple[str, str, bool]:
    """Look a customer up by login: one profile with their cookies, e-mail and traits, and
    the consents their cookie banner gave (the consent stage read them from the events)."""
    admin = {"Authorization": f"Bearer {keys.admin.token}"}
    with httpx2.Client(base_url=base, timeout=10) as client:
        found = client.get("/v1/profiles/lookup", params={"user_id": user or ""}, headers=admin)
        body = found.json() if found.is_success else {}
        consents = (
            client.get(f"/v1/profiles/{body['id']}/consents", headers=admin)
            if "id" in body
            else None
        )
    records = consents.json().get("records", []) if consents and consents.is_success else []
    return (
        f"GET /v1/profiles/lookup?user_id={user} and its consents",
        f"{found.status_code}: {len(body.get('identities', []))} identities, "
        f"{len(body.get('traits', {}))} traits, {len(body.get('computed_traits', {}))} "
        f"computed traits, {len(body.get('merges', []))} merges, {len(records)} consent "
        "records",
        found.status_code == 200 and bool(body.get("identities")),
    )


def _self_check(base: str, keys: DemoKeys) -> list[tuple[str, str, bool]]:
    """Exercise the live server the way a user would; return (what, outcome, passed) rows."""
    admin = {"Authorization": f"Bearer {keys.admin.token}"}
    rows: list[tuple[str, str, bool]] = []
    with httpx2.Client(base_url=base, timeout=5) as client:
        ready = client.get("/readyz")
        rows.append(
            ("GET /readyz", f"{ready.status_code} {ready.json().get('status')}", ready.is_success)
        )
        who = client.get("/v1/whoami", headers=admin)
        rows.append(
            (
                "GET /v1/whoami (admin key)",
                f"{who.status_code} scopes={who.json().get('scopes')}",
                who.status_code == 200,
            )
        )
        basic = client.get("/v1/whoami", auth=(keys.write.token, ""))
        rows.append(
            (
                "GET /v1/whoami (write key as Basic user, like Segment SDKs)",
                f"{basic.status_code} scopes={basic.json().get('scopes')}",
                basic.status_code == 200,
            )
        )
        denied = client.get("/v1/keys", auth=(keys.write.token, ""))
        rows.append(
            (
                "GET /v1/keys with the write key (must be refused)",
                f"{denied.status_code} {denied.headers.get('content-type')}",
                denied.status_code == 403,
            )
        )
        verify = client.get("/v1/audit/verify", headers=admin)
        body = verify.json()
        rows.append(
            (
                "GET /v1/audit/verify",
                f"{verify.status_code} ok={body.get('ok')} entries={body.get('checked')}",
                bool(body.get("ok")),
            )
        )
    return rows


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _own_command() -> str:
    """How to run `coreo` again from here (the venv's script when not on PATH)."""
    script = Path(sys.argv[0])
    if script.name != "coreo":
        return "coreo"
    if shutil.which("coreo") == str(script.resolve()):
        return "coreo"
    try:
        return str(script.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def _print_demo(
    database: Database,
    base: str,
    keys: DemoKeys,
    checks: list[tuple[str, str, bool]],
    world: Summary,
    user: str | None,
) -> None:
    table = Table("check against the live server", "result", "", title="Self-check")
    for what, outcome, passed in checks:
        table.add_row(what, outcome, "[green]ok[/]" if passed else "[red]FAILED[/]")
    console.print(table)
    admin, write = keys.admin.token, keys.write.token
    bearer = f"-H 'Authorization: Bearer {admin}'"
    coreo = _own_command()
    lines = [
        f"API         {base}   interactive docs: {base}/docs",
        f"Store       {database.display_url}",
        f"Workspace   {DEMO_WORKSPACE}",
        f"Admin key   {admin}",
        f"Write key   {write}",
        "The keys are new for this run (earlier demo keys were revoked); only their hashes",
        "are stored.",
        "",
        "What the demo loaded: Alpenmarkt, a simulated Swiss retailer with "
        f"{world.counts['persons']:,} customers",
        f"over 90 days. Its {world.counts['events']:,} events were sent to /v1/batch like an "
        "SDK would, and the",
        "worker processed them into the event history of the workspace above; its ERP customer",
        "master and till receipts were uploaded to /v1/imports with the mappings in",
        f"{Path(sim_package.__file__).parent / 'mappings'}. The simulator's",
        f"files are in {world.out}: ERP/POS/newsletter exports, service transcripts, and in",
        "truth/ the real identities, churn and labels (never ingested). See docs/simulator.md.",
        "",
        "Try the API:",
        f"  curl -s {bearer} {base}/v1/whoami",
        f"  curl -s -u '{write}:' {base}/v1/whoami",
        f"  curl -s -u '{write}:' -H 'Content-Type: application/json' {base}/v1/track "
        """-d '{"userId":"u1","event":"Order Completed","properties":{"revenue":42}}'""",
        f"  curl -s {bearer} '{base}/v1/profiles/lookup?user_id={user}'   # one customer, unified",
        f"  curl -s {bearer} '{base}/v1/profiles/<id>/timeline?limit=20'   # <id> from the "
        "lookup: their events, newest first",
        f"  curl -s {bearer} '{base}/v1/profiles/<id>/consents'   # their consents, from the "
        "cookie banner's signals in the events",
        f"  curl -s {bearer} {base}/v1/computed-traits      # the computed traits defined from "
        f"{Path(sim_package.__file__).parent / 'traits.yml'}",
        f"  curl -s {bearer} {base}/v1/identity/rules      # how identifiers link profiles "
        f"(coreo identity rules show)",
        f"  curl -s {bearer} {base}/v1/dead-letters        # events that failed, with reasons",
        f"  curl -s {bearer} {base}/v1/audit               # every admin action and profile "
        "read, hash-chained",
        f"  curl -s {bearer} -H 'Content-Type: application/json' {base}/v1/privacy/requests "
        f"""-d '{{"type": "access", "identifier": {{"type": "user_id", "value": "{user}"}}}}'"""
        "   # that customer's access request (then …/verify, …/execute, …/package)",
        f"  curl -s {bearer} {base}/v1/privacy/ropa        # the record of processing activities",
        f"  curl -s {base}/metrics | grep coreo_stage      # the pipeline's metrics",
        "",
        "Look at the data (in another terminal, from this directory):",
        f"  {coreo} events export --workspace {DEMO_WORKSPACE} --out demo-events.parquet   "
        "# the events of those whose consents allow analytics",
        f"  {coreo} dlq list --workspace {DEMO_WORKSPACE}",
        f"  {coreo} import {world.out / 'exports' / 'newsletter.csv'} --workspace "
        f"{DEMO_WORKSPACE} --source newsletter --mapping "
        f"{Path(sim_package.__file__).parent / 'mappings' / 'newsletter.yml'}",
        f"  {coreo} traits list --workspace {DEMO_WORKSPACE}",
        f"  {coreo} audit verify",
        f"  {coreo} ropa --workspace {DEMO_WORKSPACE}",
        f"  {coreo} retention run --workspace {DEMO_WORKSPACE} --dry-run   # what retention "
        "would purge now: the simulated company's events lie well in the past",
        "More: README.md and docs/ (api.md, cli.md, imports.md, identity.md, "
        "computed-traits.md, consent.md, privacy.md, simulator.md).",
    ]
    console.rule("[bold]Coreo demo is running")
    for line in lines:
        console.print(line, soft_wrap=True, markup=False)
    console.rule()


def demo(
    host: HostOption = None,
    port: PortOption = None,
    exit_after_check: Annotated[
        bool, typer.Option(help="Stop after the self-check instead of serving until Ctrl+C.")
    ] = False,
    customers: Annotated[
        int, typer.Option(min=100, max=1_000_000, help="Customers of the simulated company.")
    ] = 500,
) -> None:
    """Start an embedded Coreo with a demo workspace, check it end to end and keep serving.

    Example: coreo demo --port 8080
    """
    settings = load_settings(host=host, port=port)
    configure_logging(level="WARNING", fmt=LogFormat.CONSOLE.value)
    ensure_port_free(settings.host, settings.port)
    database = open_database(settings, migrate=True)
    audit_server_config(database, settings)
    keys = _prepare_demo_workspace(database)
    world = _demo_world(settings, customers)
    app = create_app(settings, database=database)
    configure_logging(level="WARNING", fmt=LogFormat.CONSOLE.value)  # create_app set the server's
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=settings.host, port=settings.port, log_config=None, access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="coreo-demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise CoreoError(f"the demo server did not start on {settings.host}:{settings.port}")
        time.sleep(0.05)
    base = f"http://{settings.host}:{settings.port}"
    try:
        checks = _self_check(base, keys)
        checks.append(_traits_check(base, keys))
        checks.append(_replay_world(base, keys, world, database))
        checks.append(_import_exports(base, keys, world))
        user = _demo_user(world)
        checks.append(_profile_check(base, keys, user))
        _print_demo(database, base, keys, checks, world, user)
        if not all(passed for _, _, passed in checks):
            raise CoreoError("the demo self-check failed; see the table above")
        if exit_after_check:
            return
        console.print("Serving until Ctrl+C.")
        signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly when a supervisor asks too
        while thread.is_alive():
            thread.join(timeout=0.5)
    except KeyboardInterrupt:
        console.print("Stopping.")
    finally:
        server.should_exit = True
        thread.join(timeout=15)
