"""`coreo traits`: apply YAML (back-filled at once), list, resume back-fills, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import assert_one_line_error, coreo, invoke

TRAITS = """
traits:
  - {name: orders_90d, function: count, event: Order Completed, window: 90d}
  - {name: revenue, function: sum, event: Order Completed, property: properties.total}
"""


@pytest.mark.parametrize("command", [["apply"], ["backfill"], ["list"], ["refresh"]], ids=" ".join)
def test_every_traits_command_has_help_with_an_example(command: list[str], tmp_path: Path) -> None:
    output = invoke(tmp_path, "traits", *command, "--help")
    assert "Example:" in output and "coreo traits" in output


def test_apply_list_and_apply_again(tmp_path: Path) -> None:
    home = tmp_path / "home"
    invoke(home, "init")
    spec = tmp_path / "traits.yml"
    spec.write_text(TRAITS, encoding="utf-8")
    applied = invoke(home, "traits", "apply", str(spec))
    assert "Back-filling orders_90d, revenue" in applied and "0 events read" in applied
    listed = invoke(home, "traits", "list")
    assert "orders_90d" in listed and "ready" in listed and "90d" in listed
    assert "none changed" in invoke(home, "traits", "apply", str(spec))
    assert "No unfinished back-fill" in invoke(home, "traits", "backfill")
    assert "Refreshed 0 profiles" in invoke(home, "traits", "refresh")
    spec.write_text(TRAITS.split("  - {name: revenue")[0], encoding="utf-8")
    assert "Removed: revenue" in invoke(home, "traits", "apply", str(spec), "--replace")


def test_a_bad_file_is_one_line_with_the_place(tmp_path: Path) -> None:
    home = tmp_path / "home"
    invoke(home, "init")
    bad = tmp_path / "bad.yml"
    bad.write_text("traits:\n  - {name: x, function: sum}\n", encoding="utf-8")
    assert_one_line_error(coreo(home, "traits", "apply", str(bad)), "traits.0", "property")
    bad.write_text("traits: [", encoding="utf-8")
    assert_one_line_error(coreo(home, "traits", "apply", str(bad)), "not valid YAML")
    assert_one_line_error(coreo(home, "traits", "apply", str(tmp_path / "none.yml")), "cannot read")
