"""Settings: defaults, environment, TOML file, precedence and readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from coreo.config import RateLimitBackend, get_settings
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
    with pytest.raises(ConfigurationError, match="COREO_PROT"):
        get_settings()
    (tmp_path / "coreo.toml").write_text("port = [\n")
    with pytest.raises(ConfigurationError, match="cannot read configuration"):
        get_settings()


def test_redis_url_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COREO_RATE_LIMIT_BACKEND", "redis")
    monkeypatch.setenv("COREO_REDIS_URL", "redis://:s3cret@cache:6379/0")
    settings = get_settings()
    assert "s3cret" not in repr(settings)
    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value().endswith("/0")


def test_every_setting_is_described() -> None:
    from coreo.config import Settings

    assert all(field.description for field in Settings.model_fields.values())
