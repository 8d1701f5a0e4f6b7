"""JSON logging with a request id, and redaction of key material and personal data.

Redaction is a safety net, not the policy: code must not log personal data in the first place.
The formatter still masks API tokens, e-mail addresses and phone-like numbers in every message
and string field, and logs exceptions as type plus stack frames with a masked message.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["JsonFormatter", "configure_logging", "redact", "request_id_var"]

request_id_var: ContextVar[str | None] = ContextVar("coreo_request_id", default=None)

_TOKEN = re.compile(r"\b(coreo_(?:sk|wk)_[0-9a-z]{12})_[A-Za-z0-9_-]{20,}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w.:-])\+?\d[\d /().-]{7,}\d(?![\w.:-])")
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "color_message"}
)
_OUR_HANDLER = "coreo-handler"


def redact(text: str) -> str:
    """Mask API tokens (keeping their public prefix), e-mail addresses and phone numbers."""
    text = _TOKEN.sub(r"\1_***", text)
    text = _EMAIL.sub("<email>", text)
    return _PHONE.sub("<phone>", text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = _clean(value)
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["error"] = {
                "type": type(error).__qualname__,
                "message": redact(str(error)),
                "stack": redact("".join(traceback.format_tb(error.__traceback__))),
            }
        return orjson.dumps(entry, default=str).decode()


class ConsoleFormatter(JsonFormatter):
    """Human-friendly single lines for a terminal; same redaction."""

    def format(self, record: logging.LogRecord) -> str:
        base = f"{record.levelname:<7} {record.name}: {redact(record.getMessage())}"
        request_id = request_id_var.get()
        if request_id:
            base += f" [request {request_id}]"
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            base += f" ({type(error).__qualname__}: {redact(str(error))})"
        return base


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record (it may be replaced)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(*, level: str = "INFO", fmt: str = "json") -> None:
    """Send every log record (ours, uvicorn's, SQLAlchemy's) through one redacting handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _OUR_HANDLER:
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.set_name(_OUR_HANDLER)
    handler.setFormatter(ConsoleFormatter() if fmt == "console" else JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # uvicorn's access log prints client addresses and full query strings (personal data);
    # Coreo writes its own access log with the route template instead.
    logging.getLogger("uvicorn.access").disabled = True
