"""Mappings: how the rows of a file become Segment messages.

A mapping is YAML (or JSON) such as::

    type: identify
    user_id: {template: "erp-{Kundennr}"}
    external_ids: {erp_customer_no: Kundennr}
    traits:
      email: E_Mail
      firstName: Vorname
      birthday: {column: Geburtsdatum, type: date, format: "%d.%m.%Y"}
      address.city: Ort

Every value is a *field*: a plain string names a column; a mapping chooses exactly one of
``column``, ``template`` (``str.format`` over the row) or ``value`` (a constant) and may add
a ``type`` with its parsing options. Empty cells count as missing. A row whose required
field is missing or unparsable is refused with the field's name and why.

Without a mapping a row is taken as a Segment message itself: JSON Lines rows as they are,
CSV and Parquet columns by their Segment names (``type``, ``userId``, ``event``,
``timestamp``, ``properties.revenue``, ``traits.email``: dots nest).
"""

from __future__ import annotations

import hashlib
import math
import re
import string
from collections.abc import Mapping as MappingABC
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from coreo import yamltext
from coreo.errors import InvalidInputError

__all__ = ["FieldSpec", "Mapping", "RowError", "load_mapping", "row_to_message"]

FieldType = Literal["string", "integer", "number", "boolean", "date", "datetime"]

# Yes/no in the product's four languages, as ERP and loyalty exports write them.
_TRUE = frozenset({"true", "1", "yes", "y", "ja", "j", "oui", "o", "si", "sì", "vrai", "wahr", "x"})
_FALSE = frozenset({"false", "0", "no", "n", "nein", "non", "faux", "falsch", ""})


class RowError(ValueError):
    """A row that cannot become a message; the text names the field and the reason."""


class FieldSpec(BaseModel):
    """Where one value comes from and how it is parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | None = None
    template: str | None = None
    value: Any = None
    type: FieldType = "string"
    format: str | None = Field(
        default=None, description="strptime format for date/datetime, e.g. %d.%m.%Y."
    )
    timezone: str = Field(default="UTC", description="Zone of datetimes written without one.")
    decimal: Literal[".", ","] = "."
    thousands: str = Field(default="", max_length=1, description="e.g. ' for 1'234.50.")
    values: dict[str, Any] | None = Field(
        default=None, description="Replace cell values, e.g. {M: male, F: female}."
    )
    required: bool = False
    default: Any = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        chosen = [n for n in ("column", "template", "value") if getattr(self, n) is not None]
        if len(chosen) != 1:
            raise ValueError("choose exactly one of column, template or value")
        if self.template is not None:
            try:
                names = [n for _, n, _, _ in string.Formatter().parse(self.template) if n]
            except ValueError as error:
                raise ValueError(f"template: {error}") from None
            if not names:
                raise ValueError("a template names at least one {column}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        return self

    def columns(self) -> list[str]:
        """The columns this field reads."""
        if self.column is not None:
            return [self.column]
        if self.template is not None:
            return [n for _, n, _, _ in string.Formatter().parse(self.template) if n]
        return []


def _spec(value: Any) -> Any:
    return {"column": value} if isinstance(value, str) else value


Specs = dict[str, FieldSpec]
# The mapping's single fields and the message keys they fill.
_TOP = {
    "event": "event",
    "name": "name",
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "group_id": "groupId",
    "message_id": "messageId",
    "timestamp": "timestamp",
}
_SINGLE_FIELDS = tuple(_TOP)


class Mapping(BaseModel):
    """Columns to one Segment message per row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["identify", "track", "page", "screen", "group"] = "identify"
    event: FieldSpec | None = None
    name: FieldSpec | None = None
    user_id: FieldSpec | None = None
    anonymous_id: FieldSpec | None = None
    group_id: FieldSpec | None = None
    message_id: FieldSpec | None = None
    timestamp: FieldSpec | None = None
    traits: Specs = Field(default_factory=dict)
    properties: Specs = Field(default_factory=dict)
    context: Specs = Field(default_factory=dict)
    external_ids: Specs = Field(
        default_factory=dict, description="Identifier type -> field, as context.externalIds."
    )

    @field_validator(*_SINGLE_FIELDS, mode="before")
    @classmethod
    def _shorthand(cls, value: Any, info: ValidationInfo) -> Any:
        value = _spec(value)
        if info.field_name == "timestamp" and isinstance(value, dict) and "type" not in value:
            value = {**value, "type": "datetime"}  # parsed and given a zone unless told
        return value

    @field_validator("traits", "properties", "context", "external_ids", mode="before")
    @classmethod
    def _shorthands(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): _spec(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _complete(self) -> Mapping:
        if self.type == "track" and self.event is None:
            raise ValueError("a track mapping needs 'event' (e.g. event: {value: Order Completed})")
        if self.type == "group" and self.group_id is None:
            raise ValueError("a group mapping needs 'group_id'")
        if self.user_id is None and self.anonymous_id is None:
            raise ValueError("map 'user_id' or 'anonymous_id' so each row names a person")
        return self

    def fields(self) -> dict[str, FieldSpec]:
        """Every field by its mapping path, e.g. ``traits.email``."""
        named = {n: getattr(self, n) for n in _SINGLE_FIELDS if getattr(self, n) is not None}
        for section in ("traits", "properties", "context", "external_ids"):
            for key, spec in getattr(self, section).items():
                named[f"{section}.{key}"] = spec
        return named

    def missing_columns(self, header: list[str]) -> list[str]:
        """Mapped columns the file does not have, as ``path: column`` descriptions."""
        present = set(header)
        return [
            f"{path}: {column!r}"
            for path, spec in self.fields().items()
            for column in spec.columns()
            if column not in present
        ]

    def digest(self) -> str:
        """A fingerprint of the mapping (a changed mapping is a new import job)."""
        return hashlib.sha256(
            orjson.dumps(self.model_dump(), option=orjson.OPT_SORT_KEYS)
        ).hexdigest()


def load_mapping(source: str | Path | bytes) -> Mapping:
    """Parse a mapping from a file path or YAML/JSON text; errors name the offending key."""
    if isinstance(source, Path):
        try:
            text: str | bytes = source.read_text(encoding="utf-8")
        except OSError as error:
            raise InvalidInputError(f"cannot read the mapping {source}: {error.strerror}") from None
        where = str(source)
    else:
        text, where = source, "the mapping"
    try:
        data = yamltext.parse(text)
    except yamltext.YamlError as error:
        raise InvalidInputError(f"{where} is {error}", field="mapping") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{where} must be a YAML mapping of fields", field="mapping")
    try:
        return Mapping.model_validate(data)
    except ValidationError as error:
        item = error.errors()[0]
        location = ".".join(str(p) for p in item["loc"]) or "mapping"
        message = item["msg"].removeprefix("Value error, ")
        raise InvalidInputError(f"{where}: {location}: {message}", field="mapping") from None


# -- rows to messages -------------------------------------------------------------------------

_EMPTY = object()


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number_text(value: str, spec: FieldSpec) -> str:
    text = value.strip().replace(" ", "").replace("\u00a0", "")
    if spec.thousands:
        text = text.replace(spec.thousands, "")
    if spec.decimal == ",":
        text = (
            text.replace(".", "").replace(",", ".")
            if not spec.thousands
            else text.replace(",", ".")
        )
    return text


def _to_datetime(value: Any, spec: FieldSpec) -> str:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day, tzinfo=ZoneInfo(spec.timezone))
    else:
        text = str(value).strip()
        try:
            parsed = (
                datetime.strptime(text, spec.format)  # noqa: DTZ007 (zone added below)
                if spec.format
                else datetime.fromisoformat(text)
            )
        except ValueError:
            expected = spec.format or "ISO 8601"
            raise RowError(f"{text!r} is not a date-time ({expected})") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(spec.timezone))
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _to_date(value: Any, spec: FieldSpec) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    try:
        parsed = (
            datetime.strptime(text, spec.format).date()  # noqa: DTZ007 (a calendar date)
            if spec.format
            else date.fromisoformat(text)
        )
    except ValueError:
        raise RowError(f"{text!r} is not a date ({spec.format or 'YYYY-MM-DD'})") from None
    return parsed.isoformat()


def _convert(value: Any, spec: FieldSpec) -> Any:
    kind = spec.type
    if kind == "string":
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return value.strip() if isinstance(value, str) else str(value)
    if kind == "integer":
        if isinstance(value, bool):
            raise RowError(f"{value!r} is not a whole number")
        if isinstance(value, int):
            return value
        if isinstance(value, float | Decimal) and value == int(value):
            return int(value)
        text = _number_text(str(value), spec)
        if not re.fullmatch(r"[+-]?\d+", text):
            raise RowError(f"{value!r} is not a whole number")
        return int(text)
    if kind == "number":
        if isinstance(value, bool):
            raise RowError(f"{value!r} is not a number")
        if isinstance(value, int | float):
            return value
        try:
            number = Decimal(_number_text(str(value), spec))
        except InvalidOperation:
            raise RowError(f"{value!r} is not a number") from None
        result = float(number)
        if not math.isfinite(result):  # nan, inf, or beyond a double's range
            raise RowError(f"{value!r} is not a finite number")
        return result
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise RowError(f"{value!r} is not yes/no")
    if kind == "date":
        return _to_date(value, spec)
    return _to_datetime(value, spec)


def _raw(row: MappingABC[str, Any], spec: FieldSpec) -> Any:
    if spec.value is not None:
        return spec.value
    if spec.column is not None:
        return row.get(spec.column)
    template = spec.template or ""
    parts = {}
    for column in spec.columns():
        cell = row.get(column)
        if _is_empty(cell):
            return None  # a template over an empty cell is missing, not "erp-"
        parts[column] = cell.strip() if isinstance(cell, str) else cell
    return template.format_map(parts)


def _value(row: MappingABC[str, Any], path: str, spec: FieldSpec) -> Any:
    raw = _raw(row, spec)
    if not _is_empty(raw) and spec.values is not None:
        key = raw.strip() if isinstance(raw, str) else raw
        raw = spec.values.get(str(key), raw)
    if _is_empty(raw):
        if spec.default is not None:
            raw = spec.default
        elif spec.required:
            source = f"column {spec.column!r}" if spec.column else "the value"
            raise RowError(f"{path}: {source} is empty")
        else:
            return _EMPTY
    try:
        return _convert(raw, spec)
    except RowError as error:
        raise RowError(f"{path}: {error}") from None


def _put(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[leaf] = value


def row_to_message(row: MappingABC[str, Any], mapping: Mapping | None) -> dict[str, Any]:
    """One row as a Segment message (not yet validated); raises RowError."""
    if mapping is None:
        message: dict[str, Any] = {}
        for column, cell in row.items():
            if not _is_empty(cell):
                _put(message, column, cell.strip() if isinstance(cell, str) else cell)
        return message
    message = {"type": mapping.type}
    for name, key in _TOP.items():
        spec = getattr(mapping, name)
        if spec is not None:
            value = _value(row, name, spec)
            if value is not _EMPTY:
                message[key] = value if key != "timestamp" else _timestamp(value)
    context: dict[str, Any] = {}
    # Segment keeps a person's traits at the top of identify/group, in context elsewhere.
    traits = message if mapping.type in ("identify", "group") else context
    for section, specs, target in (
        ("traits", mapping.traits, traits),
        ("properties", mapping.properties, message),
    ):
        for key, spec in specs.items():
            value = _value(row, f"{section}.{key}", spec)
            if value is not _EMPTY:
                _put(target.setdefault(section, {}), key, value)
    for key, spec in mapping.context.items():
        value = _value(row, f"context.{key}", spec)
        if value is not _EMPTY:
            _put(context, key, value)
    external = []
    for kind, spec in mapping.external_ids.items():
        value = _value(row, f"external_ids.{kind}", spec)
        if value is not _EMPTY:
            external.append(
                {"id": str(value), "type": kind, "collection": "users", "encoding": "none"}
            )
    if external:
        context["externalIds"] = external
    if context:
        message["context"] = context
    return message


def _timestamp(value: Any) -> str:
    """A timestamp field given as a bare date means midnight UTC of that day."""
    text = str(value)
    return f"{text}T00:00:00Z" if len(text) == 10 else text
