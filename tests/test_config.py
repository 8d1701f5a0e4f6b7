"""Settings: defaults, environment, TOML file, precedence and readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from coreo.config import (
    RateLimitBackend,
    Settings,
    config_file_keys,
    config_file_path,
    get_settings,
    setting_source,
)
from coreo.errors import ConfigurationError


def test_defaults_use_embedded_sqlite_in_home(tmp_path: Path) -> None:
    settings = get_settings()
    assert settings.home == Path(".coreo")
    assert settings.is_embedded
    assert settings.effective_database_url == f"sqlite:///{tmp_path / '.coreo' / 'coreo.db'}"
    assert settings.rate_limit_backend is RateLimitBackend.MEMORY


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COREO_PORT", "9100")
    monkeypatch.setenv("COREO_DATABASE_URL", "postgresql+psycopg://coreo:pw@db:5432/coreo")
    settings = get_settings()
    assert settings.port == 9100
    assert not settings.is_embedded


def test_toml_file_and_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "coreo.toml").write_text('port = 9200\nlog_level = "debug"\nworkers = 3\n')
    assert get_settings().port == 9200
    assert get_settings().log_level == "DEBUG"
    monkeypatch.setenv("COREO_PORT", "9300")
    assert get_settings().port == 9300  # environment beats the file
    assert get_settings(port=9400).port == 9400  # explicit arguments beat both
    assert get_settings().workers == 3


def test_named_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    named = tmp_path / "elsewhere.toml"
    named.write_text("port = 9500\n")
    monkeypatch.setenv("COREO_CONFIG", str(named))
    assert get_settings().port == 9500
    monkeypatch.setenv("COREO_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigurationError, match=r"missing\.toml"):
        get_settings()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"COREO_PORT": "eighty"}, "COREO_PORT"),
        ({"COREO_PORT": "70000"}, "COREO_PORT"),
        ({"COREO_DATABASE_URL": "mysql://x/y"}, "COREO_DATABASE_URL: uses driver 'mysql'"),
        ({"COREO_DATABASE_URL": "::not a url::"}, "COREO_DATABASE_URL: is not a database URL"),
        ({"COREO_RATE_LIMIT_BACKEND": "redis"}, "COREO_REDIS_URL is required"),
        ({"COREO_RATE_LIMIT_BACKEND": "memcached"}, "COREO_RATE_LIMIT_BACKEND"),
        ({"COREO_LOG_LEVEL": "chatty"}, "COREO_LOG_LEVEL"),
        ({"COREO_EVENT_LOG": "nats"}, "COREO_NATS_URL is required"),
        ({"COREO_EVENT_LOG": "kafka"}, "COREO_EVENT_LOG"),
    ],
)
def test_bad_settings_give_one_readable_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        get_settings()
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_unknown_file_keys_and_broken_toml_are_errors(tmp_path: Path) -> None:
    (tmp_path / "coreo.toml").write_text("prot = 9000\n")
    with pytest.raises(ConfigurationError) as caught:
        get_settings()
    assert "prot in coreo.toml: is not a Coreo setting" in caught.value.message
    (tmp_path / "coreo.toml").write_text('port = "eighty"\n')
    with pytest.raises(ConfigurationError, match=r"port in coreo\.toml: Input should be"):
        get_settings()
    (tmp_path / "coreo.toml").write_text("port = [\n")
    with pytest.raises(ConfigurationError, match="cannot read configuration"):
        get_settings()


def test_file_keys_are_case_insensitive_and_reported_as_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "coreo.toml").write_text("PORT = 9600\n")
    assert get_settings().port == 9600
    keys = config_file_keys(config_file_path())
    assert setting_source("port", keys) == "file"
    assert setting_source("workers", keys) == "default"
    monkeypatch.setenv("COREO_PORT", "9700")
    assert setting_source("port", keys) == "env"


def test_public_snapshot_hides_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COREO_DATABASE_URL", "postgresql+psycopg://coreo:pw1234@db:5432/coreo")
    monkeypatch.setenv("COREO_RATE_LIMIT_BACKEND", "redis")
    monkeypatch.setenv("COREO_REDIS_URL", "redis://:s3cret@cache:6379/0")
    snapshot = get_settings().public_snapshot()
    assert set(Settings.model_fields) <= set(snapshot)
    assert "pw1234" not in str(snapshot) and "s3cret" not in str(snapshot)
    assert snapshot["redis_url"] == "********"
    assert snapshot["database_url"] == "postgresql+psycopg://coreo:***@db:5432/coreo"


def test_redis_url_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COREO_RATE_LIMIT_BACKEND", "redis")
    monkeypatch.setenv("COREO_REDIS_URL", "redis://:s3cret@cache:6379/0")
    settings = get_settings()
    assert "s3cret" not in repr(settings)
    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value().endswith("/0")


def test_every_setting_is_described() -> None:
    assert all(field.description for field in Settings.model_fields.values())
