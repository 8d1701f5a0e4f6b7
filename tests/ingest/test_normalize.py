"""Normalisation: identities, timestamps and skew correction never fail on odd input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from coreo.ingest.normalize import NormaliseOptions, normalise, normalise_phone

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
zones = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(
    when=st.datetimes(timezones=zones),
    sent=st.one_of(st.none(), st.datetimes(timezones=zones)),
)
def test_any_aware_timestamp_is_normalised_without_error(
    when: datetime, sent: datetime | None
) -> None:
    message = {"type": "track", "userId": "u", "event": "E", "timestamp": when.isoformat()}
    normalise(message, received_at=NOW, sent_at=sent, options=NormaliseOptions())
    assert message["originalTimestamp"] == when.isoformat()
    assert datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00")).tzinfo is not None


def test_skew_correction_formula() -> None:
    device_ahead = timedelta(minutes=7)
    happened = NOW - timedelta(seconds=30)
    message = {"type": "track", "userId": "u", "event": "E",
               "timestamp": (happened + device_ahead).isoformat()}  # fmt: skip
    normalise(message, received_at=NOW, sent_at=NOW + device_ahead, options=NormaliseOptions())
    assert message["timestamp"] == happened.isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


@given(st.text(max_size=30))
def test_phone_normalisation_never_raises(value: str) -> None:
    result = normalise_phone(value, "CH")
    assert result == value or result.startswith("+")


def test_swiss_phone_formats_become_e164() -> None:
    for value in ("079 123 45 67", "+41 79 123 45 67", "0041791234567", "(079) 123 45 67"):
        assert normalise_phone(value, "CH") == "+41791234567"
