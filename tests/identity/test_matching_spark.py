"""The matcher on Splink's Spark backend gives the DuckDB backend's results.

Spark needs Java 17+ and the ``spark`` extra (part of ``dev``). Without them the tests skip,
and fail in CI (COREO_REQUIRE_SERVICES=1), like a missing service.
"""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Iterator

import pytest

from coreo.errors import ConfigurationError
from coreo.identity.matching import MatchConfig, MatchResult, ScoredPair, deduplicate, link
from tests.conftest import service_unavailable
from tests.identity.test_matching import _JUERG, matched, records

SPARK = MatchConfig(backend="spark", spark_master="local[2]")

# The backends run the same model in two SQL dialects and differ in two places only.
# Jaro-Winkler is DuckDB's own function on one side and Splink's Scala UDF on the other;
# they disagree slightly for some name pairs near a level's threshold (measured: 0.15 bits
# on one pair of 79, through the u of "Jaro-Winkler >= 0.8"). Spark sums EM's expectations
# in another order (1e-14 bits). Half a bit (odds within a factor of 1.4) covers both with
# room; a pair whose DuckDB weight is within that margin of a threshold is not clear.
WEIGHT_TOLERANCE = 0.5


def _weight(probability: float) -> float:
    return math.log2(probability / (1 - probability)) if probability < 1 else math.inf


@pytest.fixture(scope="module")
def on_spark() -> Iterator[MatchResult]:
    """The test records deduplicated on Spark; a skip (a failure in CI) without Java."""
    if shutil.which("java") is None:
        service_unavailable("Java (for Spark)", "no java on PATH")
    try:
        from pyspark import SparkContext
    except ImportError as error:
        service_unavailable("pyspark", f"{error}; pip install 'coreo[spark]'")
    with pytest.MonkeyPatch.context() as patch:
        # The JVM's optimising JIT compiler (C2) costs as much CPU as the matching itself in
        # a run this short (35 of 95 CPU seconds measured); it pays off on large volumes only.
        patch.setenv("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1")
        result = deduplicate(records(), config=SPARK)
    yield result
    if SparkContext._active_spark_context is not None:  # free the JVM's memory
        SparkContext._active_spark_context.stop()


def _by_ids(result: MatchResult) -> dict[tuple[str, str], ScoredPair]:
    return {(p.left_id, p.right_id): p for p in result.pairs}


@pytest.mark.slow  # starts a JVM, then runs about a hundred small Spark jobs
def test_spark_scores_the_same_pairs_as_duckdb(on_spark: MatchResult) -> None:
    duckdb, spark = _by_ids(matched()), _by_ids(on_spark)
    assert spark.keys() == duckdb.keys()
    # The prior comes from counting exact agreements: no room for the backends to differ.
    assert on_spark.model["probability_two_random_records_match"] == pytest.approx(
        matched().model["probability_two_random_records_match"], rel=1e-9
    )
    thresholds = [_weight(on_spark.config.auto_merge), _weight(on_spark.config.review)]
    clear = 0
    for ids, expected in duckdb.items():
        got = spark[ids]
        assert got.match_weight == pytest.approx(expected.match_weight, abs=WEIGHT_TOLERANCE)
        assert (got.left_source, got.right_source) == (expected.left_source, expected.right_source)
        if all(abs(expected.match_weight - t) > WEIGHT_TOLERANCE for t in thresholds):
            clear += 1
            assert SPARK.decide(got.match_probability) == SPARK.decide(expected.match_probability)
    assert clear >= 0.9 * len(duckdb)


@pytest.mark.slow  # starts a JVM, then runs about a hundred small Spark jobs
def test_spark_merges_and_explains_like_duckdb(on_spark: MatchResult) -> None:
    duckdb = matched()
    assert {(p.left_id, p.right_id) for p in on_spark.routed().auto_merge} == {
        (p.left_id, p.right_id) for p in duckdb.routed().auto_merge
    }
    assert on_spark.clusters == duckdb.clusters
    juerg = _by_ids(on_spark)["case-juerg-erp", "case-juerg-loyalty"]
    levels = {w.comparison: w.level for w in juerg.explanation}
    assert levels["first_name"].startswith("Exact match")
    assert levels["address"] == "Same address"
    prior = on_spark.model["probability_two_random_records_match"]
    explained = math.log2(prior / (1 - prior)) + sum(w.match_weight for w in juerg.explanation)
    assert explained == pytest.approx(juerg.match_weight)
    assert on_spark.model["sql_dialect"] == "spark"


@pytest.mark.slow  # starts a JVM, then runs about a hundred small Spark jobs
def test_new_records_are_scored_and_explained_as_on_duckdb(on_spark: MatchResult) -> None:
    # The custom levels are written per dialect (Hamming distance, swapped names, initial);
    # the population never reaches them, these arrivals do.
    arrivals = [
        {**_JUERG, "record_id": "new-1", "first_name": "Jurg", "phone": "0041 79 123 45 76"},
        {**_JUERG, "record_id": "new-2", "first_name": "Müller", "last_name": "Jürg"},
        {**_JUERG, "record_id": "new-3", "first_name": "J.", "birth_date": None},
    ]
    expected = {
        "new-1": ("phone", "At most two digits differ"),
        "new-2": ("first_name", "First and last name swapped"),
        "new-3": ("first_name", "Initial matches"),
    }
    spark = link(arrivals, records(), config=SPARK, model=on_spark.model)
    duckdb = link(arrivals, records(), model=matched().model)
    for arrival, (comparison, level) in expected.items():
        got = _by_ids(spark)[arrival, "case-juerg-erp"]
        want = _by_ids(duckdb)[arrival, "case-juerg-erp"]
        assert {w.comparison: w.level for w in got.explanation}[comparison] == level
        assert [w.level for w in got.explanation] == [w.level for w in want.explanation]
        assert got.match_weight == pytest.approx(want.match_weight, abs=WEIGHT_TOLERANCE)
        assert SPARK.decide(got.match_probability) == "auto_merge"


def test_a_model_is_scored_by_the_backend_that_trained_it() -> None:
    with pytest.raises(ValueError, match="trained with the duckdb backend"):
        deduplicate(records(), config=SPARK, model=matched().model)


def test_spark_without_pyspark_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # import fails as if not installed
    with pytest.raises(ConfigurationError, match=r"pip install 'coreo\[spark\]'"):
        deduplicate(records(), config=SPARK)
