"""``parkgate central run --workers 2 --tls-client-ca --tls-client-crl`` as a real process (PostgreSQL): the CRL given
as a flag reaches every worker's revocation check, so a certificate the operator revokes while central runs is
refused with 403 ``auth.certificate_revoked`` on new connections whichever worker takes them, a forged CRL is logged
and not used, and a good CRL without it lets the edge in again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from parking.tls import ClientTls
from parking.wire import SYNC_PATH
from tests import services
from tests.pki import Issued, TestCa
from tests.services import free_tcp_port, port_open

pytestmark = pytest.mark.postgres
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Correct-Horse-Battery-Staple-8142"
CONNECTIONS = 8  # new connections per check: the kernel spreads them over both workers


@pytest.fixture
def database() -> Iterator[str]:
    with services.own_database("pg_crl_reload") as url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)


def publish(ca: TestCa, path: Path, *revoked: Issued) -> None:
    os.replace(ca.crl(*revoked, name=f"{path.name}.new"), path)


def answers(url: str, ca: TestCa, cert: Issued, token: str) -> list[tuple[int, str]]:
    """Status and error code of the edge's sync request, each on a new connection."""
    found = []
    for _ in range(CONNECTIONS):
        with httpx.Client(verify=ClientTls(ca.cert, cert.cert, cert.key).context(), timeout=15) as client:
            response = client.get(f"{url}{SYNC_PATH}", headers={"Authorization": f"Bearer {token}"})
        found.append((response.status_code, response.json().get("code", "") if response.status_code != 200 else ""))
    return found


def until_all(url: str, ca: TestCa, cert: Issued, token: str, want: tuple[int, str], within: float) -> float:
    """Seconds until every one of a round of new connections answers ``want``."""
    started = time.monotonic()
    while (seen := answers(url, ca, cert, token)) != [want] * CONNECTIONS:
        assert time.monotonic() - started < within, seen
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.slow
def test_a_crl_given_as_a_flag_is_checked_by_every_worker_as_it_changes(tmp_path: Path, database: str) -> None:
    ca = TestCa(tmp_path, "site")
    server, office, edge = (ca.issue("central", server=True), ca.issue("office", server=False),
                            ca.issue("lakeview-edge", server=False))  # fmt: skip
    crl = tmp_path / "edges.crl"
    publish(ca, crl)
    port = free_tcp_port()
    url = f"https://127.0.0.1:{port}"
    log = tmp_path / "central.log"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PARKGATE_")}, "PYTHONPATH": str(REPO),
           "PARKGATE_DATABASE_URL": database}  # fmt: skip
    parkgate = [sys.executable, "-m", "parking.cli", "central"]
    subprocess.run([*parkgate, "migrate"], env=env, check=True, capture_output=True)
    # The admin made before (each worker would make it at its start-up, both at once, on an empty database).
    subprocess.run([*parkgate, "create-user", "admin", "--role", "admin"], check=True, capture_output=True,
                   env=env | {"PARKGATE_NEW_PASSWORD": PASSWORD})  # fmt: skip
    command = [*parkgate, "run", "--no-migrate", "--port", str(port), "--workers", "2",
               "--tls-cert", str(server.cert), "--tls-key", str(server.key), "--tls-client-ca", str(ca.cert),
               "--tls-client-crl", str(crl)]  # fmt: skip
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=stderr, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "central did not start"
            time.sleep(0.1)
        tls = ClientTls(ca.cert, office.cert, office.key).context()
        with httpx.Client(base_url=url, verify=tls, timeout=15) as admin:
            login = admin.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
            assert login.status_code == 200, login.text
            admin.headers["Authorization"] = f"Bearer {login.json()['token']}"
            assert admin.post("/api/v1/car-parks", json={"id": "lakeview", "name": "Lakeview"}).status_code == 201
            made = admin.post("/api/v1/edges", json={"id": "lakeview-edge", "car_park_id": "lakeview", "name": "PC"})
            assert made.status_code == 201, made.text
            token = made.json()["token"]
        assert answers(url, ca, edge, token) == [(200, "")] * CONNECTIONS

        publish(ca, crl, edge)
        took = until_all(url, ca, edge, token, (403, "auth.certificate_revoked"), within=3)

        (tmp_path / "forger").mkdir()
        publish(TestCa(tmp_path / "forger", "site"), crl)  # the CA's name, another key: not used
        time.sleep(1.2)
        assert answers(url, ca, edge, token) == [(403, "auth.certificate_revoked")] * CONNECTIONS

        publish(ca, crl)
        until_all(url, ca, edge, token, (200, ""), within=3)
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = log.read_text()
    assert "not_signed_by_ca" in text, text[-3000:]
    assert str(crl) in text
    print(f"all {CONNECTIONS} new connections refused {took:.2f} s after the revoking CRL was written")
