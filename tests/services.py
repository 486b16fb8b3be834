"""Where the real services for the tests are, and whether they answer.

With ``CI=true`` a missing service fails the test that needs it (CI must run them, never skip them); elsewhere the
test is skipped with a one-line reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import uvicorn

PG_ADMIN_URL = os.environ.get("PARKGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
MQTT_URL = os.environ.get("PARKGATE_TEST_MQTT", "mqtt://127.0.0.1:1883")
CHROMIUM = os.environ.get("PARKGATE_CHROMIUM", "/usr/bin/chromium")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(available: bool, reason: str) -> None:
    """Skip (or, in CI, fail) the calling test when a service it needs is absent."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: service tests must run, not skip)")
    pytest.skip(reason)


def mqtt_host_port() -> tuple[str, int]:
    parts = urlsplit(MQTT_URL)
    return parts.hostname or "127.0.0.1", parts.port or 1883


def pg_host_port() -> tuple[str, int]:
    parts = urlsplit(PG_ADMIN_URL)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def chromium_available() -> bool:
    return os.path.exists(CHROMIUM) or shutil.which("chromium") is not None


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
            return int(ranges.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_PORT_BLOCK = 1000
_port_turn = os.getpid() % _PORT_BLOCK


def free_tcp_port() -> int:
    """A free port on 127.0.0.1 that a test's server then binds.

    Not one the kernel hands out (``bind(0)`` picks from the ephemeral range, where any outgoing connection of a
    parallel test can take it between this pick and the server's bind: "address already in use" once in a while
    on a busy run), but one below that range, in a block of its own per pytest-xdist worker."""
    global _port_turn
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]
    base = 10_000 + (int(worker) if worker.isdigit() else 0) % 16 * _PORT_BLOCK
    if base + _PORT_BLOCK > _ephemeral_low():
        base = 10_000
    for _ in range(_PORT_BLOCK):
        _port_turn = (_port_turn + 1) % _PORT_BLOCK
        port = base + _port_turn
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in 127.0.0.1:{base}-{base + _PORT_BLOCK - 1}")


@contextmanager
def own_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL database created for the block (``<prefix>_<random>``) and dropped after it, even with sessions
    still connected; yields its psycopg URL. Skips (or fails under CI) where PostgreSQL is not reachable."""
    import psycopg  # only the tests that need PostgreSQL load it

    host, port = pg_host_port()
    require(port_open(host, port), f"PostgreSQL not reachable at {host}:{port}")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(PG_ADMIN_URL)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def serving(app: Any, port: int | None = None, **options: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on 127.0.0.1 (``port``, or a free one) until the block ends: its URL.

    ``options`` go to ``uvicorn.Config`` as they are: the TLS options ``parkgate central run`` gives it
    (``ssl_certfile``... make the URL ``https://``), or ``log_config=None`` to log as ``central run`` does."""
    port = free_tcp_port() if port is None else port
    options.setdefault("log_level", "warning")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"{'https' if options.get('ssl_certfile') else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
