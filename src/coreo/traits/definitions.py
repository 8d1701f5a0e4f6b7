"""Computed-trait definitions: what to aggregate, over which events, in which window.

A definition is declarative (JSON through the API, YAML through ``coreo traits apply``)::

    name: orders_30d
    function: count            # count sum avg min max first last distinct_count
                               # most_frequent recency trend rfm
    event: Order Completed     # one name or a list; optional
    type: track                # track page screen identify group alias; optional
    where:                     # every predicate must hold
      - {path: properties.total, op: gt, value: 0}
    property: properties.total # the value aggregated (sum, avg, min, max, first, last,
                               # distinct_count, most_frequent; trend sums it if given)
    window: 30d                # 1d..730d, or "all" (default)

Windows are calendar days in UTC: ``30d`` evaluated at time t covers t's own day up to t
and the 29 whole days before it. State is kept per profile and day, so a window moves on
at midnight without any history being read again.

Derived traits:

* ``recency``: whole days between the last matching event's day and today (null if none).
* ``trend``: the matching events (or the sum of ``property``) in the last ``recent`` days
  divided by the average for as many days over the ``baseline`` days before them; 0.6
  means activity fell 40 %. Null when the baseline period has nothing.
* ``rfm``: scores 1-5 for the values of three other computed traits (``recency``,
  ``frequency``, ``monetary``) by ascending ``bins`` (four cut points each; a lower
  recency scores higher); the value is e.g. ``"545"``.
"""

from __future__ import annotations

import builtins
import itertools
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from coreo import yamltext
from coreo.errors import first_problem

__all__ = [
    "AGGREGATES",
    "Definition",
    "DefinitionError",
    "Predicate",
    "RfmBins",
    "check_references",
    "load_yaml",
    "parse",
    "path_segments",
]

Function = Literal[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "first",
    "last",
    "distinct_count",
    "most_frequent",
    "recency",
    "trend",
    "rfm",
]
AGGREGATES: frozenset[str] = frozenset(
    {"sum", "avg", "min", "max", "first", "last", "distinct_count", "most_frequent"}
)
EventType = Literal["track", "page", "screen", "identify", "group", "alias"]
Operator = Literal[
    "eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "exists", "not_exists",
    "contains", "starts_with",
]  # fmt: skip
_SEGMENT = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_$ \-]{0,99}$")
_WINDOW = re.compile(r"^(?:all|([1-9][0-9]{0,2})d)$")
MAX_WINDOW_DAYS = 730
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class DefinitionError(ValueError):
    """A definition (or a file of them) that cannot be used; the message says why."""


def path_segments(path: str) -> list[str]:
    """``properties.total`` → ``["properties", "total"]``; refuses what a JSON path in
    SQL could not express unambiguously (quotes, empty segments)."""
    segments = path.split(".")
    if not 1 <= len(segments) <= 6 or not all(_SEGMENT.match(s) for s in segments):
        raise ValueError(
            f"path {path!r}: dotted names of letters, digits, '_', '-', '$' or spaces, "
            "at most 6 deep (e.g. properties.total)"
        )
    return segments


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


class Predicate(BaseModel):
    """One condition on a message field. A missing or null field fails every operator
    except ``not_exists``; comparisons (gt/gte/lt/lte) hold for numbers only, and values
    are compared by type (``"1"`` is not ``1``, ``true`` is not ``1``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    op: Operator = "eq"
    value: Any = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        path_segments(value)
        return value

    @model_validator(mode="after")
    def _value_fits(self) -> Self:
        op, value = self.op, self.value
        if op in ("exists", "not_exists"):
            if value is not None:
                raise ValueError(f"{op} takes no value")
        elif op in ("in", "not_in"):
            if not isinstance(value, list) or not value or not all(map(_scalar, value)):
                raise ValueError(f"{op} needs a non-empty list of plain values")
            if any(v is None for v in value):
                raise ValueError(f"{op}: use exists/not_exists for null")
        elif op in ("gt", "gte", "lt", "lte"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{op} compares numbers: give a number")
        elif op in ("contains", "starts_with"):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{op} needs a non-empty string")
        elif value is None or not _scalar(value):
            raise ValueError(f"{op} needs a string, number or boolean (null: not_exists)")
        return self


class RfmBins(BaseModel):
    """Four ascending cut points per score: a value ≤ the first cut scores 1 (recency: 5),
    above the last cut 5 (recency: 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recency: list[float] = Field(default=[7, 30, 90, 180])
    frequency: list[float] = Field(default=[1, 2, 4, 8])
    monetary: list[float] = Field(default=[50, 150, 400, 1000])

    @field_validator("recency", "frequency", "monetary")
    @classmethod
    def _ascending(cls, cuts: list[float]) -> list[float]:
        if len(cuts) != 4 or any(b <= a for a, b in itertools.pairwise(cuts)):
            raise ValueError("give four strictly ascending cut points")
        return cuts


class Definition(BaseModel):
    """One computed trait (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    description: str = Field(default="", max_length=500)
    function: Function
    event: str | list[str] | None = None
    type: EventType | list[EventType] | None = None
    where: list[Predicate] = Field(default_factory=list, max_length=20)
    property: str | None = None
    window: str = "all"
    recent: str = "7d"
    baseline: str = "28d"
    recency: str | None = None
    frequency: str | None = None
    monetary: str | None = None
    bins: RfmBins = RfmBins()

    @field_validator("event")
    @classmethod
    def _events(cls, value: str | list[str] | None) -> str | list[str] | None:
        names = [value] if isinstance(value, str) else value or []
        if isinstance(value, list) and not value:
            raise ValueError("give at least one event name, or leave event out")
        if any(not n or len(n) > 200 for n in names):
            raise ValueError("event names are 1 to 200 characters")
        return value

    @field_validator("property")
    @classmethod
    def _property(cls, value: str | None) -> str | None:
        if value is not None:
            path_segments(value)
        return value

    @field_validator("window", "recent", "baseline")
    @classmethod
    def _window(cls, value: str) -> str:
        found = _WINDOW.match(value)
        if not found or (found.group(1) and int(found.group(1)) > MAX_WINDOW_DAYS):
            raise ValueError(f"{value!r}: a window is 'all' or 1d to {MAX_WINDOW_DAYS}d")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        f = self.function
        if f in AGGREGATES and self.property is None:
            raise ValueError(f"{f} aggregates a value: give property (e.g. properties.total)")
        if f in ("count", "recency", "rfm") and self.property is not None:
            raise ValueError(f"{f} takes no property")
        if f == "rfm":
            if not (self.recency and self.frequency and self.monetary):
                raise ValueError("rfm names three computed traits: recency, frequency, monetary")
            if self.event or self.type or self.where or self.window != "all":
                raise ValueError("rfm combines other traits: it takes no event filter or window")
        elif self.recency or self.frequency or self.monetary:
            raise ValueError("recency/frequency/monetary belong to an rfm trait")
        if f == "trend":
            if self.window != "all":
                raise ValueError("trend has recent and baseline instead of a window")
            if self.recent == "all" or self.baseline == "all":
                raise ValueError("trend's recent and baseline are day counts, e.g. 7d and 28d")
            if self.recent_days + self.baseline_days > MAX_WINDOW_DAYS:
                raise ValueError(f"recent + baseline may span {MAX_WINDOW_DAYS} days at most")
        if f == "recency" and self.window != "all":
            raise ValueError("recency looks at all time: leave window out")
        return self

    # -- derived facts (``builtins.property``: a field is called ``property``) ------------

    @builtins.property
    def window_days(self) -> int | None:
        """The window's length in days; None for all time."""
        return None if self.window == "all" else int(self.window[:-1])

    @builtins.property
    def recent_days(self) -> int:
        return int(self.recent[:-1])

    @builtins.property
    def baseline_days(self) -> int:
        return int(self.baseline[:-1])

    @builtins.property
    def kept_days(self) -> int | None:
        """How many days of buckets the state keeps (None: one all-time bucket)."""
        if self.function == "trend":
            return self.recent_days + self.baseline_days
        return self.window_days

    @builtins.property
    def events(self) -> list[str]:
        return [self.event] if isinstance(self.event, str) else list(self.event or [])

    @builtins.property
    def types(self) -> list[str]:
        return [self.type] if isinstance(self.type, str) else list(self.type or [])

    @builtins.property
    def inputs(self) -> list[str]:
        """The other computed traits this one is made of (rfm)."""
        return [n for n in (self.recency, self.frequency, self.monetary) if n]


_MANY = TypeAdapter(list[Definition])


def check_references(definitions: Sequence[Definition]) -> None:
    """Refuse repeated names and rfm traits naming what is not there (or another rfm)."""
    names = [d.name for d in definitions]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DefinitionError(f"trait names repeat: {', '.join(repeated)}")
    by_name = {d.name: d for d in definitions}
    for definition in definitions:
        for name in definition.inputs:
            other = by_name.get(name)
            if other is None:
                raise DefinitionError(f"{definition.name}: no computed trait named {name!r}")
            if other.function == "rfm":
                raise DefinitionError(f"{definition.name}: {name!r} is an rfm trait itself")


def parse(data: Any) -> Definition:
    """One definition from JSON-like data; DefinitionError says what is wrong."""
    try:
        return Definition.model_validate(data)
    except ValidationError as error:
        raise DefinitionError(first_problem(error)) from None


def load_yaml(text: str) -> list[Definition]:
    """Definitions from YAML: a list, or a mapping with a ``traits`` list."""
    try:
        data = yamltext.parse(text)
    except yamltext.YamlError as error:
        raise DefinitionError(str(error)) from None
    if isinstance(data, dict) and set(data) == {"traits"}:
        data = data["traits"]
    if not isinstance(data, list):
        raise DefinitionError("expected a list of traits (or 'traits:' with a list)")
    try:
        definitions = _MANY.validate_python(data)
    except ValidationError as error:
        raise DefinitionError(f"traits.{first_problem(error)}") from None
    check_references(definitions)
    return definitions
