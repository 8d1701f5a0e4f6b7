"""YAML (and so JSON) text from files people write: parsed, or one line saying where not."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["YamlError", "parse"]


class YamlError(ValueError):
    """Text that is not valid YAML; the message is ``not valid YAML (line N)``."""


def parse(text: str | bytes) -> Any:
    """The document in ``text`` (safe loader: plain data only)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise YamlError(f"not valid YAML{where}") from None
