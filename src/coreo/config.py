"""Settings: one object built from ``COREO_*`` environment variables and an optional TOML file.

Precedence, highest first: explicit keyword arguments, environment variables, the TOML file
named by ``COREO_CONFIG`` (default ``./coreo.toml`` when it exists), field defaults.
"""

from __future__ import annotations

import os
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from coreo.errors import ConfigurationError

__all__ = [
    "LogFormat",
    "MatchingBackend",
    "RateLimitBackend",
    "Settings",
    "config_file_keys",
    "config_file_path",
    "display_value",
    "get_settings",
    "same_database",
    "setting_source",
]

ENV_PREFIX = "COREO_"
SUPPORTED_DRIVERS = ("sqlite", "postgresql+psycopg")


class RateLimitBackend(StrEnum):
    MEMORY = "memory"
    REDIS = "redis"


EventLogBackend = Literal["sql", "nats"]


class MatchingBackend(StrEnum):
    DUCKDB = "duckdb"
    SPARK = "spark"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


def config_file_path() -> Path | None:
    """Return the TOML configuration file to read, or None when there is none."""
    named = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigurationError(f"COREO_CONFIG names {path}, which is not a readable file")
        return path
    default = Path("coreo.toml")
    return default if default.is_file() else None


class Settings(BaseSettings):
    """Every Coreo setting. Each field's description is what `coreo config show` prints."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
    )

    home: Path = Field(
        default=Path(".coreo"),
        description="Directory for embedded data (SQLite database, metrics, exports).",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the operational store; empty means SQLite in COREO_HOME. "
            "PostgreSQL: postgresql+psycopg://user:password@host:5432/db"
        ),
    )
    database_pool_size: int = Field(
        default=10, ge=1, le=200, description="Connections kept open per process (PostgreSQL)."
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5000, ge=0, description="How long SQLite waits for a lock before failing."
    )
    host: str = Field(default="127.0.0.1", description="Address `coreo serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `coreo serve` listens on.")
    workers: int = Field(
        default=1, ge=1, le=64, description="Server processes started by `coreo serve`."
    )
    log_level: str = Field(default="INFO", description="Minimum log level (DEBUG, INFO, ...).")
    log_format: LogFormat = Field(
        default=LogFormat.JSON, description="Log line format: json (one object a line) or console."
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest accepted request body in bytes; larger bodies get 413.",
    )
    rate_limit_backend: RateLimitBackend = Field(
        default=RateLimitBackend.MEMORY,
        description="Token-bucket store: memory (one process) or redis (shared by processes).",
    )
    rate_limit_per_second: float = Field(
        default=1000.0, gt=0, description="Requests per second refilled into each API key's bucket."
    )
    rate_limit_burst: int = Field(
        default=2000, ge=1, description="Bucket size: requests an API key may send in a burst."
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis URL (redis://host:6379/0); required when rate_limit_backend is redis.",
    )
    auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a verified API key is cached in-process (revocation delay bound).",
    )

    event_log: EventLogBackend = Field(
        default="sql",
        description="Event log backend: sql (tables in the database) or nats (JetStream).",
    )
    nats_url: SecretStr | None = Field(
        default=None,
        description="NATS URL (nats://host:4222); required when event_log is nats.",
    )
    nats_stream: str = Field(
        default="COREO_EVENTS",
        pattern=r"^[A-Z][A-Z0-9_]{0,30}$",
        description="Name prefix of the JetStream streams and offset bucket (one per install).",
    )
    event_log_partitions: int = Field(
        default=8,
        ge=1,
        le=1024,
        description="Partitions of the event log (fixed once events exist: keys map to them).",
    )
    ingest_max_message_bytes: int = Field(
        default=32 * 1024, ge=1024, description="Largest accepted single event (Segment: 32 KB)."
    )
    ingest_max_batch_bytes: int = Field(
        default=500 * 1024,
        ge=1024,
        description="Largest accepted batch request, after gzip decoding (Segment: 500 KB).",
    )
    ingest_dedupe_hours: float = Field(
        default=24.0,
        gt=0,
        description="A repeated messageId within this window is acknowledged but not kept.",
    )
    ingest_truncate_ip: bool = Field(
        default=False, description="Store context.ip truncated (IPv4 /24, IPv6 /48)."
    )
    ingest_special_categories_allowed: list[str] = Field(
        default_factory=list,
        description="Special-category fields (GDPR Art. 9: health, religion, ...) kept anyway, "
        "for a controller with an Art. 9(2) exemption; all others are removed at ingestion.",
    )
    encrypt_personal_data: bool = Field(
        default=True,
        description="Seal personal traits and identifiers (in profiles and stored events) "
        "with a per-person data key (AES-256-GCM), wrapped by the master key; identifiers "
        "are searched by a keyed hash; erasure destroys the key.",
    )
    key_database_url: str | None = Field(
        default=None,
        description="A database of their own for the wrapped data keys and the keyring "
        "(SQLAlchemy URL, e.g. sqlite:////srv/coreo-keys/keys.db or a second PostgreSQL "
        "database). Unset: they live in the operational database. Set, a backup of the "
        "operational database holds no key, so an erasure's crypto-shredding reaches its "
        "backups too (back the key store up separately, with short retention).",
    )
    controller_name: str = Field(
        default="(set controller_name)",
        description="The controller named in the record of processing activities (`coreo ropa`).",
    )
    controller_contact: str = Field(
        default="(set controller_contact)", description="The controller's postal or e-mail address."
    )
    dpo_contact: str = Field(
        default="(set dpo_contact)", description="The data protection officer's contact."
    )
    retention_behavioural_days: int = Field(
        default=395,
        ge=1,
        description="Events (page views, clicks, behaviour) are deleted after this many days.",
    )
    retention_transactional_days: int = Field(
        default=3650,
        ge=1,
        description="Transactional events (retention_transactional_events) are kept this long "
        "(commercial records: ten years, OR Art. 958f, HGB 257).",
    )
    retention_transactional_events: list[str] = Field(
        default_factory=lambda: [
            "Order Completed",
            "Order Refunded",
            "Order Cancelled",
            "Payment Completed",
            "Subscription Started",
            "Subscription Cancelled",
        ],
        description="Track events that are transactional records.",
    )
    retention_inactive_profile_days: int = Field(
        default=1095,
        ge=1,
        description="A profile with no activity for this long is erased (no tombstone).",
    )
    retention_operational_days: int = Field(
        default=30,
        ge=1,
        description="Dead letters and tracking-plan violations are deleted after this long.",
    )
    retention_file_days: int = Field(
        default=30,
        ge=1,
        description="Event exports and uploaded import files are deleted after this long.",
    )
    retention_log_days: int = Field(
        default=7,
        ge=1,
        description="Event-log records (SQL or NATS) every consumer group has processed are "
        "deleted after this long.",
    )
    retention_interval_hours: float = Field(
        default=24.0,
        ge=0,
        description="How often a server runs the retention purge (0: never; run `coreo "
        "retention run` instead).",
    )
    traits_refresh_minutes: float = Field(
        default=60.0,
        ge=0,
        description="How often a server brings stored computed-trait values whose window moved "
        "on up to date (0: never; run `coreo traits refresh` instead).",
    )
    ingest_phone_region: str = Field(
        default="CH",
        min_length=2,
        max_length=2,
        description="Region assumed for phone numbers without a country code (ISO 3166).",
    )
    ingest_max_lag: int = Field(
        default=1_000_000,
        ge=0,
        description="Unprocessed events at which ingestion answers 503 (back-pressure; 0: off).",
    )
    import_max_upload_bytes: int = Field(
        default=2 * 1024**3,
        ge=1024,
        description="Largest file accepted by POST /v1/imports (kept under COREO_HOME/imports).",
    )
    worker_enabled: bool = Field(
        default=True,
        description="Run the stream worker inside `coreo serve` (off: run `coreo worker`).",
    )
    worker_batch_size: int = Field(
        default=500, ge=1, le=10_000, description="Events a worker processes per transaction."
    )
    worker_linger_ms: float = Field(
        default=10.0,
        ge=0.0,
        le=1000.0,
        description="Milliseconds a caught-up worker waits after new events arrive before it "
        "reads them, so that events arriving one by one are processed together (adds at most "
        "this to the accepted -> processed delay; 0: read at once).",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="The master key (32 bytes, base64) that keys personal-data hashes and will "
        "wrap encryption keys. Without it, COREO_HOME/master.key is used (created on first use).",
    )
    worker_lease_seconds: float = Field(
        default=10.0,
        ge=1.0,
        le=600.0,
        description="How long a worker's partition leases live without renewal (renewed every "
        "fifth of it); a stalled or killed worker's partitions move on after this.",
    )
    matching_backend: MatchingBackend = Field(
        default=MatchingBackend.DUCKDB,
        description="Splink backend of master-record matching: duckdb (in process) or spark "
        "(large volumes; needs the coreo[spark] extra and Java).",
    )
    matching_spark_master: str = Field(
        default="local[*]",
        min_length=1,
        description="Spark master URL when matching_backend is spark (local[*], spark://host:7077).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file_path()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @field_validator("database_url", "key_database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            url = make_url(value.strip())
        except ArgumentError:
            raise ValueError(
                "is not a database URL (expected e.g. postgresql+psycopg://host/db)"
            ) from None
        if url.drivername not in SUPPORTED_DRIVERS:
            raise ValueError(
                f"uses driver {url.drivername!r}; supported: {', '.join(SUPPORTED_DRIVERS)}"
            )
        return value.strip()

    @field_validator("key_database_url")
    @classmethod
    def _check_key_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = make_url(value)
        if url.get_backend_name() == "sqlite":
            path = (url.database or "").removeprefix("file:").split("?")[0]
            if path in ("", ":memory:") or "mode=memory" in value:
                raise ValueError("must name a file (an in-memory key store loses every key)")
            if not Path(path).is_absolute():
                raise ValueError(
                    "must name the file by an absolute path (sqlite:////srv/coreo-keys/keys.db): "
                    "a relative one depends on the directory each process starts in"
                )
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _check_dependent_settings(self) -> Settings:
        if self.rate_limit_backend is RateLimitBackend.REDIS and self.redis_url is None:
            raise ValueError("COREO_REDIS_URL is required when COREO_RATE_LIMIT_BACKEND=redis")
        if self.event_log == "nats" and self.nats_url is None:
            raise ValueError("COREO_NATS_URL is required when COREO_EVENT_LOG=nats")
        return self

    @property
    def effective_database_url(self) -> str:
        """The database URL in use: the configured one or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'coreo.db').resolve()}"

    @model_validator(mode="after")
    def _check_key_store_apart(self) -> Settings:
        if self.key_database_url is not None and same_database(
            self.key_database_url, self.effective_database_url
        ):
            raise ValueError(
                "COREO_KEY_DATABASE_URL names the operational database itself: give the keys "
                "a database of their own"
            )
        return self

    @property
    def is_embedded(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def public_snapshot(self) -> dict[str, str]:
        """Every setting as `coreo config show` displays it: secrets masked, passwords hidden.

        Safe to store in the audit trail; a changed secret shows only as set or unset.
        """
        snapshot = {
            name: display_value(name, getattr(self, name)) for name in type(self).model_fields
        }
        snapshot["home"] = str(self.home.resolve())
        snapshot["effective_database_url"] = display_value(
            "database_url", self.effective_database_url
        )
        return snapshot


def same_database(first: str, second: str) -> bool:
    """Whether two SQLAlchemy URLs name the same database (SQLite: the same file)."""
    a, b = make_url(first), make_url(second)
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        return Path(a.database or "").resolve() == Path(b.database or "").resolve()
    return (a.host or "localhost", a.port or 5432, a.database) == (
        b.host or "localhost",
        b.port or 5432,
        b.database,
    )


def display_value(name: str, value: object) -> str:
    """A setting's value for display: secrets masked, database passwords hidden."""
    if isinstance(value, SecretStr):
        return "********" if value.get_secret_value() else ""
    if name in ("database_url", "key_database_url") and isinstance(value, str):
        return make_url(value).render_as_string(hide_password=True)
    return "" if value is None else str(value)


def config_file_keys(path: Path | None) -> dict[str, str]:
    """Map each setting named in the TOML file (lower case) to its spelling in the file."""
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return {str(key).lower(): str(key) for key in data}


def setting_source(name: str, file_keys: dict[str, str]) -> str:
    """Where a setting's value comes from: "env", "file" or "default" (kwargs aside)."""
    if f"{ENV_PREFIX}{name.upper()}" in os.environ:
        return "env"
    return "file" if name.lower() in file_keys else "default"


def _describe_validation_error(error: ValidationError) -> str:
    path = config_file_path()
    file_keys = config_file_keys(path)
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if not field:
            parts.append(message)
        elif path is not None and setting_source(field, file_keys) == "file":
            key = file_keys.get(field.lower(), field)
            if message == "Extra inputs are not permitted":
                message = "is not a Coreo setting (see `coreo config show`)"
            parts.append(f"{key} in {path}: {message}")
        else:
            if message == "Extra inputs are not permitted":
                message = "is not a Coreo setting"
            parts.append(f"{ENV_PREFIX}{field.upper()}: {message}")
    return "invalid configuration: " + "; ".join(parts)


def get_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment, the TOML file and ``overrides``.

    Raises:
        ConfigurationError: with one readable line naming every bad setting.
    """
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigurationError(_describe_validation_error(error)) from None
    except (OSError, ValueError) as error:  # unreadable or malformed TOML file
        raise ConfigurationError(f"cannot read configuration: {error}") from None
