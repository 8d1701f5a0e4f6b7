"""`coreo sim`: generate, scenario and replay from the command line."""

from __future__ import annotations

from pathlib import Path

import orjson
import yaml

from coreo.sim.scenario import load_scenario
from tests.cli.test_cli import assert_one_line_error, coreo


def test_generate_writes_the_world_and_reports_counts(tmp_path: Path) -> None:
    out = tmp_path / "world"
    result = coreo(
        tmp_path, "sim", "generate", "--customers", "150", "--days", "30", "--seed", "3",
        "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["scenario"]["customers"] == 150 and manifest["scenario"]["seed"] == 3
    assert f"{manifest['counts']['events']:,}" in result.stdout
    assert (out / "truth" / "persons.csv").is_file() and "never ingest" in result.stdout
    # A second run must not silently overwrite it.
    again = coreo(tmp_path, "sim", "generate", "--customers", "150", "--out", str(out))
    assert_one_line_error(again, "is not empty", "--force")


def test_scenario_prints_editable_yaml_that_loads_back(tmp_path: Path) -> None:
    result = coreo(tmp_path, "sim", "scenario")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "mine.yml"
    data = yaml.safe_load(result.stdout)
    data["customers"] = 250
    path.write_text(yaml.safe_dump(data))
    assert load_scenario(path).customers == 250


def test_bad_scenario_and_options_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("churn:\n  yearly_rate: 3\n")
    result = coreo(
        tmp_path, "sim", "generate", "--scenario", str(bad), "--out", str(tmp_path / "o")
    )
    assert_one_line_error(result, "churn.yearly_rate")
    result = coreo(tmp_path, "sim", "generate", "--format", "xml", "--out", str(tmp_path / "o"))
    assert_one_line_error(result, "--format must be jsonl or parquet")


def test_replay_to_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "world"
    assert (
        coreo(
            tmp_path, "sim", "generate", "--customers", "100", "--days", "7", "--out", str(out)
        ).returncode
        == 0
    )
    result = coreo(
        tmp_path, "sim", "replay", str(out), "--to", "http://127.0.0.1:9", "--write-key", "k",
        "--rate", "max", "--max-retries", "0",
    )  # fmt: skip
    assert_one_line_error(result, "gave up after 0 retries", "cannot reach the server")
    result = coreo(
        tmp_path, "sim", "replay", str(out), "--to", "http://127.0.0.1:9", "--write-key", "k",
        "--rate", "fast",
    )  # fmt: skip
    assert_one_line_error(result, "events per second")
