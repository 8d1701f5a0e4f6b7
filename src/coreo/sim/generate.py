"""Run a scenario and write its files: observed data, exports and ground truth.

Layout of the output directory::

    manifest.json                 scenario, counts, file checksums (no clock times)
    events.jsonl | events.parquet Segment messages in time order
    exports/erp_customers.csv     the ERP customer master (duplicates, typos, variants)
    exports/pos_transactions.csv  store sales with the loyalty card when shown
    exports/newsletter.csv        the newsletter tool's subscriber list
    exports/service_contacts.jsonl  chats, e-mails and call transcripts with outcomes
    exports/products.csv, exports/stores.csv, exports/agents.csv
    truth/persons.csv             latent traits, churn, future orders and value, fraud rings
    truth/identifiers.csv         every identifier seen and the person it belongs to
    truth/contacts.csv            intent, sentiment, urgency, frustration per contact
    truth/agents.csv              agents' latent empathy and speed

Nothing under ``truth/`` may be ingested: it is what models are scored against.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from coreo.sim.fraud import fraud_rings, simulate_ring
from coreo.sim.household import simulate_household
from coreo.sim.scenario import Scenario
from coreo.sim.sorting import ExternalSorter
from coreo.sim.world import World

__all__ = ["GENERATOR_VERSION", "Summary", "generate"]

GENERATOR_VERSION = 1
EventFormat = Literal["jsonl", "parquet"]

_COLUMNS: dict[str, tuple[str, ...]] = {
    "erp": (
        "customer_no", "source_system", "salutation", "first_name", "last_name", "birth_date",
        "street", "house_no", "postcode", "city", "country", "email", "phone", "loyalty_card",
        "language", "created_at", "updated_at",
    ),
    "pos": (
        "transaction_id", "store_id", "timestamp", "loyalty_card", "items", "skus", "total_chf",
        "payment_method",
    ),
    "newsletter": (
        "subscriber_id", "email", "first_name", "language", "status", "subscribed_at",
        "unsubscribed_at", "source",
    ),
    "identifiers": ("kind", "value", "person_id", "shared_device"),
    "contacts": (
        "contact_id", "person_id", "intent", "sentiment", "urgency", "frustration", "language",
        "code_switched", "typos", "repeat", "language_match", "skill_match",
    ),
}  # fmt: skip


def _csv_line(values: list[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode()


@dataclass
class Summary:
    out: Path
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.counts.get("events", 0) / self.seconds if self.seconds else 0.0


class _FileOutputs:
    """Writes a unit's outputs as they are produced; time-ordered files go through sorters."""

    def __init__(self, out: Path, stack: ExitStack, run_lines: int) -> None:
        self.events = ExternalSorter(out, run_lines=run_lines)
        self.pos_rows = ExternalSorter(out, run_lines=run_lines)
        self.contacts = ExternalSorter(out, run_lines=max(1000, run_lines // 20))
        stack.callback(self.events.close)
        stack.callback(self.pos_rows.close)
        stack.callback(self.contacts.close)
        self.files: dict[str, Any] = {}
        self.writers: dict[str, Any] = {}
        for name, path in (
            ("erp", out / "exports" / "erp_customers.csv"),
            ("newsletter", out / "exports" / "newsletter.csv"),
            ("identifiers", out / "truth" / "identifiers.csv"),
            ("contacts", out / "truth" / "contacts.csv"),
        ):
            handle = stack.enter_context(path.open("w", newline="", encoding="utf-8"))
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(_COLUMNS[name])
            self.writers[name] = writer
        self.persons_path = out / "truth" / "persons.csv"
        self.persons_handle = stack.enter_context(
            self.persons_path.open("w", newline="", encoding="utf-8")
        )
        self.persons: csv.DictWriter[str] | None = None
        # Rows written directly; the sorted files are counted when they are written out.
        self.counts: dict[str, int] = dict.fromkeys(
            ("erp", "newsletter", "persons", "identifiers"), 0
        )

    def event(self, ms: int, message: dict[str, Any]) -> None:
        self.events.add(ms, orjson.dumps(message))

    def pos(self, ms: int, row: dict[str, Any]) -> None:
        self.pos_rows.add(ms, _csv_line([row[c] for c in _COLUMNS["pos"]])[:-1])

    def erp(self, row: dict[str, Any]) -> None:
        self.writers["erp"].writerow([row[c] for c in _COLUMNS["erp"]])
        self.counts["erp"] += 1

    def newsletter(self, row: dict[str, Any]) -> None:
        self.writers["newsletter"].writerow([row[c] for c in _COLUMNS["newsletter"]])
        self.counts["newsletter"] += 1

    def contact(self, ms: int, observed: dict[str, Any], truth: dict[str, Any]) -> None:
        self.contacts.add(ms, orjson.dumps(observed))
        self.writers["contacts"].writerow([truth[c] for c in _COLUMNS["contacts"]])

    def person(self, row: dict[str, Any]) -> None:
        if self.persons is None:
            self.persons = csv.DictWriter(self.persons_handle, list(row), lineterminator="\n")
            self.persons.writeheader()
        self.persons.writerow(row)
        self.counts["persons"] += 1

    def identifier(self, kind: str, value: str, person_id: str, shared: bool) -> None:
        self.writers["identifiers"].writerow((kind, value, person_id, shared))
        self.counts["identifiers"] += 1


def _write_sorted(sorter: ExternalSorter, path: Path, header: bytes = b"") -> int:
    count = 0
    with path.open("wb") as out:
        out.write(header)
        for line in sorter.lines():
            out.write(line)
            count += 1
    return count


def _write_parquet(sorter: ExternalSorter, path: Path, batch: int = 50_000) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("timestamp", pa.string()),
            ("type", pa.string()),
            ("message_id", pa.string()),
            ("user_id", pa.string()),
            ("anonymous_id", pa.string()),
            ("event", pa.string()),
            ("message", pa.string()),
        ]
    )
    count = 0
    columns: dict[str, list[str | None]] = {name: [] for name in schema.names}

    def flush(writer: Any) -> None:
        if columns["message"]:
            writer.write_table(pa.table(columns, schema=schema))
            for values in columns.values():
                values.clear()

    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for line in sorter.lines():
            message = orjson.loads(line)
            columns["timestamp"].append(message["timestamp"])
            columns["type"].append(message["type"])
            columns["message_id"].append(message["messageId"])
            columns["user_id"].append(message.get("userId"))
            columns["anonymous_id"].append(message.get("anonymousId"))
            columns["event"].append(message.get("event") or message.get("name"))
            columns["message"].append(line.rstrip(b"\n").decode())
            count += 1
            if len(columns["message"]) >= batch:
                flush(writer)
        flush(writer)
    return count


def _write_reference(world: World, out: Path) -> None:
    with (out / "exports" / "products.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("product_id", "sku", "name", "brand", "category", "price_chf"))
        for p in sorted(world.catalog.products, key=lambda p: p.id):
            writer.writerow((p.id, p.sku, p.name, p.brand, p.category, f"{p.price:.2f}"))
    with (out / "exports" / "stores.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("store_id", "postcode", "city", "canton"))
        for s in world.stores:
            writer.writerow((s.id, s.postcode, s.city, s.canton))
    with (out / "exports" / "agents.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("agent_id", "languages", "skills"))
        for a in world.agents:
            writer.writerow((a.id, "|".join(a.languages), "|".join(a.skills)))
    with (out / "truth" / "agents.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("agent_id", "empathy", "speed"))
        for a in world.agents:
            writer.writerow((a.id, f"{a.empathy:.4f}", f"{a.speed:.4f}"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def generate(
    scenario: Scenario,
    out: Path,
    *,
    event_format: EventFormat = "jsonl",
    progress: Callable[[int], None] | None = None,
    run_lines: int = 200_000,
) -> Summary:
    """Simulate ``scenario`` into the directory ``out`` (created; must be empty if it exists).

    Args:
        progress: called with the number of customers finished since the last call.
        run_lines: lines per sorted run (bounds memory; see ``ExternalSorter``).
    """
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("exports", "truth"):
        (out / sub).mkdir(exist_ok=True)
    world = World(scenario)
    summary = Summary(out=out)
    with ExitStack() as stack:
        outputs = _FileOutputs(out, stack, run_lines)
        for number, members in world.households():
            simulate_household(world, number, members, outputs)
            if progress is not None:
                progress(len(members))
        for number, size in fraud_rings(world):
            simulate_ring(world, number, size, outputs)
        events_path = out / f"events.{event_format}"
        if event_format == "parquet":
            summary.counts["events"] = _write_parquet(outputs.events, events_path)
        else:
            summary.counts["events"] = _write_sorted(outputs.events, events_path)
        pos_header = _csv_line(list(_COLUMNS["pos"]))
        summary.counts["pos"] = _write_sorted(
            outputs.pos_rows, out / "exports" / "pos_transactions.csv", pos_header
        )
        summary.counts["contacts"] = _write_sorted(
            outputs.contacts, out / "exports" / "service_contacts.jsonl"
        )
        for name in ("erp", "newsletter", "persons", "identifiers"):
            summary.counts[name] = outputs.counts[name]
    _write_reference(world, out)
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "manifest.json")
    manifest = {
        "generator": "coreo.sim",
        "generator_version": GENERATOR_VERSION,
        "scenario": scenario.model_dump(mode="json"),
        "counts": summary.counts,
        "files": {str(p.relative_to(out)): _sha256(p) for p in files},
        "never_ingest": ["truth/"],
    }
    (out / "manifest.json").write_bytes(
        orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
    summary.seconds = time.perf_counter() - started
    return summary
