"""Who runs a background job (an import, a back-fill), and whether that runner is gone."""

from __future__ import annotations

import os
import socket

from coreo.ids import new_id

__all__ = ["new_owner", "owner_is_gone"]


def new_owner() -> str:
    """Who runs a job: host, process id and a random part."""
    return f"{socket.gethostname()[:60]}/{os.getpid()}/{new_id('own')}"


def owner_is_gone(owner: str | None) -> bool:
    """True when ``owner`` was a process on this host that no longer exists (``kill -9``)."""
    host, _, rest = (owner or "").partition("/")
    pid = rest.partition("/")[0]
    if host != socket.gethostname()[:60] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists but belongs to someone else
        return False
    return False
