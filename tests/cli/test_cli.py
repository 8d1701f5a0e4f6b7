"""The `coreo` command: flows in-process, error paths and servers as real processes."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from typer.testing import CliRunner

from coreo.cli import app
from tests.conftest import scratch_postgres_database

TOKEN = re.compile(r"coreo_(sk|wk)_[0-9a-z]{12}_[A-Za-z0-9_-]{43}")
runner = CliRunner()


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COREO_")}
    env.update(COREO_HOME=str(home), COLUMNS="200", **extra)
    return env


def coreo(
    home: Path, *args: str, timeout: float = 60, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coreo", *args],
        env=_env(home, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def invoke(home: Path, *args: str) -> str:
    result = runner.invoke(app, list(args), env={"COREO_HOME": str(home), "COLUMNS": "200"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0]


# -- help --------------------------------------------------------------------------------------

COMMANDS = [
    ["demo"],
    ["serve"],
    ["init"],
    ["migrate"],
    ["config", "show"],
    ["workspace", "create"],
    ["workspace", "list"],
    ["keys", "create"],
    ["keys", "list"],
    ["keys", "revoke"],
    ["audit", "verify"],
    ["audit", "show"],
    ["worker"],
    ["dlq", "list"],
    ["dlq", "show"],
    ["dlq", "replay"],
    ["dlq", "purge"],
    ["events", "export"],
    ["import"],
    ["identity", "match"],
    ["identity", "unmerge"],
    ["sim", "generate"],
    ["sim", "replay"],
    ["sim", "scenario"],
    ["privacy", "create"],
    ["privacy", "execute"],
    ["retention", "run"],
    ["ropa"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str], tmp_path: Path) -> None:
    output = invoke(tmp_path, *command, "--help")
    assert "Example:" in output and "coreo " in output


def test_root_help_and_version(tmp_path: Path) -> None:
    output = invoke(tmp_path, "--help")
    for name in ("demo", "serve", "init", "migrate", "config", "workspace", "keys", "audit", "sim"):
        assert name in output
    assert invoke(tmp_path, "--version").startswith("coreo ")


# -- flows -----------------------------------------------------------------------------------


def test_init_keys_and_audit_flow(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = invoke(home, "init")
    tokens = TOKEN.findall(first)
    assert list(tokens) == ["sk", "wk"]
    assert "already initialised" in invoke(home, "init")
    assert len(TOKEN.findall(invoke(home, "init"))) == 0

    created = invoke(home, "keys", "create", "--name", "crm", "--scope", "profiles:read")
    prefix = re.search(r"coreo_sk_[0-9a-z]{12}", created)
    assert prefix and "profiles:read" in created
    listed = invoke(home, "keys", "list")
    assert prefix.group(0) in listed and "crm" in listed
    assert "Revoked" in invoke(home, "keys", "revoke", prefix.group(0))
    assert prefix.group(0) not in invoke(home, "keys", "list")
    assert prefix.group(0) in invoke(home, "keys", "list", "--all")

    invoke(home, "workspace", "create", "acme-ch", "--display-name", "ACME Schweiz")
    assert "acme-ch" in invoke(home, "workspace", "list")
    shown = invoke(home, "audit", "show", "--limit", "10")
    for action in ("workspace.created", "api_key.created", "api_key.revoked"):
        assert action in shown
    # default: workspace + 2 initial keys + created + revoked; acme-ch: workspace
    assert "OK: 6 entries in 2 chain(s)" in invoke(home, "audit", "verify")


def test_audit_verify_names_the_tampered_entry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    invoke(home, "init")
    with sqlite3.connect(home / "coreo.db") as connection:
        connection.execute("UPDATE audit_entries SET target = 'api_key:forged' WHERE seq = 2")
    result = coreo(home, "audit", "verify")
    assert result.returncode == 1
    assert re.search(r"BROKEN: chain ws_[0-9a-z]+, entry 2: .*altered", result.stdout)


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    result = coreo(
        tmp_path,
        "config",
        "show",
        "--json",
        COREO_DATABASE_URL="postgresql+psycopg://coreo:topsecret@db:5432/coreo",
        COREO_RATE_LIMIT_BACKEND="redis",
        COREO_REDIS_URL="redis://:alsosecret@cache:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert "topsecret" not in result.stdout and "alsosecret" not in result.stdout
    assert "postgresql+psycopg://coreo:***@db:5432/coreo" in result.stdout
    assert '"source": "env"' in result.stdout and '"source": "default"' in result.stdout


# -- error paths -----------------------------------------------------------------------------


def test_missing_config_value_is_one_line(tmp_path: Path) -> None:
    result = coreo(tmp_path, "serve", COREO_RATE_LIMIT_BACKEND="redis")
    assert_one_line_error(result, "COREO_REDIS_URL is required")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://root@localhost/x", "uses driver 'mysql'"),
        ("not a url", "is not a database URL"),
        ("postgresql+psycopg://coreo:pw@127.0.0.1:1/x", "cannot migrate the database"),
    ],
)
def test_bad_database_url_is_one_line(tmp_path: Path, url: str, fragment: str) -> None:
    result = coreo(tmp_path, "migrate", COREO_DATABASE_URL=url)
    assert_one_line_error(result, fragment)
    assert ":pw@" not in result.stderr


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = coreo(tmp_path, "serve", "--port", str(port))
    assert_one_line_error(result, f"port {port} on 127.0.0.1 is already in use")


def test_domain_errors_are_one_line(tmp_path: Path) -> None:
    assert_one_line_error(
        coreo(tmp_path, "keys", "list", "--workspace", "ghost"), "no workspace named 'ghost'"
    )
    assert_one_line_error(coreo(tmp_path, "workspace", "create", "Not Valid"), "must be 1-63")
    assert_one_line_error(
        coreo(tmp_path, "keys", "create", "--name", "x", "--scope", "root", "-w", "ghost")
    )


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["keys", "create"], ["Missing option '--name'", "coreo keys create --help"]),
        (["serve", "--port", "http"], ["Invalid value for '--port'", "coreo serve --help"]),
        (["frobnicate"], ["No such command 'frobnicate'", "coreo --help"]),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    result = coreo(tmp_path, *args)
    assert_one_line_error(result, *fragments)
    assert result.returncode == 2


def test_no_arguments_prints_help(tmp_path: Path) -> None:
    result = coreo(tmp_path, "keys")
    assert result.returncode == 2
    assert "create" in result.stdout + result.stderr and "Traceback" not in result.stderr


# -- servers ---------------------------------------------------------------------------------


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    processes: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], int]:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "coreo", *args, "--port", str(port)],
            env=_env(tmp_path / "home"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return process, port
            except httpx2.TransportError:
                time.sleep(0.1)
        raise AssertionError(
            f"server did not start: {process.stderr.read() if process.stderr else ''}"
        )

    yield start  # type: ignore[misc]
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_serve_answers_and_stops_gracefully_on_sigterm(server_process) -> None:  # type: ignore[no-untyped-def]
    process, port = server_process("serve")
    ready = httpx2.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
    assert ready.json()["status"] == "ok"
    process.send_signal(signal.SIGTERM)
    # uvicorn finishes in-flight requests, runs shutdown, then re-raises SIGTERM.
    _, logs = process.communicate(timeout=15)
    assert process.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in logs
    assert "Finished server process" in logs
    assert "Traceback" not in logs


@pytest.mark.slow
def test_serve_with_workers_merges_metrics(server_process) -> None:  # type: ignore[no-untyped-def]
    process, port = server_process("serve", "--workers", "2")
    for _ in range(20):
        httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    text = httpx2.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    counted = re.search(
        r'coreo_http_requests_total\{method="GET",route="/healthz",status="200"\} (\d+)', text
    )
    assert counted and float(counted.group(1)) >= 20
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=20)
    assert process.returncode in (0, -signal.SIGTERM)


def test_demo_self_checks_and_prints_working_curl(tmp_path: Path) -> None:
    port = free_port()
    result = coreo(tmp_path / "home", "demo", "--port", str(port), "--exit-after-check")
    assert result.returncode == 0, result.stderr
    assert "Coreo demo is running" in result.stdout and "FAILED" not in result.stdout
    curl = re.search(
        rf"curl -s -H 'Authorization: Bearer ({TOKEN.pattern})' (http://\S+/v1/whoami)",
        result.stdout,
    )
    assert curl is not None
    # The printed key is real: a second demo revokes it and prints a new one.
    again = coreo(tmp_path / "home", "demo", "--port", str(port), "--exit-after-check")
    assert again.returncode == 0
    assert TOKEN.search(again.stdout).group(0) != TOKEN.search(result.stdout).group(0)  # type: ignore[union-attr]
    assert "OK:" in coreo(tmp_path / "home", "audit", "verify").stdout
    # The server configuration was audited once: the second run used the same settings.
    system = coreo(tmp_path / "home", "audit", "show", "--system")
    assert system.stdout.count("config.changed") == 1, system.stdout
    changed_port = free_port()
    while changed_port == port:  # the kernel may hand out the same free port again
        changed_port = free_port()
    third = coreo(tmp_path / "home", "demo", "--port", str(changed_port), "--exit-after-check")
    assert third.returncode == 0, third.stderr
    system = coreo(tmp_path / "home", "audit", "show", "--system")
    assert system.stdout.count("config.changed") == 2 and "port" in system.stdout


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    with scratch_postgres_database("coreo_cli") as url:
        yield url


@pytest.mark.postgres
def test_postgres_needs_explicit_migrate(tmp_path: Path, empty_postgres_url: str) -> None:
    refused = coreo(tmp_path, "workspace", "list", COREO_DATABASE_URL=empty_postgres_url)
    assert_one_line_error(refused, "run `coreo migrate`")
    migrated = coreo(tmp_path, "migrate", COREO_DATABASE_URL=empty_postgres_url)
    assert migrated.returncode == 0 and "newest" in migrated.stdout
    initialised = coreo(tmp_path, "init", COREO_DATABASE_URL=empty_postgres_url)
    assert len(TOKEN.findall(initialised.stdout)) == 2
    verified = coreo(tmp_path, "audit", "verify", COREO_DATABASE_URL=empty_postgres_url)
    assert "OK: 3 entries" in verified.stdout
