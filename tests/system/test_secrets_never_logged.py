"""No secret reaches a log line, at DEBUG, anywhere: real central (``parkgate --log-level DEBUG central run`` as a
process, over TLS with client certificates, PostgreSQL) and a real edge daemon (Modbus I/O-module simulators, a
camera pushing over HTTP, its booth console) that signs operators in with right and wrong PINs, syncs and sends its
journal, then has its token refused by central (rotated at the office) and finds central gone.

Everything is captured: every logger of the test process at DEBUG (caplog, with the handler also on loggers that do
not propagate), the test process's own stdout and stderr (capfd), and central's stderr. None of it may hold the
edge's token (the old or the rotated one), the office's passwords (right and wrong), the office session token, or
the booth PINs (right and wrong)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import PIPE

import httpx
import pytest

from edge.booth.operators import Role
from edge.daemon import EdgeDaemon
from parking.tls import ClientTls
from parking.wire import INGEST_PATH, SYNC_PATH
from tests import services
from tests.central.scenario import Site, make_holder, make_plan, make_site, ok
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, push_isapi, sims, until, write_site
from tests.pki import Issued, TestCa
from tests.services import port_open

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["sims"]  # fixture: the lanes' I/O modules over Modbus TCP

REPO = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "Correct-Horse-Battery-Staple-8142"
WRONG_PASSWORD = "Wrong-Horse-Battery-Staple-5307"
PINS = {"c01": "73915286", "s01": "62840517"}
WRONG_PIN = "40617395"


@dataclass
class Central:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    office_cert: Issued
    ca: TestCa


def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    """caplog at DEBUG on every logger there is now, its handler also on those that do not propagate to the root
    (taken off again by :func:`no_capture_left`)."""
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)
            if not logger.propagate and caplog.handler not in logger.handlers:
                logger.addHandler(caplog.handler)


@pytest.fixture
def no_capture_left(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    yield
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and caplog.handler in logger.handlers:
            logger.removeHandler(caplog.handler)


@pytest.fixture
def pki(tmp_path: Path) -> TestCa:
    folder = tmp_path / "tls"
    folder.mkdir()
    return TestCa(folder, "site")


@pytest.fixture
def database() -> Iterator[str]:
    """A PostgreSQL database of this test's own (each test registers the same car park and edge)."""
    with services.own_database("pg_secrets") as url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def central(tmp_path: Path, pki: TestCa, database: str) -> Iterator[Central]:
    server = pki.issue("central", server=True)
    port = free_port()
    log = tmp_path / "central.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PARKGATE_DATABASE_URL": database,
           "PARKGATE_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
           "PARKGATE_TLS_CLIENT_CA_FILE": str(pki.cert)}  # the setting; the certificate and key are flags  # fmt: skip
    command = [sys.executable, "-m", "parking.cli", "--log-level", "DEBUG", "central", "run", "--port", str(port),
               "--tls-cert", str(server.cert), "--tls-key", str(server.key)]  # fmt: skip
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=stderr, stderr=subprocess.STDOUT, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not port_open("127.0.0.1", port):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "central did not start"
        time.sleep(0.1)
    try:
        yield Central(f"https://127.0.0.1:{port}", process, log, pki.issue("office", server=False), pki)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=15)


def office_client(central: Central) -> httpx.Client:
    tls = ClientTls(central.ca.cert, central.office_cert.cert, central.office_cert.key)
    return httpx.Client(base_url=central.url, verify=tls.context(), timeout=15)


def prepare_office(office: httpx.Client, secrets: dict[str, str]) -> tuple[dict[str, str], Site]:
    """Office work with every credential there is: API logins and office console sign-ins with the right and a wrong
    password, then a car park with its edge and a pass sold (for the list sync)."""
    wrong = office.post("/api/v1/auth/login", json={"username": "admin", "password": WRONG_PASSWORD})
    assert wrong.status_code == 401
    session = ok(office.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}))
    admin = {"Authorization": f"Bearer {session['token']}"}
    secrets["office session token"] = session["token"]
    for password, status in ((WRONG_PASSWORD, 401), (ADMIN_PASSWORD, 303)):  # the office console's form
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', office.get("/office/sign-in").text)
        assert csrf is not None
        form = {"csrf_token": csrf[1], "username": "admin", "password": password}
        assert office.post("/office/sign-in", data=form).status_code == status
    secrets |= {f"office cookie {name}": value for name, value in office.cookies.items() if len(value) >= 16}
    assert any(name.startswith("office cookie") for name in secrets)
    site = make_site(office, admin)  # type: ignore[arg-type]  # the same calls as a TestClient's
    secrets["edge token"] = site.edge_token
    holder = make_holder(office, admin)  # type: ignore[arg-type]
    plan = make_plan(office, admin, [site.car_park])  # type: ignore[arg-type]
    ok(office.post("/api/v1/passes", headers=admin, json={"holder_id": holder, "plan_id": plan,
                                                           "plates": ["粤B3R7K2"]}), 201)  # fmt: skip
    return admin, site


def edge_site_file(tmp_path: Path, central: Central, site: Site, sims: tuple[SimLane, SimLane], cameras: int) -> Path:
    """The edge's site file: the simulated lanes, central over TLS with the edge's client certificate."""
    edge_cert = central.ca.issue("lakeview-edge", server=False)
    site_file = write_site(tmp_path, sims[0].port, sims[1].port, central.url, cameras)
    files = {"ca_file": central.ca.cert, "cert_file": edge_cert.cert, "key_file": edge_cert.key}
    tls = "".join(f'{key} = "{path.relative_to(tmp_path)}"\n' for key, path in files.items())
    text = re.sub(r'(?m)^token = ".*"$', f'token = "{site.edge_token}"\n{tls}', site_file.read_text(), count=1)
    site_file.write_text(text)
    return site_file


def assert_central_saw_it_all(central_log: str) -> None:
    """Central's log is there and logged the requests and refusals (so a missing secret means something)."""
    assert f'"POST {INGEST_PATH} HTTP/1.1" 200' in central_log, central_log[-3000:]
    assert f'"POST {INGEST_PATH} HTTP/1.1" 401' in central_log
    assert f"GET {SYNC_PATH}" in central_log
    assert '"POST /api/v1/auth/login HTTP/1.1" 401' in central_log
    assert "office sign-in refused for 'admin'" in central_log


def leaks(secrets: dict[str, str], logs: dict[str, str]) -> list[str]:
    """Where each secret shows up, with what came before it (the secret itself replaced by its name)."""
    return [
        f"{what} in {where}: ...{text[max(0, text.index(secret) - 160) : text.index(secret)]}<{what}>..."
        for where, text in logs.items()
        for what, secret in secrets.items()
        if secret in text
    ]


@pytest.mark.usefixtures("no_capture_left")
async def test_no_token_password_or_pin_reaches_any_log(
    tmp_path: Path, sims: tuple[SimLane, SimLane], central: Central, caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    capture_everything(caplog)
    secrets = {"admin password": ADMIN_PASSWORD, "wrong password": WRONG_PASSWORD, "wrong PIN": WRONG_PIN}
    secrets |= {f"PIN of {operator}": pin for operator, pin in PINS.items()}
    entry = sims[0]
    with office_client(central) as office:
        admin, site = prepare_office(office, secrets)
        cameras = free_port()
        daemon: EdgeDaemon = daemon_for(edge_site_file(tmp_path, central, site, sims, cameras))
        assert site.edge_token not in repr(daemon.site)  # nor in a repr a log line might hold
        assert daemon.desk is not None
        for operator, pin in PINS.items():
            role = Role.COLLECTOR if operator.startswith("c") else Role.SUPERVISOR
            daemon.desk.operators.add(operator, operator, role, pin, by="test")
        await daemon.start()
        try:
            capture_everything(caplog)  # loggers the daemon made as it started
            await until(lambda: online(daemon), what="devices online")
            outbox, sync = daemon.outbox, daemon.sync
            assert outbox is not None
            assert sync is not None
            await until(lambda: bool(daemon.holder.directory.passes_by_plate.exact("粤B3R7K2")), within=30,
                        what="the pass synced over TLS")  # fmt: skip
            await booth_sign_ins(f"http://127.0.0.1:{daemon.metrics_port}")
            await push_isapi(cameras, "粤A10001", 96)
            entry.drive_up()
            await until(lambda: entry.model.passed == 1, within=30, what="vehicle through the entry")
            await until(lambda: daemon.journal.backlog() == 0, within=30, what="the journal at central over TLS")

            # Central refuses the token: rotated at the office (the new one never goes to the edge).
            secrets["rotated edge token"] = ok(office.post(f"/api/v1/edges/{site.edge}/token", headers=admin))["token"]
            sync.wake()
            await push_isapi(cameras, "粤A10002", 96)
            entry.drive_up()
            await until(lambda: entry.model.passed == 2, within=30, what="the second vehicle through the entry")
            await until(lambda: "HTTP 401" in (outbox.last_error or ""), within=30, what="the token refused")
            await until(lambda: sync.failures >= 1, within=30, what="the list sync refused")

            # Central gone (killed: a graceful stop would wait for the edge's keep-alive connections).
            central.process.kill()
            central.process.wait(timeout=15)
            await until(lambda: "ConnectError" in (outbox.last_error or ""), within=60,
                        what="central unreachable")  # fmt: skip
        finally:
            await daemon.stop()

    out, err = capfd.readouterr()
    central_log = central.log.read_text(encoding="utf-8", errors="replace")
    edge_log = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''} {vars(r)!r}"
                         for r in caplog.records)  # fmt: skip
    assert_central_saw_it_all(central_log)
    assert "HTTP 401" in edge_log
    assert "ConnectError" in edge_log
    assert "/console/api/sign-in" in edge_log  # the console's access log
    assert leaks(secrets, {"central's log": central_log, "the edge's log records": edge_log,
                           "the test process's stdout": out, "the test process's stderr": err}) == []  # fmt: skip


async def booth_sign_ins(console: str) -> None:
    """A wrong PIN, then each operator with theirs, at the booth console."""
    async with httpx.AsyncClient(base_url=console, timeout=10) as booth:
        refused = await booth.post("/console/api/sign-in", json={"operator": "c01", "pin": WRONG_PIN})
        assert refused.status_code == 401
        for operator, pin in PINS.items():
            signed = await booth.post("/console/api/sign-in", json={"operator": operator, "pin": pin})
            assert signed.status_code == 200, signed.text


def at_central(office: httpx.Client, admin: dict[str, str], site: Site, plate: str) -> bool:
    """Central holds a record of the edge's naming ``plate``."""
    records = ok(office.get("/api/v1/records", params={"edge_id": site.edge, "limit": 500}, headers=admin))
    return any(record["payload"].get("plate") == plate for record in records)


def metric(console: str, name: str) -> float:
    text = httpx.get(f"{console}/metrics", timeout=5).text
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name) and " " in line]
    return values[0] if values else -1.0


async def test_parkgate_edge_run_logs_no_token_or_pin(
    tmp_path: Path, sims: tuple[SimLane, SimLane], central: Central, capfd: pytest.CaptureFixture[str]
) -> None:
    """The same with the edge as ``parkgate --log-level DEBUG edge run`` (its operators added by ``parkgate edge
    operator add``, the PIN on standard input): everything it writes to stdout and stderr is searched."""
    secrets = {"admin password": ADMIN_PASSWORD, "wrong password": WRONG_PASSWORD, "wrong PIN": WRONG_PIN}
    secrets |= {f"PIN of {operator}": pin for operator, pin in PINS.items()}
    entry = sims[0]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    parkgate = [sys.executable, "-m", "parking.cli", "--log-level", "DEBUG"]
    with office_client(central) as office:
        admin, site = prepare_office(office, secrets)
        cameras, listen = free_port(), free_port()
        site_file = edge_site_file(tmp_path, central, site, sims, cameras)
        provisioning = ""
        for operator, pin in PINS.items():
            role = "collector" if operator.startswith("c") else "supervisor"
            added = await asyncio.create_subprocess_exec(
                *parkgate, "edge", "operator", "add", "--config", str(site_file), "--id", operator, "--name",
                operator, "--role", role, env=env, stdin=PIPE, stdout=PIPE, stderr=subprocess.STDOUT,
            )  # fmt: skip
            said, _ = await asyncio.wait_for(added.communicate(f"{pin}\n".encode()), 60)
            assert added.returncode == 0, said
            provisioning += said.decode()
        log = tmp_path / "edge.log"
        with log.open("wb") as output:
            edge = await asyncio.create_subprocess_exec(
                *parkgate, "edge", "run", "--config", str(site_file), "--listen", f"127.0.0.1:{listen}",
                "--synchronous", "NORMAL", "--drain-timeout", "5", env=env, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        console = f"http://127.0.0.1:{listen}"
        try:
            deadline = time.monotonic() + 60
            while not port_open("127.0.0.1", listen):
                assert edge.returncode is None, log.read_text()
                assert time.monotonic() < deadline, "the edge did not start"
                await asyncio.sleep(0.1)
            await until(lambda: metric(console, "parkgate_edge_lists_version") > 0, within=30,
                        what="the lists synced over TLS")  # fmt: skip
            await booth_sign_ins(console)
            await push_isapi(cameras, "粤A10001", 96)
            entry.drive_up()
            await until(lambda: entry.model.passed == 1, within=30, what="vehicle through the entry")
            await until(lambda: at_central(office, admin, site, "粤A10001"), within=30,
                        what="the entry at central over TLS")  # fmt: skip

            secrets["rotated edge token"] = ok(office.post(f"/api/v1/edges/{site.edge}/token", headers=admin))["token"]
            await push_isapi(cameras, "粤A10002", 96)
            entry.drive_up()
            await until(lambda: entry.model.passed == 2, within=30, what="the second vehicle through the entry")
            await until(lambda: "HTTP 401" in log.read_text(errors="replace"), within=30, what="the token refused")
            central.process.kill()
            central.process.wait(timeout=15)
            await until(lambda: "ConnectError" in log.read_text(errors="replace"), within=60,
                        what="central unreachable")  # fmt: skip
        finally:
            if edge.returncode is None:
                edge.terminate()  # SIGTERM: the lanes drain, the edge stops
            try:
                await asyncio.wait_for(edge.wait(), 30)
            except TimeoutError:
                edge.kill()
                await edge.wait()
    assert edge.returncode == 0, log.read_text()[-3000:]
    out, err = capfd.readouterr()
    edge_log = log.read_text(encoding="utf-8", errors="replace")
    central_log = central.log.read_text(encoding="utf-8", errors="replace")
    assert_central_saw_it_all(central_log)
    assert "DEBUG" in edge_log
    assert "/console/api/sign-in" in edge_log  # the console's access log
    assert leaks(secrets, {"central's log": central_log, "`parkgate edge run`'s output": edge_log,
                           "`parkgate edge operator add`'s output": provisioning, "the test process's stdout": out,
                           "the test process's stderr": err}) == []  # fmt: skip
