"""The Segment Spec models: documented examples parse, rules are enforced, junk never crashes."""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from coreo.ingest.spec import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_MESSAGE_BYTES,
    MESSAGE_TYPES,
    AliasMessage,
    Batch,
    Context,
    GroupMessage,
    IdentifyMessage,
    PageMessage,
    ScreenMessage,
    TrackMessage,
    parse_message,
)

TIMESTAMP_ATTRIBUTES = {
    "timestamp": "timestamp",
    "sentAt": "sent_at",
    "receivedAt": "received_at",
    "originalTimestamp": "original_timestamp",
}
WIRE_TIMESTAMPS = tuple(TIMESTAMP_ATTRIBUTES)

# --- examples from the Segment Spec docs (segment.com/docs/connections/spec/...) -------------

COMMON_FIELDS_EXAMPLE: dict[str, Any] = {
    "anonymousId": "507f191e810c19729de860ea",
    "context": {
        "active": True,
        "app": {
            "name": "InitechGlobal",
            "version": "545",
            "build": "3.0.1.545",
            "namespace": "com.production.segment",
        },
        "campaign": {
            "name": "TPS Innovation Newsletter",
            "source": "Newsletter",
            "medium": "email",
            "term": "tps reports",
            "content": "image link",
        },
        "device": {
            "id": "B5372DB0-C21E-11E4-8DFC-AA07A5B093DB",
            "advertisingId": "7A3CBEA0-BDF5-11E4-8DFC-AA07A5B093DB",
            "adTrackingEnabled": True,
            "manufacturer": "Apple",
            "model": "iPhone7,2",
            "name": "maguro",
            "type": "ios",
            "token": "ff15bc0c20c4aa6cd50854ff165fd265c838e5405bfeb9571066395b8c9da449",
        },
        "ip": "8.8.8.8",
        "library": {"name": "analytics.js", "version": "2.11.1"},
        "locale": "en-US",
        "location": {
            "city": "San Francisco",
            "country": "United States",
            "latitude": 40.2964197,
            "longitude": -76.9411617,
            "speed": 0,
        },
        "network": {"bluetooth": False, "carrier": "T-Mobile US", "cellular": True, "wifi": False},
        "os": {"name": "iPhone OS", "version": "8.1.3"},
        "page": {
            "path": "/academy/",
            "referrer": "",
            "search": "",
            "title": "Analytics Academy",
            "url": "https://segment.com/academy/",
        },
        "referrer": {"id": "ABCD582CDEFFFF01919", "type": "dataxu"},
        "screen": {"width": 320, "height": 568, "density": 2},
        "groupId": "12345",
        "timezone": "Europe/Amsterdam",
        "userAgent": (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 9_1 like Mac OS X) AppleWebKit/601.1.46 "
            "(KHTML, like Gecko) Version/9.0 Mobile/13B143 Safari/601.1"
        ),
        "userAgentData": {
            "brands": [
                {"brand": "Google Chrome", "version": "113"},
                {"brand": "Chromium", "version": "113"},
                {"brand": "Not-A.Brand", "version": "24"},
            ],
            "mobile": False,
            "platform": "macOS",
        },
        "consent": {
            "categoryPreferences": {
                "Advertising": True,
                "Analytics": False,
                "Functional": True,
                "DataSharing": False,
            }
        },
    },
    "integrations": {"All": True, "Mixpanel": False, "Salesforce": False},
    "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093db",
    "receivedAt": "2015-12-10T04:08:31.909Z",
    "sentAt": "2015-12-10T04:08:31.581Z",
    "timestamp": "2015-12-10T04:08:31.905Z",
    "type": "track",
    "event": "Course Clicked",  # the common-fields example omits the track-specific field
    "userId": "97980cfea0067",
    "version": 2,
}

_BROWSER_CONTEXT = {
    "ip": "8.8.8.8",
    "userAgent": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_5) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/40.0.2214.115 Safari/537.36"
    ),
}
_STAMPS = {
    "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093db",
    "receivedAt": "2015-02-23T22:28:55.387Z",
    "sentAt": "2015-02-23T22:28:55.111Z",
    "timestamp": "2015-02-23T22:28:55.111Z",
}

IDENTIFY_EXAMPLE: dict[str, Any] = {
    "anonymousId": "507f191e810c19729de860ea",
    "channel": "browser",
    "context": _BROWSER_CONTEXT,
    "integrations": {"All": False, "Mixpanel": True, "Salesforce": True},
    **_STAMPS,
    "traits": {
        "name": "Peter Gibbons",
        "email": "peter@example.com",
        "plan": "premium",
        "logins": 5,
        "address": {
            "street": "6th St",
            "city": "San Francisco",
            "state": "CA",
            "postalCode": "94103",
            "country": "USA",
        },
    },
    "type": "identify",
    "userId": "97980cfea0067",
    "version": "1.1",
}

TRACK_EXAMPLE: dict[str, Any] = {
    "anonymousId": "23adfd82-aa0f-45a7-a756-24f2a7a4c895",
    "context": {
        "library": {"name": "analytics.js", "version": "2.11.1"},
        "page": {
            "path": "/academy/",
            "referrer": "",
            "search": "",
            "title": "Analytics Academy",
            "url": "https://segment.com/academy/",
        },
        "userAgent": (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_0) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/46.0.2490.86 Safari/537.36"
        ),
        "ip": "108.0.78.21",
    },
    "event": "Course Clicked",
    "integrations": {},
    "messageId": "ajs-f8ca1e4de5024d9430b3928bd8ac6b96",
    "properties": {"title": "Intro to Analytics"},
    "receivedAt": "2015-12-12T19:11:01.266Z",
    "sentAt": "2015-12-12T19:11:01.169Z",
    "timestamp": "2015-12-12T19:11:01.249Z",
    "type": "track",
    "userId": "AiUGstSDIg",
    "originalTimestamp": "2015-12-12T19:11:01.152Z",
}

PAGE_EXAMPLE: dict[str, Any] = {
    "anonymousId": "507f191e810c19729de860ea",
    "channel": "browser",
    "context": _BROWSER_CONTEXT,
    "integrations": {"All": True, "Mixpanel": False, "Salesforce": False},
    **_STAMPS,
    "name": "Home",
    "properties": {"title": "Welcome | Initech", "url": "http://www.example.com"},
    "type": "page",
    "userId": "97980cfea0067",
    "version": "1.1",
}

SCREEN_EXAMPLE: dict[str, Any] = {
    "anonymousId": "3a12eab0-bca7-11e4-8dfc-aa07a5b093db",
    "channel": "mobile",
    "context": {"ip": "8.8.8.8"},
    "integrations": {"All": True, "Mixpanel": False, "Salesforce": False},
    **_STAMPS,
    "name": "Home",
    "properties": {"variation": "blue signup button"},
    "type": "screen",
    "userId": "97980cfea0067",
    "version": "1.1",
}

GROUP_EXAMPLE: dict[str, Any] = {
    "anonymousId": "507f191e810c19729de860ea",
    "channel": "browser",
    "context": _BROWSER_CONTEXT,
    "integrations": {"All": True, "Mixpanel": False, "Salesforce": False},
    **_STAMPS,
    "traits": {
        "name": "Initech",
        "industry": "Technology",
        "employees": 329,
        "plan": "enterprise",
        "total billed": 830,
    },
    "type": "group",
    "userId": "97980cfea0067",
    "groupId": "0e8c78ea9d97a7b8185e8632",
    "version": "1.1",
}

ALIAS_EXAMPLE: dict[str, Any] = {
    "anonymousId": "507f191e810c19729de860ea",
    "channel": "browser",
    "context": _BROWSER_CONTEXT,
    "integrations": {"All": True, "Mixpanel": False, "Salesforce": False},
    **_STAMPS,
    "previousId": "39239-239239-239239-23923",
    "type": "alias",
    "userId": "507f191e81",
    "version": "1.1",
}

# The HTTP Tracking API page's /v1/batch example, except that its last two items carry the
# timestamp "2015-2-02T00:30:08.276Z", which is not ISO-8601 (unpadded month); see
# test_batch_doc_example_with_unpadded_month_is_rejected_at_those_items.
BATCH_EXAMPLE: dict[str, Any] = {
    "batch": [
        {
            "type": "identify",
            "userId": "019mr8mf4r",
            "traits": {"email": "jake@yahoo.com", "name": "Jake Peterson", "age": 26},
            "timestamp": "2012-12-02T00:30:08.276Z",
        },
        {
            "type": "track",
            "userId": "019mr8mf4r",
            "event": "Song Played",
            "properties": {"name": "Fallin for You", "artist": "Dierks Bentley"},
            "timestamp": "2012-12-02T00:30:12.984Z",
        },
        {
            "type": "identify",
            "userId": "971mj8mk7p",
            "traits": {"email": "cindy@example.com", "name": "Cindy Gonzalez", "age": 23},
            "timestamp": "2015-02-02T00:30:08.276Z",
        },
        {
            "type": "track",
            "userId": "971mj8mk7p",
            "event": "Song Played",
            "properties": {"name": "Get Right", "artist": "Jennifer Lopez"},
            "timestamp": "2015-02-02T00:30:12.984Z",
        },
    ],
    "writeKey": "YOUR_WRITE_KEY",
    "context": {"device": {"type": "phone", "name": "Apple iPhone 6"}},
}

DOC_EXAMPLES = {
    "common": (COMMON_FIELDS_EXAMPLE, TrackMessage),
    "identify": (IDENTIFY_EXAMPLE, IdentifyMessage),
    "track": (TRACK_EXAMPLE, TrackMessage),
    "page": (PAGE_EXAMPLE, PageMessage),
    "screen": (SCREEN_EXAMPLE, ScreenMessage),
    "group": (GROUP_EXAMPLE, GroupMessage),
    "alias": (ALIAS_EXAMPLE, AliasMessage),
}


def wire(message: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = message.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dumped


def assert_same_wire(dumped: dict[str, Any], original: dict[str, Any]) -> None:
    """Same keys and values; timestamps may be re-spelled but must be the same instant."""
    assert set(dumped) == set(original)
    for key, value in original.items():
        if key in WIRE_TIMESTAMPS:
            assert datetime.fromisoformat(dumped[key]) == datetime.fromisoformat(value), key
        else:
            assert dumped[key] == value, key


def errors_of(data: Any, model: Any = None) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        if model is None:
            parse_message(data)
        else:
            model.model_validate(data)
    return [dict(error) for error in caught.value.errors()]


def minimal(kind: str, **fields: Any) -> dict[str, Any]:
    required: dict[str, dict[str, Any]] = {
        "identify": {},
        "track": {"event": "Order Completed"},
        "page": {},
        "screen": {},
        "group": {"groupId": "g-1"},
        "alias": {"previousId": "anon-1"},
    }
    return {"type": kind, "userId": "u-1", **required[kind], **fields}


# --- documented examples -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DOC_EXAMPLES))
def test_doc_example_parses_to_its_call_model(name: str) -> None:
    example, model = DOC_EXAMPLES[name]
    message = parse_message(copy.deepcopy(example))
    assert type(message) is model
    assert message.type == example["type"]
    assert message.user_id == example["userId"]


@pytest.mark.parametrize("name", sorted(DOC_EXAMPLES))
def test_doc_example_round_trips_with_wire_names(name: str) -> None:
    example, _ = DOC_EXAMPLES[name]
    message = parse_message(copy.deepcopy(example))
    dumped = wire(message)
    assert_same_wire(dumped, example)
    assert "user_id" not in dumped
    assert "message_id" not in dumped
    assert parse_message(dumped) == message


def test_common_fields_are_typed_with_snake_case_attributes() -> None:
    message = parse_message(copy.deepcopy(COMMON_FIELDS_EXAMPLE))
    assert message.anonymous_id == "507f191e810c19729de860ea"
    assert message.message_id == "022bb90c-bbac-11e4-8dfc-aa07a5b093db"
    assert message.sent_at == datetime(2015, 12, 10, 4, 8, 31, 581000, tzinfo=UTC)
    assert message.received_at == datetime(2015, 12, 10, 4, 8, 31, 909000, tzinfo=UTC)
    assert message.version == 2
    assert message.integrations == {"All": True, "Mixpanel": False, "Salesforce": False}
    context = message.context
    assert context is not None
    assert context.device is not None and context.device.ad_tracking_enabled is True
    assert context.device.advertising_id == "7A3CBEA0-BDF5-11E4-8DFC-AA07A5B093DB"
    assert context.location is not None and context.location.latitude == 40.2964197
    assert context.screen is not None and context.screen.density == 2
    assert context.campaign is not None and context.campaign.medium == "email"
    assert context.group_id == "12345"
    assert context.user_agent_data is not None and context.user_agent_data.brands is not None
    assert context.user_agent_data.brands[1].brand == "Chromium"
    assert context.consent is not None
    assert context.consent.category_preferences == {
        "Advertising": True,
        "Analytics": False,
        "Functional": True,
        "DataSharing": False,
    }


def test_models_accept_python_attribute_names() -> None:
    message = TrackMessage(type="track", event="Signed Up", user_id=7, message_id="m-1")
    assert message.user_id == "7"
    assert wire(message) == {
        "type": "track",
        "event": "Signed Up",
        "userId": "7",
        "messageId": "m-1",
    }


def test_message_types_match_the_union() -> None:
    assert MESSAGE_TYPES == ("identify", "track", "page", "screen", "group", "alias")
    for kind in MESSAGE_TYPES:
        assert parse_message(minimal(kind)).type == kind


def test_size_limits_are_segments() -> None:
    assert MAX_MESSAGE_BYTES == 32 * 1024
    assert MAX_BATCH_BYTES == 500 * 1024
    assert MAX_BATCH_EVENTS == 2500


# --- extras and looseness ------------------------------------------------------------------------


def test_unknown_fields_are_kept_at_top_level_and_in_context() -> None:
    data = minimal(
        "track",
        writeKey="wk",
        _metadata={"bundled": ["Mixpanel"]},
        context={"direct": True, "campaign": {"name": "spring", "utm_custom": "x"}},
    )
    message = parse_message(data)
    dumped = wire(message)
    assert dumped["writeKey"] == "wk"
    assert dumped["_metadata"] == {"bundled": ["Mixpanel"]}
    assert dumped["context"] == {"direct": True, "campaign": {"name": "spring", "utm_custom": "x"}}


def test_context_strings_accept_numbers_and_context_numbers_accept_floats() -> None:
    context = Context.model_validate(
        {
            "app": {"version": 531, "build": 531.5},
            "groupId": 42,
            "screen": {"width": 412, "height": 915, "density": 2.625},
        }
    )
    assert context.app is not None
    assert (context.app.version, context.app.build) == ("531", "531.5")
    assert context.group_id == "42"
    assert context.screen is not None and context.screen.density == 2.625


def test_context_sub_objects_are_typed() -> None:
    errors = errors_of(minimal("track", context={"device": {"adTrackingEnabled": "maybe"}}))
    assert errors[0]["loc"] == ("track", "context", "device", "adTrackingEnabled")
    errors = errors_of(minimal("track", context={"consent": {"categoryPreferences": ["ads"]}}))
    assert errors[0]["loc"][:4] == ("track", "context", "consent", "categoryPreferences")


def test_integrations_values_are_bools_or_option_objects() -> None:
    message = parse_message(
        minimal("track", integrations={"All": False, "Amplitude": {"session_id": 1}})
    )
    assert message.integrations == {"All": False, "Amplitude": {"session_id": 1}}
    errors = errors_of(minimal("track", integrations={"Mixpanel": "yes please"}))
    assert {error["loc"][:3] for error in errors} == {("track", "integrations", "Mixpanel")}


def test_version_may_be_a_number_or_a_string() -> None:
    assert parse_message(minimal("page", version=2)).version == 2
    assert parse_message(minimal("page", version="1.1")).version == "1.1"


# --- required fields and identity ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"type": "track", "userId": "u"}, ("track", "event")),
        ({"type": "group", "userId": "u"}, ("group", "groupId")),
        ({"type": "alias", "userId": "u"}, ("alias", "previousId")),
        ({"type": "alias", "previousId": "p", "anonymousId": "a"}, ("alias", "userId")),
    ],
)
def test_missing_required_field_is_named(data: dict[str, Any], loc: tuple[str, ...]) -> None:
    errors = errors_of(data)
    assert [(error["loc"], error["type"]) for error in errors] == [(loc, "missing")]


@pytest.mark.parametrize("kind", ["identify", "track", "page", "screen", "group"])
def test_every_call_but_alias_needs_a_user_or_anonymous_id(kind: str) -> None:
    data = minimal(kind)
    del data["userId"]
    errors = errors_of(data)
    assert len(errors) == 1
    assert errors[0]["type"] == "missing_identity"
    assert "userId" in errors[0]["msg"]
    assert "anonymousId" in errors[0]["msg"]
    assert parse_message({**data, "anonymousId": "a-1"}).anonymous_id == "a-1"


def test_alias_needs_no_anonymous_id() -> None:
    message = parse_message({"type": "alias", "previousId": "jen@email.com", "userId": "507f"})
    assert isinstance(message, AliasMessage)
    assert (message.previous_id, message.user_id, message.anonymous_id) == (
        "jen@email.com",
        "507f",
        None,
    )


@pytest.mark.parametrize("blank", ["", "  ", "\t\n", "\u3000"])
@pytest.mark.parametrize(
    ("data", "field"),
    [
        (minimal("track"), "userId"),
        ({**minimal("track"), "userId": "u", "anonymousId": "a"}, "anonymousId"),
        (minimal("group"), "groupId"),
        (minimal("alias"), "previousId"),
    ],
)
def test_blank_ids_are_refused_at_their_field(data: dict[str, Any], field: str, blank: str) -> None:
    errors = errors_of({**data, field: blank})
    assert [error["loc"][1] for error in errors] == [field]
    assert "non-empty" in errors[0]["msg"]


def test_numeric_ids_become_strings_but_bools_and_floats_do_not() -> None:
    message = parse_message(minimal("group", userId=42, groupId=7))
    assert isinstance(message, GroupMessage)
    assert (message.user_id, message.group_id) == ("42", "7")
    assert parse_message(minimal("track", userId=-3)).user_id == "-3"
    # JSON Schema counts 2.0 as an integer; so do we ("2"), but not 1.5.
    assert parse_message(minimal("track", userId=2.0)).user_id == "2"
    for bad in (True, 1.5, ["u"], {"id": "u"}):
        errors = errors_of(minimal("track", userId=bad))
        assert [error["loc"] for error in errors] == [("track", "userId")]


def test_event_is_non_blank_and_at_most_200_characters() -> None:
    message = parse_message(minimal("track", event="e" * 200))
    assert isinstance(message, TrackMessage)
    assert message.event == "e" * 200
    for bad in ("", "   ", "e" * 201, 5):
        errors = errors_of(minimal("track", event=bad))
        assert [error["loc"] for error in errors] == [("track", "event")], bad


def test_message_id_is_optional_and_at_most_100_characters() -> None:
    assert parse_message(minimal("page")).message_id is None
    assert parse_message(minimal("page", messageId="m" * 100)).message_id == "m" * 100
    for bad in ("", "m" * 101):
        errors = errors_of(minimal("page", messageId=bad))
        assert [error["loc"] for error in errors] == [("page", "messageId")]


def test_unknown_or_missing_type_is_refused() -> None:
    assert errors_of({"type": "Track", "userId": "u", "event": "e"})[0]["type"] == (
        "union_tag_invalid"
    )
    assert errors_of({"userId": "u", "event": "e"})[0]["type"] == "union_tag_not_found"
    assert errors_of(["not", "an", "object"])[0]["type"] == "model_attributes_type"


# --- timestamps -----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", WIRE_TIMESTAMPS)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-14T09:21:33.123Z", datetime(2025, 3, 14, 9, 21, 33, 123000, tzinfo=UTC)),
        ("2025-03-14T10:21:33.123+01:00", datetime(2025, 3, 14, 9, 21, 33, 123000, tzinfo=UTC)),
        ("2025-03-14T04:21:33-05:00", datetime(2025, 3, 14, 9, 21, 33, tzinfo=UTC)),
    ],
)
def test_iso_timestamps_parse_to_aware_datetimes(field: str, text: str, expected: datetime) -> None:
    message = parse_message(minimal("track", **{field: text}))
    value = getattr(message, TIMESTAMP_ATTRIBUTES[field])
    assert value == expected
    assert value.utcoffset() == datetime.fromisoformat(text).utcoffset()


@pytest.mark.parametrize("field", WIRE_TIMESTAMPS)
@pytest.mark.parametrize(
    ("bad", "error_type"),
    [
        ("yesterday", "datetime_from_date_parsing"),
        ("2025-13-01", "datetime_from_date_parsing"),
        ("2015-2-02T00:30:08.276Z", "datetime_from_date_parsing"),
        ("2025-03-14T09:21:33", "timezone_aware"),
        ("2025-03-14", "timezone_aware"),
        (1741944093, "segment_timestamp"),
        (1741944093.5, "segment_timestamp"),
        (True, "segment_timestamp"),
    ],
)
def test_bad_timestamps_are_refused(field: str, bad: object, error_type: str) -> None:
    errors = errors_of(minimal("track", **{field: bad}))
    assert [(error["loc"], error["type"]) for error in errors] == [(("track", field), error_type)]


def test_naive_timestamp_message_says_what_is_missing() -> None:
    (error,) = errors_of(minimal("identify", timestamp="2025-03-14T09:21:33"))
    assert "timezone" in error["msg"]


def test_python_callers_may_pass_aware_datetimes_only() -> None:
    aware = datetime(2025, 3, 14, 9, 21, tzinfo=timezone(timedelta(hours=2)))
    assert IdentifyMessage(type="identify", user_id="u", timestamp=aware).timestamp == aware
    with pytest.raises(ValidationError, match="timezone"):
        IdentifyMessage(type="identify", user_id="u", timestamp=aware.replace(tzinfo=None))


# --- batch ----------------------------------------------------------------------------------------


def test_batch_of_mixed_types_parses_with_its_envelope() -> None:
    data = copy.deepcopy(BATCH_EXAMPLE)
    data["batch"] += [minimal(kind) for kind in ("page", "screen", "group", "alias")]
    data["integrations"] = {"All": True}
    data["sentAt"] = "2015-02-02T00:30:13Z"
    batch = Batch.model_validate(data)
    assert [type(m).__name__ for m in batch.batch] == [
        "IdentifyMessage",
        "TrackMessage",
        "IdentifyMessage",
        "TrackMessage",
        "PageMessage",
        "ScreenMessage",
        "GroupMessage",
        "AliasMessage",
    ]
    assert batch.write_key == "YOUR_WRITE_KEY"
    assert batch.context is not None and batch.context.device is not None
    assert batch.context.device.name == "Apple iPhone 6"
    assert batch.integrations == {"All": True}
    assert batch.sent_at == datetime(2015, 2, 2, 0, 30, 13, tzinfo=UTC)
    dumped = wire(batch)
    assert set(dumped) == {"batch", "writeKey", "context", "integrations", "sentAt"}
    assert Batch.model_validate(dumped) == batch


def test_batch_doc_example_with_unpadded_month_is_rejected_at_those_items() -> None:
    data = copy.deepcopy(BATCH_EXAMPLE)
    data["batch"][2]["timestamp"] = data["batch"][3]["timestamp"] = "2015-2-02T00:30:08.276Z"
    errors = errors_of(data, Batch)
    assert [error["loc"] for error in errors] == [
        ("batch", 2, "identify", "timestamp"),
        ("batch", 3, "track", "timestamp"),
    ]


def test_empty_or_missing_batch_is_refused() -> None:
    assert [(e["loc"], e["type"]) for e in errors_of({"batch": []}, Batch)] == [
        (("batch",), "too_short")
    ]
    assert [(e["loc"], e["type"]) for e in errors_of({"writeKey": "k"}, Batch)] == [
        (("batch",), "missing")
    ]


def test_batch_errors_carry_the_index_of_the_bad_item() -> None:
    items = [minimal("track"), minimal("page"), {"type": "unknown", "userId": "u"}]
    items += [minimal("identify"), {"type": "track", "userId": "u"}, {"userId": "u"}]
    errors = errors_of({"batch": items}, Batch)
    assert [(error["loc"], error["type"]) for error in errors] == [
        (("batch", 2), "union_tag_invalid"),
        (("batch", 4, "track", "event"), "missing"),
        (("batch", 5), "union_tag_not_found"),
    ]


def test_batch_is_capped_at_segments_event_count() -> None:
    assert len(Batch.model_validate({"batch": [minimal("page")] * MAX_BATCH_EVENTS}).batch) == (
        MAX_BATCH_EVENTS
    )
    errors = errors_of({"batch": [minimal("page")] * (MAX_BATCH_EVENTS + 1)}, Batch)
    assert [(error["loc"], error["type"]) for error in errors] == [(("batch",), "too_long")]


# --- properties -----------------------------------------------------------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_json = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_json_object = st.dictionaries(st.text(max_size=12), _json, max_size=5)

# At least one letter or digit, so the id is never blank, whatever surrounds it.
_non_blank = st.builds(
    "{}{}{}".format,
    st.text(max_size=20),
    st.characters(categories=["L", "N"]),
    st.text(max_size=20),
)
_ids = _non_blank | st.integers(min_value=-(2**63), max_value=2**63 - 1)
_offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_timestamps = st.builds(
    lambda naive, tz, zulu: (
        naive.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
        if zulu
        else naive.replace(tzinfo=tz).isoformat()
    ),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),  # noqa: DTZ001
    _offsets,
    st.booleans(),
)
_contexts = st.fixed_dictionaries(
    {},
    optional={
        "ip": st.ip_addresses().map(str),
        "locale": st.sampled_from(["en-US", "de-DE", "ja-JP"]),
        "library": st.fixed_dictionaries({"name": st.text(max_size=10), "version": st.text()}),
        "page": st.fixed_dictionaries({"path": st.text(), "url": st.text(), "title": st.text()}),
        "screen": st.fixed_dictionaries(
            {"width": st.integers(0, 10_000), "density": st.floats(0.5, 4)}
        ),
        "traits": _json_object,
        "somethingCustom": _json,
    },
)
_common = {
    "messageId": _non_blank.map(lambda text: text[:100]),
    "timestamp": _timestamps,
    "sentAt": _timestamps,
    "originalTimestamp": _timestamps,
    "context": _contexts,
    "integrations": st.dictionaries(st.text(max_size=10), st.booleans() | _json_object),
    "version": st.integers(1, 3) | st.just("1.1"),
    "channel": st.sampled_from(["browser", "server", "mobile"]),
}
_identity = st.sampled_from(["userId", "anonymousId", "both"]).flatmap(
    lambda which: st.fixed_dictionaries(
        {"userId": _ids}
        if which == "userId"
        else {"anonymousId": _ids}
        if which == "anonymousId"
        else {"userId": _ids, "anonymousId": _ids}
    )
)
_specific: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "identify": ({}, {"traits": _json_object}),
    "track": (
        {"event": _non_blank.filter(lambda text: len(text) <= 200)},
        {"properties": _json_object},
    ),
    "page": ({}, {"name": st.text(), "category": st.text(), "properties": _json_object}),
    "screen": ({}, {"name": st.text(), "category": st.text(), "properties": _json_object}),
    "group": ({"groupId": _ids}, {"traits": _json_object}),
    "alias": ({"previousId": _ids, "userId": _ids}, {"anonymousId": _ids}),
}


@st.composite
def valid_messages(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(MESSAGE_TYPES))
    required, optional = _specific[kind]
    message = draw(st.fixed_dictionaries(required, optional={**_common, **optional}))
    if kind != "alias":
        message |= draw(_identity)
    return {"type": kind, **message}


@settings(max_examples=300)
@given(valid_messages())
def test_generated_valid_messages_parse_and_round_trip(data: dict[str, Any]) -> None:
    message = parse_message(copy.deepcopy(data))
    assert message.type == data["type"]
    # exclude_unset is the faithful dump: it keeps explicit nulls in unknown fields, which
    # exclude_none drops (see test_exclude_none_drops_explicit_null_extras).
    dumped = message.model_dump(by_alias=True, exclude_unset=True, mode="json")
    assert set(dumped) == set(data)
    assert parse_message(dumped) == message
    for key in ("userId", "anonymousId", "groupId", "previousId"):
        if key in data:
            assert dumped[key] == str(data[key])


def test_exclude_none_drops_explicit_null_extras() -> None:
    message = parse_message(minimal("track", custom=None, context={"custom": None}))
    assert "custom" not in wire(message)
    assert wire(message)["context"] == {}
    faithful = message.model_dump(by_alias=True, exclude_unset=True, mode="json")
    assert faithful["custom"] is None
    assert faithful["context"] == {"custom": None}


_junk_messages = st.fixed_dictionaries(
    {"type": st.sampled_from(MESSAGE_TYPES) | st.text(max_size=8)},
    optional=dict.fromkeys(
        [
            "userId",
            "anonymousId",
            "event",
            "groupId",
            "previousId",
            "messageId",
            *WIRE_TIMESTAMPS,
            "context",
            "integrations",
            "properties",
            "traits",
            "version",
            "name",
        ],
        _json,
    ),
) | st.dictionaries(st.text(max_size=12), _json, max_size=6)


@settings(max_examples=300)
@given(_junk_messages | _json)
def test_junk_never_raises_anything_but_validation_error(data: Any) -> None:
    with contextlib.suppress(ValidationError):
        parse_message(data)


@settings(max_examples=100)
@given(
    st.fixed_dictionaries(
        {"batch": st.lists(_junk_messages | valid_messages(), max_size=4) | _json},
        optional={"context": _json, "integrations": _json, "sentAt": _json, "writeKey": _json},
    )
)
def test_junk_batches_never_raise_anything_but_validation_error(data: dict[str, Any]) -> None:
    with contextlib.suppress(ValidationError):
        Batch.model_validate(data)
