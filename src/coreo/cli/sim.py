"""`coreo sim`: generate the simulated company and replay it into a server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from coreo.cli._common import console
from coreo.errors import InvalidInputError
from coreo.sim.generate import generate
from coreo.sim.replay import parse_rate, read_events, replay
from coreo.sim.scenario import Scenario, load_scenario

__all__ = ["sim_app"]

sim_app = typer.Typer(
    help="The simulated company: realistic customer data with ground truth.",
    no_args_is_help=True,
)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


@sim_app.command("generate")
def sim_generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write (created).")],
    customers: Annotated[
        int | None, typer.Option(min=100, max=1_000_000, help="Customers (default 10000).")
    ] = None,
    days: Annotated[int | None, typer.Option(min=1, max=3650, help="Days (default 365).")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed (default 42).")] = None,
    scenario_file: Annotated[
        Path | None,
        typer.Option("--scenario", help="YAML or TOML scenario; options above override it."),
    ] = None,
    event_format: Annotated[
        str, typer.Option("--format", help="Events file format: jsonl or parquet.")
    ] = "jsonl",
    force: Annotated[
        bool, typer.Option("--force", help="Write into a directory that is not empty.")
    ] = False,
) -> None:
    """Simulate the retailer's customers and write events, exports and ground truth.

    Example: coreo sim generate --customers 10000 --days 365 --seed 42 --out ./sim
    """
    if event_format not in ("jsonl", "parquet"):
        raise InvalidInputError(f"--format must be jsonl or parquet, not {event_format!r}")
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InvalidInputError(f"{out} is not empty; choose another --out or pass --force")
    scenario = load_scenario(scenario_file, customers=customers, days=days, seed=seed)
    with _progress() as bar:
        task = bar.add_task("simulating customers", total=scenario.customers)
        summary = generate(
            scenario,
            out,
            event_format="parquet" if event_format == "parquet" else "jsonl",
            progress=lambda n: bar.advance(task, n),
        )
    table = Table("output", "records", title=f"{scenario.name}: {out}")
    for name, count in summary.counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    console.print(
        f"{summary.counts.get('events', 0):,} events in {summary.seconds:.1f} s "
        f"({summary.events_per_second:,.0f} events/s). Ground truth is in {out / 'truth'}; "
        "never ingest it."
    )


@sim_app.command("scenario")
def sim_scenario() -> None:
    """Print the default scenario as YAML, to copy and edit.

    Example: coreo sim scenario > my-world.yml && coreo sim generate --scenario my-world.yml -o out
    """
    data = Scenario().model_dump(mode="json")
    console.print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="", markup=False)


@sim_app.command("replay")
def sim_replay(
    source: Annotated[
        Path, typer.Argument(help="A generated directory, or its events.jsonl/.parquet file.")
    ],
    to: Annotated[str, typer.Option("--to", help="Base URL of the Coreo server.")],
    write_key: Annotated[str, typer.Option("--write-key", help="A source's write key.")],
    rate: Annotated[
        str, typer.Option("--rate", help="Events per second, e.g. 2000/s; max for no limit.")
    ] = "2000/s",
    batch_size: Annotated[int, typer.Option(min=1, max=2500, help="Messages per batch.")] = 100,
    endpoint: Annotated[str, typer.Option(help="Batch endpoint path.")] = "/v1/batch",
    max_retries: Annotated[
        int, typer.Option(min=0, max=20, help="Retries of a batch on 429, 5xx or no connection.")
    ] = 6,
) -> None:
    """Send generated events to a server through its Segment-compatible batch API.

    Example: coreo sim replay ./sim --to http://127.0.0.1:8000 --write-key coreo_wk_... --rate 2000
    """
    path = source
    if source.is_dir():
        candidates = [source / "events.jsonl", source / "events.parquet"]
        path = next((c for c in candidates if c.is_file()), candidates[0])
    per_second = parse_rate(rate)
    total = _count_events(path)
    with _progress() as bar:
        task = bar.add_task("replaying events", total=total)
        report = replay(
            read_events(path),
            url=to,
            write_key=write_key,
            rate=per_second,
            batch_size=batch_size,
            endpoint=endpoint,
            max_retries=max_retries,
            progress=lambda n: bar.advance(task, n),
        )
    console.print(
        f"Sent {report.sent:,} events in {report.batches:,} batches in {report.seconds:.1f} s "
        f"({report.rate:,.0f} events/s, {report.retries} retries)."
    )


def _count_events(path: Path) -> int | None:
    if path.suffix == ".parquet" and path.is_file():
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    manifest = path.parent / "manifest.json"
    if manifest.is_file():
        import orjson

        counts = orjson.loads(manifest.read_bytes()).get("counts", {})
        events = counts.get("events")
        return int(events) if isinstance(events, int) else None
    return None
