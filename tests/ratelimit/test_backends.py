"""One contract suite for every rate-limit store; API behaviour with shared and failing stores."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from coreo.app import create_app
from coreo.config import Settings
from coreo.db import Database
from coreo.errors import ServiceUnavailableError
from coreo.ratelimit import MemoryRateLimiter, RateLimiter, build_rate_limiter
from coreo.ratelimit.redis import RedisRateLimiter
from tests.conftest import REDIS_URL, Tenant, service_unavailable
from tests.helpers import assert_problem


def _redis_limiter() -> RedisRateLimiter:
    limiter = RedisRateLimiter.from_url(REDIS_URL, namespace=f"coreo-test:{uuid.uuid4().hex}:")
    try:
        limiter.ping()
    except ServiceUnavailableError as error:
        service_unavailable("Redis", error.message)
    return limiter


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
def limiter(request: pytest.FixtureRequest) -> Iterator[RateLimiter]:
    store: RateLimiter = MemoryRateLimiter() if request.param == "memory" else _redis_limiter()
    yield store
    store.close()


def test_allows_the_burst_then_refuses(limiter: RateLimiter) -> None:
    decisions = [limiter.hit("k", rate=1, burst=3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert 0 < decisions[3].retry_after <= 1.0


def test_refills_over_time(limiter: RateLimiter) -> None:
    for _ in range(2):
        limiter.hit("k", rate=20, burst=2)
    assert not limiter.hit("k", rate=20, burst=2).allowed
    time.sleep(0.15)  # 20/s refills about 3 tokens, capped at the burst of 2
    assert [limiter.hit("k", rate=20, burst=2).allowed for _ in range(3)] == [True, True, False]


def test_buckets_are_independent(limiter: RateLimiter) -> None:
    assert limiter.hit("a", rate=1, burst=1).allowed
    assert not limiter.hit("a", rate=1, burst=1).allowed
    assert limiter.hit("b", rate=1, burst=1).allowed


def test_cost_takes_several_tokens(limiter: RateLimiter) -> None:
    assert limiter.hit("k", rate=1, burst=10, cost=7).allowed
    refused = limiter.hit("k", rate=1, burst=10, cost=7)
    assert not refused.allowed and refused.remaining == 3
    assert refused.retry_after == pytest.approx(4.0, abs=0.1)


def test_unreachable_redis_raises_service_unavailable() -> None:
    limiter = RedisRateLimiter.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(ServiceUnavailableError):
        limiter.hit("k", rate=1, burst=1)
    with pytest.raises(ServiceUnavailableError):
        limiter.ping()


@given(
    rate=st.floats(0.5, 50),
    burst=st.integers(1, 20),
    steps=st.lists(st.floats(0, 0.5), min_size=1, max_size=60),
)
def test_memory_never_allows_more_than_the_bucket(
    rate: float, burst: int, steps: list[float]
) -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    allowed = 0
    for step in steps:
        now[0] += step
        allowed += limiter.hit("k", rate=rate, burst=burst).allowed
    assert allowed <= burst + rate * now[0] + 1e-9


@pytest.mark.redis
def test_processes_share_a_redis_bucket(
    settings: Settings, database: Database, tenant: Tenant
) -> None:
    """Two app instances (as two server processes would) draw from one bucket."""
    namespace = f"coreo-test:{uuid.uuid4().hex}:"
    shared = settings.model_copy(update={"rate_limit_per_second": 0.01, "rate_limit_burst": 2})
    first_limiter, second_limiter = (
        RedisRateLimiter.from_url(REDIS_URL, namespace=namespace) for _ in range(2)
    )
    try:
        first_limiter.ping()
    except ServiceUnavailableError as error:
        service_unavailable("Redis", error.message)
    with (
        TestClient(create_app(shared, database=database, rate_limiter=first_limiter)) as first,
        TestClient(create_app(shared, database=database, rate_limiter=second_limiter)) as second,
    ):
        assert first.get("/v1/whoami", headers=tenant.admin).status_code == 200
        assert second.get("/v1/whoami", headers=tenant.admin).status_code == 200
        assert_problem(first.get("/v1/whoami", headers=tenant.admin), 429, "rate-limited")
        assert_problem(second.get("/v1/whoami", headers=tenant.admin), 429, "rate-limited")


def test_unreachable_store_fails_open_and_is_counted(
    settings: Settings, database: Database, tenant: Tenant
) -> None:
    down = RedisRateLimiter.from_url("redis://127.0.0.1:1/0")
    with TestClient(create_app(settings, database=database, rate_limiter=down)) as client:
        assert client.get("/v1/whoami", headers=tenant.admin).status_code == 200
        ready = client.get("/readyz").json()
        metrics = client.get("/metrics").text
    assert ready["status"] == "degraded"
    assert ready["checks"]["database"] == "ok"
    assert ready["checks"]["rate_limit_store"].startswith("failed")
    assert "coreo_rate_limit_store_errors_total 1.0" in metrics


def test_settings_choose_the_store(settings: Settings) -> None:
    assert isinstance(build_rate_limiter(settings), MemoryRateLimiter)
    redis_settings = Settings.model_validate(
        {**settings.model_dump(), "rate_limit_backend": "redis", "redis_url": REDIS_URL}
    )
    assert isinstance(build_rate_limiter(redis_settings), RedisRateLimiter)


@pytest.mark.redis
def test_redis_keys_expire() -> None:
    """Idle buckets must not accumulate in Redis."""
    limiter = _redis_limiter()
    limiter.hit("idle", rate=100, burst=5)
    client = redis.Redis.from_url(REDIS_URL)
    ttl_ms = client.pttl(limiter._namespace + "idle")
    client.close()
    limiter.close()
    assert 0 < ttl_ms <= 1100
