"""Scenario files: defaults, YAML and TOML, overrides and readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from coreo.errors import InvalidInputError
from coreo.sim.scenario import Scenario, load_scenario


def test_default_scenario_is_the_documented_world() -> None:
    scenario = load_scenario()
    assert scenario == Scenario()
    assert scenario.customers == 10_000 and scenario.days == 365 and scenario.seed == 42


def test_yaml_and_toml_files_with_overrides(tmp_path: Path) -> None:
    (tmp_path / "w.yml").write_text("customers: 500\nchurn:\n  yearly_rate: 0.3\n")
    (tmp_path / "w.toml").write_text("customers = 700\n[service]\nagents = 5\n")
    from_yaml = load_scenario(tmp_path / "w.yml", seed=7)
    assert (from_yaml.customers, from_yaml.churn.yearly_rate, from_yaml.seed) == (500, 0.3, 7)
    from_toml = load_scenario(tmp_path / "w.toml", customers=None)
    assert (from_toml.customers, from_toml.service.agents) == (700, 5)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("customers: 5\n", "customers: Input should be greater than or equal to 100"),
        ("churn:\n  yearly_rate: 2\n", "churn.yearly_rate"),
        ("colour: blue\n", "colour: Extra inputs are not permitted"),
        ("fraud:\n  ring_size: [9, 3]\n", "fraud.ring_size"),
        ("- a list\n", "must be a mapping"),
        ("customers: [\n", "is not valid"),
    ],
)
def test_bad_scenarios_are_one_line(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(InvalidInputError) as caught:
        load_scenario(path)
    assert fragment in caught.value.message
    assert "\n" not in caught.value.message


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot read scenario"):
        load_scenario(tmp_path / "nope.yml")
