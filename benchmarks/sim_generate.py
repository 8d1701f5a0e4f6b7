"""Benchmark: simulator generation rate and memory as the customer count grows.

Prints, for the default world (365 days) at several sizes, events per second of a full
`generate` run (simulation, serialisation, time-ordering, files) and the peak resident
memory of the process that ran it. The baseline, measured in the same run, is the rate of
the cheapest possible producer of the same bytes: serialising one fixed, typical event
with orjson and writing it to a file, with no simulation at all.

Run: .venv/bin/python benchmarks/sim_generate.py [--sizes 2000,10000,40000]
Target (issue 3): >= 50,000 events/s on one core; peak memory flat as customers grow.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

import orjson

_CHILD = """
import json, resource, sys, tempfile
from pathlib import Path
from coreo.sim.generate import generate
from coreo.sim.scenario import Scenario
customers = int(sys.argv[1])
with tempfile.TemporaryDirectory() as out:
    summary = generate(Scenario(customers=customers), Path(out) / "w")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"events": summary.counts["events"], "seconds": summary.seconds,
                      "peak_mb": peak_mb}))
"""


def baseline_rate(count: int = 300_000) -> float:
    event = {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": "5f0c2a8e-3b1d-4e7a-a9c1-0d2e4f6a8b0c",
        "userId": "u123456789",
        "properties": {
            "product_id": "P00042",
            "sku": "OUT-123456",
            "name": "Alpina Zelt Pro",
            "category": "outdoor",
            "brand": "Alpina",
            "price": 249.9,
            "currency": "CHF",
        },
        "context": {"ip": "85.1.2.3", "locale": "de-CH", "library": {"name": "analytics.js"}},
        "messageId": "0b7e4c1a-9f2d-4a3b-a1c2-d3e4f5a6b7c8",
        "timestamp": "2025-03-14T09:21:33.123Z",
    }
    with tempfile.TemporaryFile() as handle:
        started = time.perf_counter()
        for _ in range(count):
            handle.write(orjson.dumps(event) + b"\n")
        return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,10000,40000")
    args = parser.parse_args()
    base = baseline_rate()
    print(f"baseline (orjson dump + write of a fixed event): {base:,.0f} events/s")
    for size in (int(s) for s in args.sizes.split(",")):
        result = subprocess.run(  # noqa: S603 - runs this interpreter on a fixed script
            [sys.executable, "-c", _CHILD, str(size)], capture_output=True, text=True, check=True
        )
        data = json.loads(result.stdout.strip().splitlines()[-1])
        rate = data["events"] / data["seconds"]
        print(
            f"sim generate {size:>7,} customers: {rate:,.0f} events/s "
            f"({rate / base:.2f}x baseline), {data['events']:,} events in "
            f"{data['seconds']:.1f} s, peak memory {data['peak_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
