"""/metrics of a server with several processes (``coreo serve --workers N``): each process
writes its metrics to files that the answering process merges."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from coreo.observability.metrics import HttpMetrics

_SET_LAG = """
import sys
from coreo.observability.metrics import HttpMetrics
HttpMetrics().pipeline.lag.labels(sys.argv[1]).set(int(sys.argv[2]))
"""


def _in_a_process(directory: Path, partition: int, lag: int) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    subprocess.run([sys.executable, "-c", _SET_LAG, str(partition), str(lag)], env=env, check=True)


def test_a_partitions_lag_is_the_newest_measurement_of_any_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Process one measured a backlog on partition 3 and then gave the partition up; process
    # two took it over and worked the backlog off. The lag is 0, not the first one's stale
    # figure (a maximum over processes would keep that for ever).
    _in_a_process(tmp_path, 3, 500)
    _in_a_process(tmp_path, 5, 7)
    _in_a_process(tmp_path, 3, 0)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = HttpMetrics().render().decode()
    lags = sorted(line for line in text.splitlines() if line.startswith("coreo_consumer_lag{"))
    assert lags == [
        'coreo_consumer_lag{partition="3"} 0.0',
        'coreo_consumer_lag{partition="5"} 7.0',
    ]


_OPEN_DEAD_LETTERS = """
import sys
from coreo.observability.metrics import HttpMetrics, retire_process
HttpMetrics().pipeline.set_open_dead_letters({("w1", "identity"): 4})
if sys.argv[1] == "stop":
    retire_process()
"""


@pytest.mark.parametrize("stops", [True, False])
def test_a_stopped_process_leaves_no_dead_letter_count_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stops: bool
) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run(
        [sys.executable, "-c", _OPEN_DEAD_LETTERS, "stop" if stops else "run"], env=env, check=True
    )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = HttpMetrics().render().decode()
    line = 'coreo_dead_letters_open{stage="identity",workspace="w1"} 4.0'
    assert (line in text) is not stops
