"""Probabilistic matching of customer master records (ERP, CRM, loyalty) with Splink.

The matcher standardises records, scores candidate pairs with a Fellegi-Sunter model that
Splink estimates from the data itself, and routes each pair by its match probability:
auto-merge, review queue, or separate. Every pair carries the match weight of each
comparison, so a link can always be explained. Splink runs on DuckDB in process, or on
Spark (``MatchConfig(backend="spark")``, the ``coreo[spark]`` extra) for volumes beyond
one machine's memory; both score the same pairs. Nothing here touches the database:
persisting links and the review queue is the identity service's job.

Training needs no labels: the prior comes from deterministic rules, u probabilities from a
seeded random sample of pairs, m probabilities from expectation maximisation over two
blocking rules. The trained model (a Splink settings dict) is returned with the result and
can score later batches with ``model=``. Record standardisation lives in
`coreo.identity.standardise`; its public names are re-exported here.

>>> from coreo.identity.matching import standardise_records
>>> row = standardise_records([{"record_id": "1", "last_name": "Müller", "phone": "079 123 45 67"}])
>>> row.column("last_name")[0].as_py(), row.column("phone")[0].as_py()
('mueller', '41791234567')
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from pydantic import BaseModel, ConfigDict, Field, model_validator
from splink import ColumnExpression, DuckDBAPI, Linker, SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule

from coreo.errors import ConfigurationError
from coreo.identity.standardise import (
    RECORD_FIELDS,
    Records,
    cologne_phonetic,
    standardise_records,
)

if TYPE_CHECKING:  # splink exports the level classes, not their common base
    from pyspark.sql import DataFrame, SparkSession
    from splink.internals.comparison_level_creator import ComparisonLevelCreator
    from splink.internals.database_api import DatabaseAPI

    Levels: TypeAlias = list[ComparisonLevelCreator | dict[str, Any]]

_log = logging.getLogger("coreo.identity.matching")

__all__ = [
    "RECORD_FIELDS",
    "Backend",
    "ComparisonWeight",
    "MatchConfig",
    "MatchResult",
    "PairDecision",
    "RoutedPairs",
    "ScoredPair",
    "cologne_phonetic",
    "deduplicate",
    "link",
    "route_pairs",
    "standardise_records",
]


PairDecision = Literal["auto_merge", "review", "separate"]
Backend = Literal["duckdb", "spark"]


class MatchConfig(BaseModel):
    """Thresholds and training knobs of the matcher."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_merge: float = Field(
        0.99, gt=0, le=1, description="Match probability at or above which records merge."
    )
    review: float = Field(
        0.5, gt=0, le=1, description="Match probability at or above which a pair is reviewed."
    )
    min_probability: float = Field(
        0.01, ge=0, le=1, description="Scored pairs below this probability are not returned."
    )
    seed: int = Field(42, description="Seed of the pair sample that estimates u probabilities.")
    u_sample_pairs: int = Field(
        2_000_000, gt=0, description="Number of random record pairs that estimate u."
    )
    deterministic_recall: float = Field(
        0.7, gt=0, le=1, description="Assumed recall of the rules that estimate the prior."
    )
    default_country_code: str = Field(
        "41", pattern=r"^[1-9]\d{0,2}$", description="Calling code for national phone numbers."
    )
    backend: Backend = Field(
        "duckdb", description="Splink backend: duckdb in process, or spark for large volumes."
    )
    spark_master: str = Field(
        "local[*]", min_length=1, description="Spark master URL when the backend is spark."
    )

    @model_validator(mode="after")
    def _review_not_above_auto_merge(self) -> MatchConfig:
        if self.review > self.auto_merge:
            raise ValueError("review threshold must not exceed the auto_merge threshold")
        return self

    def decide(self, match_probability: float) -> PairDecision:
        """Return where a pair with this match probability goes."""
        if match_probability >= self.auto_merge:
            return "auto_merge"
        if match_probability >= self.review:
            return "review"
        return "separate"


@dataclass(frozen=True, slots=True)
class ComparisonWeight:
    """One comparison's contribution to a pair's match weight."""

    comparison: str
    level: str
    gamma: int
    match_weight: float


@dataclass(frozen=True, slots=True)
class ScoredPair:
    """A candidate pair; in linkage ``left_id`` is from the left dataset, else the lower id."""

    left_id: str
    right_id: str
    left_source: str | None
    right_source: str | None
    match_probability: float
    match_weight: float
    explanation: tuple[ComparisonWeight, ...]


@dataclass(frozen=True, slots=True)
class RoutedPairs:
    """Scored pairs split by the thresholds of a `MatchConfig`."""

    auto_merge: tuple[ScoredPair, ...]
    review: tuple[ScoredPair, ...]
    separate: tuple[ScoredPair, ...]


@dataclass(frozen=True)
class MatchResult:
    """Scored pairs, clusters at the auto-merge threshold and the trained model."""

    pairs: tuple[ScoredPair, ...]
    clusters: dict[str, str]
    """Record id to cluster id (the cluster's smallest record id), for every input record."""
    model: dict[str, Any]
    config: MatchConfig

    def routed(self) -> RoutedPairs:
        """Return the pairs split into auto-merge, review and separate."""
        return route_pairs(self.pairs, config=self.config)


def route_pairs(pairs: Sequence[ScoredPair], *, config: MatchConfig) -> RoutedPairs:
    """Split pairs into auto-merge, review and separate by the config's thresholds."""
    groups: dict[PairDecision, list[ScoredPair]] = {"auto_merge": [], "review": [], "separate": []}
    for pair in pairs:
        groups[config.decide(pair.match_probability)].append(pair)
    return RoutedPairs(
        tuple(groups["auto_merge"]), tuple(groups["review"]), tuple(groups["separate"])
    )


# --- the Splink model --------------------------------------------------------------------

# Splink's own levels write each backend's SQL; the custom levels below spell it out.
_JARO_WINKLER: dict[Backend, str] = {"duckdb": "jaro_winkler_similarity", "spark": "jaro_winkler"}
_DATE_FORMAT: dict[Backend, str] = {"duckdb": "%Y-%m-%d", "spark": "yyyy-MM-dd"}
_PHONE_DIGITS_DIFFERING: dict[Backend, str] = {
    "duckdb": "hamming(phone_l, phone_r)",
    # Spark SQL has no Hamming distance: count the positions whose digits differ.
    "spark": "aggregate(sequence(1, length(phone_l)), 0, "
    "(n, i) -> n + if(substr(phone_l, i, 1) = substr(phone_r, i, 1), 0, 1))",
}


def _name_comparison(column: str, backend: Backend) -> cl.CustomComparison:
    jaro_winkler = _JARO_WINKLER[backend]
    levels: Levels = [
        cll.NullLevel(column),
        cll.ExactMatchLevel(column, term_frequency_adjustments=True),
        # A swap is one piece of evidence: first_name scores it, last_name abstains.
        cll.CustomLevel(
            f"{jaro_winkler}(first_name_l, last_name_r) >= 0.9 "
            f"AND {jaro_winkler}(last_name_l, first_name_r) >= 0.9",
            label_for_charts="First and last name swapped",
        ).configure(is_null_level=column == "last_name"),
        cll.JaroWinklerLevel(column, 0.92),
        cll.ExactMatchLevel(f"{column}_phonetic").configure(
            label_for_charts="Same Cologne phonetic code"
        ),
    ]
    if column == "first_name":
        levels.append(
            cll.CustomLevel(
                "(length(first_name_l) = 1 OR length(first_name_r) = 1) "
                "AND left(first_name_l, 1) = left(first_name_r, 1)",
                label_for_charts="Initial matches",
            )
        )
    else:
        levels.append(
            cll.ArrayIntersectLevel("last_name_tokens", min_intersection=1).configure(
                label_for_charts="Shares a part of a double name"
            )
        )
    levels += [cll.JaroWinklerLevel(column, 0.8), cll.ElseLevel()]
    return cl.CustomComparison(levels, output_column_name=column)


def _address_comparison() -> cl.CustomComparison:
    # One comparison for street, house number, postcode and city: they are strongly
    # correlated, and separate comparisons would count one shared address several times.

    def same_street() -> cll.JaroWinklerLevel:
        return cll.JaroWinklerLevel("street", 0.88)

    def same_place() -> cll.Or:
        return cll.Or(cll.ExactMatchLevel("postcode"), cll.JaroWinklerLevel("city", 0.92))

    levels: Levels = [
        cll.And(cll.NullLevel("street"), cll.NullLevel("postcode"), cll.NullLevel("city")),
        cll.And(
            cll.ExactMatchLevel("street"),
            cll.ExactMatchLevel("house_number"),
            cll.ExactMatchLevel("postcode"),
        ).configure(label_for_charts="Same address"),
        cll.And(same_street(), cll.ExactMatchLevel("house_number"), same_place()).configure(
            label_for_charts="Same address, spelled differently"
        ),
        cll.And(same_street(), same_place()).configure(label_for_charts="Same street and place"),
        cll.And(same_street(), cll.ExactMatchLevel("house_number")).configure(
            label_for_charts="Same street and house number, other place"
        ),
        cll.And(cll.ExactMatchLevel("postcode"), cll.JaroWinklerLevel("city", 0.92)).configure(
            label_for_charts="Same postcode and city"
        ),
        same_place().configure(label_for_charts="Same postcode or city"),
        cll.CustomLevel(
            "left(postcode_l, 2) = left(postcode_r, 2)",
            label_for_charts="Same postcode region",
        ),
        cll.ElseLevel(),
    ]
    return cl.CustomComparison(levels, output_column_name="address")


def _email_comparison() -> cl.CustomComparison:
    # No fuzzy level: addresses like anna.meier1234@ mostly repeat the name, so a similar
    # but different address would count the name agreement a second time.
    levels: Levels = [
        cll.NullLevel("email"),
        cll.ExactMatchLevel("email", term_frequency_adjustments=True),
        cll.ExactMatchLevel(ColumnExpression("email").regex_extract("^[^@]+")).configure(
            label_for_charts="Same user name, other domain"
        ),
        cll.ElseLevel(),
    ]
    return cl.CustomComparison(levels, output_column_name="email")


def _phone_comparison(backend: Backend) -> cl.CustomComparison:
    # Hamming distance catches a mistyped or swapped digit and is far cheaper than an
    # edit distance over millions of sampled pairs.
    levels: Levels = [
        cll.NullLevel("phone"),
        cll.ExactMatchLevel("phone"),
        cll.CustomLevel(
            "CASE WHEN length(phone_l) = length(phone_r) "
            f"THEN {_PHONE_DIGITS_DIFFERING[backend]} <= 2 ELSE false END",
            label_for_charts="At most two digits differ",
        ),
        cll.ElseLevel(),
    ]
    return cl.CustomComparison(levels, output_column_name="phone")


_COMPARISON_FIELDS = {
    "first_name": ("first_name",),
    "last_name": ("last_name",),
    "birth_date": ("birth_date",),
    "address": ("street", "postcode", "city"),
    "email": ("email",),
    "phone": ("phone",),
}
# Blocking rules of the EM sessions, by preference; training uses the first two whose
# fields the data has. Each session leaves out the comparisons its rule uses, so two
# different sessions estimate m for every comparison.
_EM_RULES = (
    ("first_name_phonetic", "last_name_phonetic"),
    ("birth_date",),
    ("postcode",),
    ("email",),
)


def _settings(
    link_type: Literal["dedupe_only", "link_only"], fields: set[str], backend: Backend
) -> SettingsCreator:
    comparisons: dict[str, Callable[[], cl.CustomComparison | cl.DateOfBirthComparison]] = {
        "first_name": lambda: _name_comparison("first_name", backend),
        "last_name": lambda: _name_comparison("last_name", backend),
        "birth_date": lambda: cl.DateOfBirthComparison(
            "birth_date",
            input_is_string=True,
            datetime_format=_DATE_FORMAT[backend],
            invalid_dates_as_null=False,
        ),
        "address": _address_comparison,
        "email": _email_comparison,
        "phone": lambda: _phone_comparison(backend),
    }
    # A field empty in every record carries no evidence and leaves levels untrainable.
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="record_id",
        comparisons=[
            make()
            for name, make in comparisons.items()
            if fields.intersection(_COMPARISON_FIELDS[name])
        ],
        blocking_rules_to_generate_predictions=[
            block_on("birth_date"),
            block_on("email"),
            block_on("phone"),
            block_on("first_name_phonetic", "last_name_phonetic"),
            block_on("last_name_phonetic", "postcode"),
            block_on("street", "postcode"),
            block_on("house_number", "postcode"),
            CustomRule(
                "l.first_name_phonetic = r.last_name_phonetic "
                "AND l.last_name_phonetic = r.first_name_phonetic"
            ),
        ],
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=["source_system"],
    )


def _train(linker: Linker, config: MatchConfig, fields: set[str]) -> None:
    training = linker.training
    try:
        training.estimate_probability_two_random_records_match(
            [
                block_on("first_name", "last_name", "birth_date"),
                block_on("first_name", "email"),
                block_on("first_name", "phone"),
            ],
            recall=config.deterministic_recall,
        )
    except ValueError as error:  # more sure matches than pairs allow: a handful of records
        raise ValueError(
            "too few records to estimate a model; train on the whole master data and pass "
            f"its MatchResult.model to score small batches ({error})"
        ) from error
    training.estimate_u_using_random_sampling(
        max_pairs=config.u_sample_pairs,
        seed=config.seed,
        # Splink counts u in chunks (after a probe) to stop once every level is seen often
        # enough. On Spark each chunk is a job of its own, 66 instead of 6 for six
        # comparisons and most of a small run's time: one job counts the whole sample.
        num_chunks=1 if config.backend == "spark" else 10,
    )
    rules = [rule for rule in _EM_RULES if fields.issuperset(rule)][:2]
    for rule in rules:
        try:
            training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
        except ValueError as error:
            # EM can drive a level never seen among matches to m ~ 1e-323, which Splink
            # refuses; that session's estimates are then left out (the others stand, and
            # m is floored afterwards), e.g. in profiles already merged on exact e-mails.
            _log.warning("EM training blocked on %s skipped: %s", "+".join(rule), error)


_MIN_M_PROBABILITY = 1e-3


def _adjust_parameters(
    model: dict[str, Any], *, total_pairs: int, sampled_pairs: int
) -> dict[str, Any]:
    """Return the trained model with u cleared of sampled matches and m kept above zero.

    A random pair is a match with probability p (the prior), so a level's share among the
    sampled pairs is p*m + (1-p)*u, not u. For specific levels (same birth date, same
    address) in data of a few thousand records p*m is most of that share, and taking it
    as u would understate the level's weight severalfold; u is solved for, never below
    what the sample resolves (one pair) nor above the raw estimate. And EM over a few
    thousand pairs returns m = 0 for a level it never saw among matches, which would make
    one disagreement (a second phone number) veto a match: m is floored at 0.1 %.
    """
    model = copy.deepcopy(model)
    prior = max(float(model["probability_two_random_records_match"]), 1 / total_pairs)
    model["probability_two_random_records_match"] = prior
    resolution = 1 / max(1, min(total_pairs, sampled_pairs))
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            m, u = level.get("m_probability"), level.get("u_probability")
            if isinstance(m, float):
                level["m_probability"] = m = max(m, _MIN_M_PROBABILITY)
                if isinstance(u, float):
                    corrected = (u - prior * m) / (1 - prior)
                    level["u_probability"] = max(corrected, min(u, resolution))
    return model


def _level_labels(model: Mapping[str, Any]) -> dict[str, dict[int, str]]:
    """Comparison name to {gamma: level label}; gamma counts down, -1 is the null level."""
    labels: dict[str, dict[int, str]] = {}
    for comparison in model["comparisons"]:
        levels = comparison["comparison_levels"]
        non_null = [lv for lv in levels if not lv.get("is_null_level")]
        by_gamma = {len(non_null) - 1 - i: lv["label_for_charts"] for i, lv in enumerate(non_null)}
        by_gamma[-1] = "No evidence (missing on one side)"
        labels[comparison["output_column_name"]] = by_gamma
    return labels


def _pairs(
    predictions: Sequence[Mapping[str, Any]], model: Mapping[str, Any]
) -> tuple[ScoredPair, ...]:
    labels = _level_labels(model)
    names = list(labels)
    pairs = []
    for row in predictions:
        explanation = tuple(
            ComparisonWeight(
                comparison=name,
                level=labels[name].get(row[f"gamma_{name}"], "?"),
                gamma=row[f"gamma_{name}"],
                match_weight=row[f"mw_{name}"] + row.get(f"mw_tf_adj_{name}", 0.0),
            )
            for name in names
        )
        left, right = "l", "r"
        if row.get("source_dataset_l") == "right_records":
            left, right = right, left
        pairs.append(
            ScoredPair(
                left_id=row[f"record_id_{left}"],
                right_id=row[f"record_id_{right}"],
                left_source=row[f"source_system_{left}"],
                right_source=row[f"source_system_{right}"],
                match_probability=row["match_probability"],
                match_weight=row["match_weight"],
                explanation=explanation,
            )
        )
    return tuple(sorted(pairs, key=lambda p: (p.left_id, p.right_id)))


def _clusters(ids: Sequence[str], pairs: Sequence[ScoredPair], threshold: float) -> dict[str, str]:
    """Connected components over the pairs at or above the threshold (union-find)."""
    parent = {record_id: record_id for record_id in ids}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for pair in pairs:
        if pair.match_probability >= threshold:
            a, b = root(pair.left_id), root(pair.right_id)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {record_id: root(record_id) for record_id in ids}


# --- backends ----------------------------------------------------------------------------


def _spark_session(master: str) -> SparkSession:
    """Return a new session, with its own temporary views, on the process's Spark context.

    The first run starts the JVM (10-20 s), which stays up for later runs. A context that
    is already running, the application's own or an earlier run's, is used as it is: its
    master and settings win over ``master``. Splink's string-similarity functions come
    from the jar inside the splink package, so nothing is downloaded.
    """
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError as error:
        raise ConfigurationError(
            "the spark matching backend needs pyspark: pip install 'coreo[spark]'"
        ) from error
    # Only settings of a context not yet started; a running one keeps its own.
    context = (
        SparkSession.builder.master(master)
        .appName("coreo-matching")
        .config("spark.jars", similarity_jar_location())
        # Splink keeps its tables in memory; the catalogue would create ./spark-warehouse.
        .config("spark.sql.warehouse.dir", os.path.join(tempfile.gettempdir(), "coreo-spark"))
        .config("spark.ui.enabled", "false")  # no web UI port
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "ERROR")
        .getOrCreate()
    )
    running = context.sparkContext.master or master
    if running != master:
        _log.info("matching runs on the running Spark context (%s), not %s", running, master)
    session = context.newSession()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    if running.startswith("local"):
        # A few partitions per core: Spark's default of 200 is sized for clusters and
        # makes each of Splink's many small steps schedule 200 tasks.
        session.conf.set("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 1)))
    return session


@dataclass
class _SparkRun:
    """The Spark session of one matching run and the tables Splink may have cached in it."""

    session: SparkSession
    tables: list[DataFrame] = field(default_factory=list)

    def release(self) -> None:
        """Free the cached tables and drop the run's temporary views."""
        for table in self.tables:
            if table.is_cached:
                table.unpersist()
        for view in self.session.sql("SHOW TABLES").collect():
            if view.isTemporary:
                self.session.catalog.dropTempView(view.tableName)


@functools.cache
def _spark_api() -> Callable[[_SparkRun], DatabaseAPI[Any]]:
    from splink.backends.spark import SparkAPI

    class RunSparkAPI(SparkAPI):
        """Splink's Spark backend, telling the run which tables it may cache.

        Splink keeps intermediate tables with ``persist`` (memory, spilling to disk; its
        default, parquet, needs a checkpoint directory) and never frees them. Dropping the
        views is not enough: some cached tables sit under a view of their repartitioning.
        """

        def __init__(self, run: _SparkRun) -> None:
            self._run = run
            super().__init__(  # type: ignore[no-untyped-call]  # splink leaves it unannotated
                spark_session=run.session, break_lineage_method="persist"
            )

        def _repartition_if_needed(self, spark_df: DataFrame, templated_name: str) -> DataFrame:
            # Splink persists the table this returns (sometimes repartitioned once more).
            table: DataFrame = super()._repartition_if_needed(  # type: ignore[no-untyped-call]
                spark_df, templated_name
            )
            self._run.tables.append(table)
            return table

    return RunSparkAPI


def _database(spark: _SparkRun | None) -> DatabaseAPI[Any]:
    if spark is None:
        return DuckDBAPI()
    db = _spark_api()(spark)
    if not spark.session.catalog.functionExists("jaro_winkler"):
        raise ConfigurationError(
            "the Spark session was started without Splink's similarity jar; start it with "
            "spark.jars set to splink.backends.spark.similarity_jar_location()"
        )
    return db


def _linker(
    tables: Sequence[pa.Table],
    link_type: Literal["dedupe_only", "link_only"],
    settings: SettingsCreator | dict[str, Any],
    db: DatabaseAPI[Any],
) -> Linker:
    names = ("left_records", "right_records") if link_type == "link_only" else ("records",)
    # A run's linkers share one Spark session, so each registers its tables afresh.
    run = uuid.uuid4().hex[:8]
    inputs = [
        db.register(t, dataset_display_name=n, table_name=f"coreo_{n}_{run}")
        for t, n in zip(tables, names, strict=True)
    ]
    return Linker(inputs, settings, log_level=None)  # logging is the application's to set up


def _run(
    tables: Sequence[pa.Table],
    link_type: Literal["dedupe_only", "link_only"],
    config: MatchConfig,
    model: Mapping[str, Any] | None,
) -> MatchResult:
    sizes = [len(t) for t in tables]
    total_pairs = (
        sizes[0] * sizes[1] if link_type == "link_only" else sizes[0] * (sizes[0] - 1) // 2
    )
    if total_pairs == 0:
        raise ValueError("matching needs at least two records (one per side when linking)")
    if model is not None and model.get("sql_dialect", config.backend) != config.backend:
        raise ValueError(
            f"the model was trained with the {model['sql_dialect']} backend and holds its SQL; "
            f"score with that backend or train again with {config.backend}"
        )
    spark = _SparkRun(_spark_session(config.spark_master)) if config.backend == "spark" else None
    try:
        if model is None:
            fields = {
                name
                for t in tables
                for name in t.column_names
                if t.column(name).null_count < len(t)
            }
            settings = _settings(link_type, fields, config.backend)
            trainer = _linker(tables, link_type, settings, _database(spark))
            _train(trainer, config, fields)
            model = _adjust_parameters(
                trainer.misc.save_model_to_json(),
                total_pairs=total_pairs,
                sampled_pairs=config.u_sample_pairs,
            )
        scorer = _linker(tables, link_type, {**model, "link_type": link_type}, _database(spark))
        trained = scorer.misc.save_model_to_json()
        trained.pop("linker_uid", None)  # random per linker; the model is the rest
        predictions = scorer.inference.predict(
            threshold_match_probability=config.min_probability, warning_mode="never"
        ).as_record_list()
    finally:
        if spark is not None:
            spark.release()
    pairs = _pairs(predictions, trained)
    ids = [record_id for t in tables for record_id in t.column("record_id").to_pylist()]
    return MatchResult(
        pairs=pairs,
        clusters=_clusters(ids, pairs, config.auto_merge),
        model=trained,
        config=config,
    )


def deduplicate(
    records: Records,
    *,
    config: MatchConfig | None = None,
    model: Mapping[str, Any] | None = None,
) -> MatchResult:
    """Find records of one dataset that describe the same customer.

    Args:
        records: customer records with the fields in `RECORD_FIELDS`; ids must be unique.
        config: thresholds and training settings; the defaults when omitted.
        model: a trained model from an earlier `MatchResult.model`; trains on the records
            when omitted. Term frequencies (how common a name is) come from the records
            scored, so score a small batch of new records by linking it to the master
            data, not by deduplicating it alone.
    """
    config = config or MatchConfig()
    table = standardise_records(records, default_country_code=config.default_country_code)
    return _run([table], "dedupe_only", config, model)


def link(
    left: Records,
    right: Records,
    *,
    config: MatchConfig | None = None,
    model: Mapping[str, Any] | None = None,
) -> MatchResult:
    """Find pairs of records, one from each dataset, that describe the same customer.

    Record ids must be unique across both datasets (prefix them with the source system
    when two systems share a numbering). Pairs within one dataset are not compared.
    """
    config = config or MatchConfig()
    tables = [
        standardise_records(side, default_country_code=config.default_country_code)
        for side in (left, right)
    ]
    ids = tables[0].column("record_id").to_pylist() + tables[1].column("record_id").to_pylist()
    if len(set(ids)) != len(ids):
        raise ValueError("record ids must be unique across both datasets")
    return _run(tables, "link_only", config, model)
