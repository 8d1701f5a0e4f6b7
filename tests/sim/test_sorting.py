"""The external sorter gives lines back in key order with bounded memory."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from coreo.sim.sorting import ExternalSorter


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(
        st.tuples(
            st.integers(0, 10**13),
            st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20).map(
                str.encode
            ),
        ),
        max_size=300,
    ),
    run_lines=st.integers(1, 50),
    fan_in=st.integers(2, 5),
)
def test_lines_come_back_sorted_by_key_then_bytes(  # JSON lines hold no control bytes
    tmp_path_factory, items: list[tuple[int, bytes]], run_lines: int, fan_in: int
) -> None:
    sorter = ExternalSorter(tmp_path_factory.mktemp("sort"), run_lines=run_lines, fan_in=fan_in)
    for key, line in items:
        sorter.add(key, line)
    out = list(sorter.lines())
    expected = [line + b"\n" for _, line in sorted(items)]
    assert out == expected


def test_many_runs_are_merged_in_levels_and_cleaned_up(tmp_path: Path) -> None:
    rng = random.Random(3)
    sorter = ExternalSorter(tmp_path, run_lines=10, fan_in=3)
    keys = [rng.randrange(10**6) for _ in range(1000)]
    for key in keys:
        sorter.add(key, b"x%d" % key)
    # 100 spills at fan-in 3 leave at most 2 runs per tier (4 tiers), not 100 runs.
    assert len(list(tmp_path.glob("coreo-sort-*/run-*"))) <= 8
    assert [int(line[1:]) for line in sorter.lines()] == sorted(keys)
    assert not list(tmp_path.glob("coreo-sort-*"))
