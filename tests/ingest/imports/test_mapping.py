"""Mappings: rows become Segment messages, with clear reasons for rows that cannot."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coreo.errors import InvalidInputError
from coreo.ingest.imports.mapping import Mapping, RowError, load_mapping, row_to_message
from coreo.ingest.spec import MESSAGE_ADAPTER

ERP = """
type: identify
user_id: {template: "erp-{Kundennr}"}
external_ids: {erp_customer_no: Kundennr}
traits:
  firstName: Vorname
  email: E_Mail
  birthday: {column: Geburtsdatum, type: date, format: "%d.%m.%Y"}
  address.city: Ort
  lifetime_value: {column: Umsatz, type: number, thousands: "'"}
  newsletter: {column: Newsletter, type: boolean}
  gender: {column: Anrede, values: {Herr: male, Frau: female}}
"""

ROW = {
    "Kundennr": "1001",
    "Vorname": "Anna",
    "E_Mail": " Anna@Example.CH ",
    "Geburtsdatum": "03.04.1980",
    "Ort": "Zürich",
    "Umsatz": "1'234.50",
    "Newsletter": "ja",
    "Anrede": "Frau",
}


def test_an_erp_row_becomes_an_identify_call() -> None:
    message = row_to_message(ROW, load_mapping(ERP))
    assert message == {
        "type": "identify",
        "userId": "erp-1001",
        "traits": {
            "firstName": "Anna",
            "email": "Anna@Example.CH",  # trimmed here; lower-cased by normalisation
            "birthday": "1980-04-03",
            "address": {"city": "Zürich"},
            "lifetime_value": 1234.5,
            "newsletter": True,
            "gender": "female",
        },
        "context": {
            "externalIds": [
                {"id": "1001", "type": "erp_customer_no", "collection": "users", "encoding": "none"}
            ]
        },
    }
    MESSAGE_ADAPTER.validate_python(message)


def test_a_pos_row_becomes_a_track_call_with_traits_in_context() -> None:
    mapping = load_mapping(
        """
type: track
event: {value: Order Completed}
user_id: Karte
message_id: {template: "pos-{Bon}-{Pos}"}
timestamp: {column: Zeit, format: "%d.%m.%Y %H:%M", timezone: Europe/Zurich}
properties:
  revenue: {column: Betrag, type: number, decimal: ","}
  quantity: {column: Menge, type: integer}
  store: {value: ZH-01}
traits:
  loyalty_tier: Stufe
"""
    )
    row = {
        "Karte": "L-77",
        "Bon": "9",
        "Pos": "2",
        "Zeit": "01.07.2025 14:30",
        "Betrag": "1.049,90",
        "Menge": "3",
        "Stufe": "gold",
    }
    message = row_to_message(row, mapping)
    assert message["event"] == "Order Completed"
    assert message["messageId"] == "pos-9-2"
    assert message["timestamp"] == "2025-07-01T12:30:00Z"  # CEST is UTC+2
    assert message["properties"] == {"revenue": 1049.9, "quantity": 3, "store": "ZH-01"}
    assert message["context"] == {"traits": {"loyalty_tier": "gold"}}
    MESSAGE_ADAPTER.validate_python(message)


@pytest.mark.parametrize(
    ("spec", "cell", "reason"),
    [
        ("{column: c, type: number}", "abc", "traits.x: 'abc' is not a number"),
        ("{column: c, type: number}", "nan", "traits.x: 'nan' is not a finite number"),
        ("{column: c, type: integer}", "1.5", "traits.x: '1.5' is not a whole number"),
        ("{column: c, type: boolean}", "vielleicht", "traits.x: 'vielleicht' is not yes/no"),
        ("{column: c, type: date, format: '%d.%m.%Y'}", "31.02.1990", "is not a date"),
        ("{column: c, type: datetime}", "yesterday", "is not a date-time (ISO 8601)"),
        ("{column: c, required: true}", "  ", "traits.x: column 'c' is empty"),
    ],
)
def test_unparsable_cells_name_the_field_and_the_reason(spec: str, cell: str, reason: str) -> None:
    mapping = load_mapping(f"user_id: id\ntraits:\n  x: {spec}\n")
    with pytest.raises(RowError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        row_to_message({"id": "1", "c": cell}, mapping)


def test_empty_cells_are_missing_or_take_their_default() -> None:
    mapping = load_mapping(
        "user_id: {template: 'u-{id}'}\ntraits:\n  a: a\n  b: {column: b, default: none}\n"
    )
    assert row_to_message({"id": "1", "a": "", "b": ""}, mapping)["traits"] == {"b": "none"}
    # A template over an empty cell is missing, not "u-".
    assert "userId" not in row_to_message({"id": " ", "a": "x", "b": "y"}, mapping)


def test_typed_parquet_cells_are_kept_or_converted() -> None:
    mapping = load_mapping(
        """
user_id: {column: id, type: string}
timestamp: at
traits:
  born: {column: born, type: date}
  spent: {column: spent, type: number}
  visits: {column: visits, type: integer}
"""
    )
    row = {
        "id": 42.0,
        "at": datetime(2025, 1, 2, 3, 4, 5),  # noqa: DTZ001 (naive on purpose)
        "born": date(1990, 5, 6),
        "spent": Decimal("10.25"),
        "visits": 7.0,
    }
    message = row_to_message(row, mapping)
    assert message["userId"] == "42"
    assert message["timestamp"] == "2025-01-02T03:04:05Z"
    assert message["traits"] == {"born": "1990-05-06", "spent": 10.25, "visits": 7}


def test_without_a_mapping_columns_are_segment_paths() -> None:
    row = {
        "type": "track",
        "userId": "u1",
        "event": "Viewed",
        "properties.price": "9",
        "context.page.url": "https://x.ch",
        "traits.empty": "",
    }
    assert row_to_message(row, None) == {
        "type": "track",
        "userId": "u1",
        "event": "Viewed",
        "properties": {"price": "9"},
        "context": {"page": {"url": "https://x.ch"}},
    }


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("type: track\nuser_id: id\n", "a track mapping needs 'event'"),
        ("traits: {a: b}\n", "map 'user_id' or 'anonymous_id'"),
        ("user_id: id\nnickname: x\n", "nickname: Extra inputs are not permitted"),
        ("user_id: {column: a, value: b}\n", "choose exactly one of column, template or value"),
        ("user_id: {template: 'plain'}\n", "a template names at least one {column}"),
        ("user_id: {column: a, timezone: Mars/Olympus}\n", "unknown time zone"),
        ("user_id: [unclosed\n", "is not valid YAML (line"),
        ("- a list\n", "must be a YAML mapping"),
    ],
)
def test_bad_mappings_are_one_clear_error(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment.replace("{", r"\{").replace("(", r"\(")):
        load_mapping(text)


def test_mapped_columns_missing_from_the_file_are_listed() -> None:
    mapping = load_mapping("user_id: id\ntraits: {email: Mail, name: {template: '{A} {B}'}}\n")
    assert mapping.missing_columns(["id", "A"]) == ["traits.email: 'Mail'", "traits.name: 'B'"]


def test_the_digest_changes_with_the_mapping_only() -> None:
    first = load_mapping("user_id: id\n")
    assert first.digest() == load_mapping('{"user_id": {"column": "id"}}').digest()
    assert first.digest() != load_mapping("user_id: ID\n").digest()


# -- properties ------------------------------------------------------------------------------


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False))
def test_swiss_and_german_number_formats_parse_to_the_same_value(value: Decimal) -> None:
    plain = f"{value:.2f}"
    sign, whole, cents = ("-" if value < 0 else ""), f"{abs(value):,.2f}"[:-3], plain[-2:]
    swiss = f"{sign}{whole.replace(',', chr(39))}.{cents}"  # 1'234.50
    german = f"{sign}{whole.replace(',', '.')},{cents}"  # 1.234,50
    mapping = Mapping.model_validate(
        {
            "user_id": "id",
            "traits": {
                "plain": {"column": "p", "type": "number"},
                "swiss": {"column": "s", "type": "number", "thousands": "'"},
                "german": {"column": "g", "type": "number", "decimal": ","},
            },
        }
    )
    traits = row_to_message({"id": "1", "p": plain, "s": swiss, "g": german}, mapping)["traits"]
    assert traits["plain"] == traits["swiss"] == traits["german"] == float(plain)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)))  # noqa: DTZ001 (naive on purpose)
def test_datetimes_in_a_format_round_trip_to_utc(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    mapping = load_mapping("user_id: id\ntimestamp: {column: t, format: '%d.%m.%Y %H:%M:%S'}\n")
    text = moment.strftime("%d.%m.%Y %H:%M:%S")
    stamp = row_to_message({"id": "1", "t": text}, mapping)["timestamp"]
    assert datetime.fromisoformat(stamp) == moment.replace(tzinfo=UTC)


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20), max_size=8))
def test_any_row_either_maps_or_raises_a_row_error(row: dict[str, str]) -> None:
    mapping = load_mapping(
        "user_id: {template: 'u-{a}'}\ntraits:\n  n: {column: b, type: number}\n"
        "  d: {column: c, type: date}\n  f: {column: d, type: boolean}\n"
    )
    try:
        message = row_to_message(row, mapping)
    except RowError as error:
        assert str(error).startswith(("traits.", "user_id"))
    else:
        assert message["type"] == "identify"
