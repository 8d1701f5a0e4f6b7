"""The example mappings import the simulated retailer's exports without a rejected row."""

from __future__ import annotations

from pathlib import Path

import pytest

import coreo.sim
from coreo.sim.generate import generate
from coreo.sim.scenario import Scenario
from tests.ingest.imports.conftest import Importer

EXAMPLES = Path(coreo.sim.__file__).parent / "mappings"


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "world"
    generate(Scenario(customers=300, days=60, seed=5), out)
    return out / "exports"


@pytest.mark.parametrize(
    ("export", "source"),
    [("erp_customers", "erp"), ("pos_transactions", "pos"), ("newsletter", "newsletter")],
)
def test_example_mapping_imports_every_row(
    exports: Path, run_import: Importer, export: str, source: str
) -> None:
    mapping = (EXAMPLES / f"{export}.yml").read_text()
    job = run_import(exports / f"{export}.csv", mapping=mapping, source=source)
    assert job.status == "completed" and job.rows_read > 20
    assert (job.rows_accepted, job.rows_rejected) == (job.rows_read, 0)
