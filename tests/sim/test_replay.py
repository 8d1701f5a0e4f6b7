"""Replay: Segment batches within limits, write key as Basic user, rate cap, retries."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx2
import orjson
import pytest

from coreo.errors import InvalidInputError, ServiceUnavailableError
from coreo.sim.replay import MAX_BATCH_BYTES, parse_rate, read_events, replay


class Recorder:
    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.batches: list[list[dict[str, object]]] = []
        self.auth: set[str] = set()
        self.sizes: list[int] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        status = self.statuses.pop(0) if self.statuses else 200
        if status != 200:
            headers = {"Retry-After": "0"} if status == 429 else {}
            return httpx2.Response(
                status,
                json={"detail": f"status {status}", "type": "urn:coreo:problem:x"},
                headers=headers,
            )
        self.auth.add(request.headers["authorization"])
        self.sizes.append(len(request.content))
        self.batches.append(orjson.loads(request.content)["batch"])
        return httpx2.Response(200, json={"success": True})


def _messages(count: int, padding: int = 0) -> list[bytes]:
    return [
        orjson.dumps(
            {"type": "track", "event": "E", "userId": f"u{i}", "properties": {"pad": "x" * padding}}
        )
        for i in range(count)
    ]


def _client(recorder: Recorder) -> httpx2.Client:
    return httpx2.Client(base_url="http://coreo.test", transport=httpx2.MockTransport(recorder))


def test_batches_carry_every_message_once_with_the_write_key() -> None:
    recorder = Recorder()
    report = replay(
        iter(_messages(250)),
        url="http://coreo.test",
        write_key="coreo_wk_abc",
        batch_size=100,
        client=_client(recorder),
    )
    assert (report.sent, report.batches) == (250, 3)
    sent = [m["userId"] for batch in recorder.batches for m in batch]
    assert sent == [f"u{i}" for i in range(250)]
    expected = "Basic " + base64.b64encode(b"coreo_wk_abc:").decode()
    assert recorder.auth == {expected}


def test_batches_stay_under_500_kb() -> None:
    recorder = Recorder()
    replay(
        iter(_messages(120, padding=20_000)),
        url="x",
        write_key="k",
        batch_size=2500,
        client=_client(recorder),
    )
    assert max(recorder.sizes) <= MAX_BATCH_BYTES
    assert sum(len(b) for b in recorder.batches) == 120


def test_oversized_message_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="message 2 is"):
        replay(
            iter(_messages(1) + _messages(1, padding=40_000)),
            url="x",
            write_key="k",
            client=_client(Recorder()),
        )


def test_429_and_5xx_are_retried_then_succeed() -> None:
    recorder = Recorder([429, 503])
    slept: list[float] = []
    report = replay(
        iter(_messages(5)), url="x", write_key="k", client=_client(recorder), sleep=slept.append
    )
    assert report.retries == 2 and report.sent == 5
    assert slept[0] == 0.0  # Retry-After honoured
    assert len(recorder.batches) == 1


def test_client_errors_stop_with_the_servers_detail() -> None:
    with pytest.raises(InvalidInputError, match="HTTP 401: status 401"):
        replay(iter(_messages(5)), url="x", write_key="bad", client=_client(Recorder([401])))


def test_gives_up_when_the_server_stays_down() -> None:
    with pytest.raises(ServiceUnavailableError, match="gave up after 2 retries"):
        replay(
            iter(_messages(1)),
            url="x",
            write_key="k",
            max_retries=2,
            client=_client(Recorder([500, 500, 500])),
            sleep=lambda _: None,
        )


def test_rate_cap_sleeps_for_the_excess() -> None:
    slept: list[float] = []
    replay(
        iter(_messages(300)),
        url="x",
        write_key="k",
        rate=100,
        batch_size=100,
        client=_client(Recorder()),
        sleep=slept.append,
    )
    assert sum(slept) >= 1.5  # 300 events at 100/s: at least ~2 s of waiting after the first batch


@pytest.mark.parametrize(
    ("text", "value"), [("2000/s", 2000.0), ("150", 150.0), (" 2.5 / s ", 2.5), ("max", None)]
)
def test_parse_rate(text: str, value: float | None) -> None:
    assert parse_rate(text) == value


@pytest.mark.parametrize("text", ["fast", "-3/s", "10/min"])
def test_bad_rate_is_refused(text: str) -> None:
    with pytest.raises(InvalidInputError, match="events per second"):
        parse_rate(text)


def test_read_events_from_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no events file"):
        list(read_events(tmp_path / "events.jsonl"))
