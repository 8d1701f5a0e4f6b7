"""What the HTTP benchmarks share: a real ``coreo serve`` on a free loopback port, and a
raw keep-alive HTTP/1.1 client that costs a few µs a request (so the client's own cost does
not hide the server's)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2

__all__ = ["Connection", "ServeProcess", "free_port"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServeProcess:
    """``coreo serve`` (API and worker in one process, as deployed) in a subprocess, with
    rate limiting out of the way; ``env`` extends or overrides the settings."""

    def __init__(self, home: Path, *, start_timeout: float = 60.0, **env: str) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COREO_")}
        self.env.update(
            COREO_HOME=str(home),
            COREO_LOG_LEVEL="WARNING",
            COREO_RATE_LIMIT_PER_SECOND="1000000000",
            COREO_RATE_LIMIT_BURST="1000000000",
            **env,
        )
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        """Run a ``coreo`` command with the server's settings; its standard output."""
        return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "coreo", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def __enter__(self) -> ServeProcess:
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "coreo", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx2.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


class Connection:
    """One keep-alive HTTP/1.1 connection on a raw socket that sends whole requests."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send a request; return the response's status and body."""
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(lines[0].split(b" ", 2)[1]), body

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()
