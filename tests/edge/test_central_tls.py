"""The edge and central over TLS: real central (uvicorn with the TLS options ``parkgate central run`` gives it,
PostgreSQL) and the edge's own client (:class:`~edge.store.sync.CentralLink` with the site file's CA and client
certificate) syncing its lists and sending its journal over ``https://``. A client that does not trust the site's CA
is refused; with client certificates required, an edge without one (or with one from another CA, or one the CA's
revocation list names) is refused in the handshake, an edge's token with another edge's certificate is refused
with ``auth.certificate_mismatch``, and a certificate revoked while central runs with ``auth.certificate_revoked``."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from fastapi.testclient import TestClient
from sqlalchemy.dialects.postgresql import insert

from central.cli import server_tls
from central.core.config import Settings
from central.core.db import make_engine
from central.core.migrate import upgrade
from central.core.security import Role, hash_password
from central.main import create_app
from central.models import User
from edge.lanes.actions import Draft
from edge.store.journal import Journal
from edge.store.lists import ListStore
from edge.store.sync import CentralError, CentralLink, ListSync, Outbox
from parking.ids import new_id
from parking.tls import ClientTls
from parking.wire import SYNC_PATH, RecordKind
from tests.central.scenario import Site, make_holder, make_plan, make_site, ok
from tests.pki import Issued, TestCa
from tests.services import serving

pytestmark = pytest.mark.postgres
PASSWORD = "correct horse battery"


class Pki:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.site = TestCa(folder, "site")
        self.other = TestCa(folder, "other")
        self.server = self.site.issue("central", server=True)
        self.stranger = self.other.issue("stranger-edge", server=False)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@contextmanager
def tls_central(
    database_url: str, pki: Pki, *, client_ca: bool, crl: Path | None = None, edge: str | None = None
) -> Iterator[tuple[str, TestClient, Site]]:
    """Central served over HTTPS with the options ``central run --tls-cert --tls-key [--tls-client-ca
    [--tls-client-crl]]`` gives uvicorn, and the settings it gives the app (the client CA and CRL files among
    them); a car park with its edge registered (through the office's own client)."""
    engine = make_engine(database_url, pool_size=2)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(User).values(username="admin", full_name="Admin", role=Role.ADMIN.value,
                                         password_hash=hash_password(PASSWORD), active=True)
                     .on_conflict_do_nothing(index_elements=["username"]))  # fmt: skip
    args = argparse.Namespace(tls_cert=str(pki.server.cert), tls_key=str(pki.server.key),
                              tls_client_ca=str(pki.site.cert) if client_ca else None,
                              tls_client_crl=str(crl) if crl else None)  # fmt: skip
    options = server_tls(args)
    app = create_app(Settings(database_url=database_url, db_pool_size=4, bootstrap_admin_password=None,
                              edge_client_certificates=client_ca, tls_client_ca_file=args.tls_client_ca,
                              tls_client_crl_file=args.tls_client_crl))  # fmt: skip
    with serving(app, **options) as url, TestClient(app) as office:
        token = ok(office.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}))["token"]
        admin = {"Authorization": f"Bearer {token}"}
        site = make_site(office, admin, (edge or "tls-" + new_id()[-6:].lower()).removesuffix("-edge"), edge)
        holder = make_holder(office, admin)
        plan = make_plan(office, admin, [site.car_park])
        ok(office.post("/api/v1/passes", headers=admin, json={"holder_id": holder, "plan_id": plan,
                                                                "plates": ["粤B3R7K2"]}), 201)  # fmt: skip
        yield url, office, site
    engine.dispose()


def journal_with_records(folder: Path, car_park: str, count: int) -> Journal:
    folder.mkdir(exist_ok=True)
    journal = Journal(folder / "journal.sqlite3", car_park)
    for n in range(count):
        payload = {"action": "manual_open", "operator": "c01", "reason": f"test {n}"}
        journal.commit([Draft(id=new_id(), kind=RecordKind.MANUAL_ACTION, lane="out-1", at=datetime.now(UTC),
                              payload=payload)])  # fmt: skip
    return journal


async def sync_and_send(link: CentralLink, folder: Path, site: Site) -> tuple[int, int]:
    """The edge's two conversations over ``link``: pages applied, records settled."""
    journal = journal_with_records(folder, site.car_park, 3)
    store = ListStore(folder / "lists.sqlite3")
    async with link.client() as client:
        pages = await ListSync(store, client, site.car_park, lambda _d: None).pull_once()
        settled = await Outbox(journal, client, site.edge).send_once()
    assert journal.backlog() == 0
    assert store.directory(site.car_park).passes_by_plate.exact("粤B3R7K2")
    return pages, settled


async def refused(link: CentralLink, folder: Path, site: Site) -> str:
    """What the edge's outbox says when central cannot be spoken to over ``link``; nothing is marked sent."""
    journal = journal_with_records(folder, site.car_park, 1)
    async with link.client() as client:
        with pytest.raises(CentralError) as caught:
            await Outbox(journal, client, site.edge).send_once()
    assert journal.backlog() == 1
    return str(caught.value)


async def test_an_edge_syncs_and_ingests_over_https_and_a_client_without_the_ca_is_refused(
    tmp_path: Path, pki: Pki, postgres_sqlalchemy_url: str
) -> None:
    with tls_central(postgres_sqlalchemy_url, pki, client_ca=False) as (url, _office, site):
        assert url.startswith("https://")
        trusted = CentralLink(url, site.edge, site.edge_token, tls=ClientTls(ca_file=pki.site.cert))
        assert await sync_and_send(trusted, tmp_path / "trusted", site) == (1, 3)

        system_cas = CentralLink(url, site.edge, site.edge_token)  # the system's CAs do not know the site's CA
        assert "CERTIFICATE_VERIFY_FAILED" in await refused(system_cas, tmp_path / "system", site)
        other_ca = CentralLink(url, site.edge, site.edge_token, tls=ClientTls(ca_file=pki.other.cert))
        assert "CERTIFICATE_VERIFY_FAILED" in await refused(other_ca, tmp_path / "other", site)
        plain = CentralLink(url.replace("https://", "http://"), site.edge, site.edge_token)
        assert "ingest:" in await refused(plain, tmp_path / "plain", site)  # plain HTTP to the TLS port


async def test_central_requiring_client_certificates_refuses_an_edge_without_one(
    tmp_path: Path, pki: Pki, postgres_sqlalchemy_url: str
) -> None:
    with tls_central(postgres_sqlalchemy_url, pki, client_ca=True) as (url, _office, site):
        edge = pki.site.issue(site.edge, server=False)  # issued to the edge's id, as the registry expects
        with_cert = ClientTls(ca_file=pki.site.cert, cert_file=edge.cert, key_file=edge.key)
        link = CentralLink(url, site.edge, site.edge_token, tls=with_cert)
        assert await sync_and_send(link, tmp_path / "with-cert", site) == (1, 3)

        def edge_with(cert: Issued | None) -> CentralLink:
            tls = ClientTls(pki.site.cert, cert.cert, cert.key) if cert is not None else ClientTls(pki.site.cert)
            return CentralLink(url, site.edge, site.edge_token, tls=tls)

        without = await refused(edge_with(None), tmp_path / "without", site)
        stranger = await refused(edge_with(pki.stranger), tmp_path / "stranger", site)
        for why in (without, stranger):  # refused in the handshake, before any request reached the API
            assert "HTTP " not in why, why
        # The token alone is not enough either: the same token from a client without a certificate.
        async with httpx.AsyncClient(verify=ClientTls(ca_file=pki.site.cert).context()) as bare:
            with pytest.raises(httpx.HTTPError):
                await bare.get(f"{url}{SYNC_PATH}", headers=site.edge_headers)


def metric(office: TestClient, admin: dict[str, str], code: str) -> float:
    text = office.get("/metrics", headers=admin).text
    line = f'parkgate_central_edge_auth_refused_total{{code="{code}"}} '
    return sum(float(row.removeprefix(line)) for row in text.splitlines() if row.startswith(line))


async def test_an_edges_token_is_taken_only_with_that_edges_own_certificate(
    tmp_path: Path, pki: Pki, postgres_sqlalchemy_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two edges with certificates from the same CA: each passes with its own; edge A's token with edge B's
    certificate is refused (403 ``auth.certificate_mismatch`` naming A, logged, counted) and stores nothing; with a
    fingerprint pinned, another certificate issued to A's id is refused too; and the token on a listener that asks
    no certificate (here the office's test client) is refused with ``auth.certificate_missing``."""
    with tls_central(postgres_sqlalchemy_url, pki, client_ca=True) as (url, office, site_a):
        admin = {"Authorization": "Bearer " + ok(office.post("/api/v1/auth/login", json={
            "username": "admin", "password": PASSWORD}))["token"]}  # fmt: skip
        site_b = make_site(office, admin, site_a.car_park, edge=f"{site_a.edge}-b")
        cert_a, cert_b = pki.site.issue(site_a.edge, server=False), pki.site.issue(site_b.edge, server=False)
        assert await sync_and_send(tls_link(url, site_a, pki, cert_a), tmp_path / "a", site_a) == (1, 3)
        assert await sync_and_send(tls_link(url, site_b, pki, cert_b), tmp_path / "b", site_b) == (1, 3)

        before = metric(office, admin, "auth.certificate_mismatch")
        with caplog.at_level(logging.WARNING, logger="central.api.deps"):
            why = await refused(tls_link(url, site_a, pki, cert_b), tmp_path / "a-with-b", site_a)
            body = await answer(url, site_a, pki, cert_b)
        assert "HTTP 403" in why, why
        assert "auth.certificate_mismatch" in why, why
        assert body["code"] == "auth.certificate_mismatch"
        assert f"not issued to edge {site_a.edge!r}" in body["message"]
        assert repr(site_b.edge) in body["message"]
        assert body["detail"]["edge"] == site_a.edge
        assert body["detail"]["certificate_sha256"] == sha256_of(cert_b)
        assert any(site_a.edge in r.getMessage() and "auth.certificate_mismatch" in r.getMessage()
                   for r in caplog.records)  # fmt: skip
        assert metric(office, admin, "auth.certificate_mismatch") == before + 2

        # Pinned: a second certificate for A's id (say, from a stolen CA key) is not A's.
        spare = pki.site.issue(site_a.edge, server=False, file=f"{site_a.edge}-spare")
        colons = ":".join(f"{b:02X}" for b in bytes.fromhex(sha256_of(cert_a)))  # as openssl prints it
        pinned = ok(office.put(f"/api/v1/edges/{site_a.edge}/certificate", headers=admin, json={"sha256": colons}))
        assert pinned["cert_sha256"] == sha256_of(cert_a)
        spare_body = await answer(url, site_a, pki, spare)
        assert spare_body["code"] == "auth.certificate_mismatch", spare_body
        assert "not the one pinned" in spare_body["message"]
        assert await sync_and_send(tls_link(url, site_a, pki, cert_a), tmp_path / "a-pinned", site_a) == (1, 3)
        audit = ok(office.get("/api/v1/audit", headers=admin, params={"entity": "edge", "entity_id": site_a.edge}))
        assert [(row["username"], row["after"]["cert_sha256"]) for row in audit
                if row["action"] == "edge.certificate"] == [("admin", sha256_of(cert_a))], audit  # fmt: skip

        # A listener without client certificates (the office's process) does not take an edge's token at all.
        missing = office.get(SYNC_PATH, headers=site_a.edge_headers)
        assert missing.status_code == 403, missing.text
        assert missing.json()["code"] == "auth.certificate_missing"


async def test_a_certificate_the_revocation_list_names_fails_the_handshake(
    tmp_path: Path, pki: Pki, postgres_sqlalchemy_url: str
) -> None:
    """Central with ``--tls-client-crl``: the edge's certificate the CA revoked (a stolen edge box) cannot connect at
    all, a fresh certificate for the same edge syncs."""
    edge = f"tls-{new_id()[-6:].lower()}-edge"
    stolen = pki.site.issue(edge, server=False, file=f"{edge}-stolen")
    fresh = pki.site.issue(edge, server=False, file=f"{edge}-fresh")
    crl = pki.site.crl(stolen, name=f"{edge}.crl")
    with tls_central(postgres_sqlalchemy_url, pki, client_ca=True, crl=crl, edge=edge) as (url, _office, site):
        assert await sync_and_send(tls_link(url, site, pki, fresh), tmp_path / "fresh", site) == (1, 3)
        why = await refused(tls_link(url, site, pki, stolen), tmp_path / "stolen", site)
        assert "HTTP " not in why, why  # the handshake failed: no request reached the API
        # Over TLS 1.2 the server verifies the client's certificate within the handshake, which then fails (asyncio
        # closes without sending the alert, so the client hears no reason: the fresh certificate above, same CA and
        # same edge, is the control).
        tls12 = ClientTls(pki.site.cert, stolen.cert, stolen.key).context()
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, pytest.raises(ssl.SSLError):
            tls12.wrap_socket(raw, server_hostname="127.0.0.1")
        tls12.load_cert_chain(fresh.cert, fresh.key)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            tls12.wrap_socket(raw, server_hostname="127.0.0.1").close()


def tls_link(url: str, site: Site, pki: Pki, cert: Issued) -> CentralLink:
    return CentralLink(url, site.edge, site.edge_token, tls=ClientTls(pki.site.cert, cert.cert, cert.key))


async def answer(url: str, site: Site, pki: Pki, cert: Issued) -> dict[str, Any]:
    """Central's error body for a sync request with ``site``'s token and ``cert`` (the request must be refused)."""
    async with httpx.AsyncClient(verify=ClientTls(pki.site.cert, cert.cert, cert.key).context()) as client:
        response = await client.get(f"{url}{SYNC_PATH}", headers=site.edge_headers)
    assert response.status_code == 403, response.text
    body: dict[str, Any] = response.json()
    return body


def sha256_of(cert: Issued) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.cert.read_text())).hexdigest()


def publish_crl(ca: TestCa, path: Path, *revoked: Issued) -> None:
    """``ca``'s CRL revoking ``revoked`` written to ``path`` as an operator should: a new file renamed over it."""
    os.replace(ca.crl(*revoked, name=f"{path.name}.new"), path)


def crl_metric(office: TestClient, admin: dict[str, str], name: str) -> float:
    rows = [row for row in office.get("/metrics", headers=admin).text.splitlines() if row.startswith(name)]
    return sum(float(row.rsplit(" ", 1)[1]) for row in rows)


async def until_status(client: httpx.AsyncClient, url: str, site: Site, status: int, within: float) -> httpx.Response:
    """The first answer with ``status`` to the edge's sync request on ``client`` (its open connection), polled every
    0.1 s; fails after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        response = await client.get(f"{url}{SYNC_PATH}", headers=site.edge_headers)
        if response.status_code == status:
            return response
        assert time.monotonic() < deadline, f"still {response.status_code} after {within} s: {response.text}"
        await asyncio.sleep(0.1)


def local_port(response: httpx.Response) -> int:
    """The client's port of the connection that carried ``response`` (the same one: the same connection)."""
    port: int = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    return port


async def test_a_certificate_revoked_while_central_runs_is_refused_on_the_next_request(
    tmp_path: Path, pki: Pki, postgres_sqlalchemy_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Central started with a CRL that revokes nothing: the edge syncs. The operator publishes a CRL revoking the
    edge's certificate: within 2 s the next request (on the connection already open, and on a new one, whose
    handshake still passes) is refused with 403 ``auth.certificate_revoked`` naming the certificate, its serial and
    revocation time, logged and counted. A CRL signed by another key (with the CA's name) written then is refused
    (an error naming the file, counted) and the revocation stays. A good CRL without the serial lets it in again."""
    edge = f"tls-{new_id()[-6:].lower()}-edge"
    cert = pki.site.issue(edge, server=False, file=f"{edge}-live")
    crl = tmp_path / "edges.crl"
    publish_crl(pki.site, crl)
    with tls_central(postgres_sqlalchemy_url, pki, client_ca=True, crl=crl, edge=edge) as (url, office, site):
        admin = {"Authorization": "Bearer " + ok(office.post("/api/v1/auth/login", json={
            "username": "admin", "password": PASSWORD}))["token"]}  # fmt: skip
        assert await sync_and_send(tls_link(url, site, pki, cert), tmp_path / "before", site) == (1, 3)
        loaded = crl_metric(office, admin, "parkgate_central_tls_crl_loaded_timestamp_seconds")
        assert loaded > 0
        refused_before = metric(office, admin, "auth.certificate_revoked")
        tls = ClientTls(pki.site.cert, cert.cert, cert.key).context()
        async with httpx.AsyncClient(verify=tls, timeout=10) as kept:
            first = await kept.get(f"{url}{SYNC_PATH}", headers=site.edge_headers)
            assert first.status_code == 200, first.text

            publish_crl(pki.site, crl, cert)
            written = time.monotonic()
            with caplog.at_level(logging.WARNING, logger="central.api.deps"):
                revoked = await until_status(kept, url, site, 403, within=2.5)
            took = time.monotonic() - written
            assert local_port(revoked) == local_port(first)  # the keep-alive connection opened before
            body = revoked.json()
            serial = f"{x509.load_pem_x509_certificate(cert.cert.read_bytes()).serial_number:X}"
            assert body["code"] == "auth.certificate_revoked", body
            assert repr(edge) in body["message"], body
            assert sha256_of(cert) in body["message"], body
            assert f"serial {serial}" in body["message"], body
            assert "revoked at " in body["message"], body
            assert body["detail"] == {"edge": edge, "certificate_sha256": sha256_of(cert), "serial": serial,
                                      "revoked_at": body["detail"]["revoked_at"]}  # fmt: skip
            assert datetime.fromisoformat(body["detail"]["revoked_at"]) < datetime.now(UTC)
            assert any("auth.certificate_revoked" in r.getMessage() and edge in r.getMessage()
                       for r in caplog.records)  # fmt: skip
            why = await refused(tls_link(url, site, pki, cert), tmp_path / "revoked", site)  # a new connection
            assert "HTTP 403" in why, why
            assert "auth.certificate_revoked" in why, why
            assert metric(office, admin, "auth.certificate_revoked") == refused_before + 2
            assert crl_metric(office, admin, "parkgate_central_tls_crl_loaded_timestamp_seconds") > loaded

            # Someone with write access to the file but not the CA's key tries to un-revoke it.
            forger = TestCa(tmp_path, "site")  # the CA's name, another key
            refused_name = 'parkgate_central_tls_crl_reloads_refused_total{reason="not_signed_by_ca"}'
            with caplog.at_level(logging.ERROR, logger="central.core.revocation"):
                publish_crl(forger, crl)
                deadline = time.monotonic() + 2.5
                while crl_metric(office, admin, refused_name) < 1:
                    assert time.monotonic() < deadline, "the forged CRL was not looked at"
                    await asyncio.sleep(0.1)
                still = await kept.get(f"{url}{SYNC_PATH}", headers=site.edge_headers)
            assert still.status_code == 403, still.text
            assert still.json()["code"] == "auth.certificate_revoked", still.text
            assert crl_metric(office, admin, refused_name) == 1
            [error] = [r.getMessage() for r in caplog.records if r.name == "central.core.revocation"
                       and r.levelno == logging.ERROR]  # fmt: skip
            assert str(crl) in error, error
            assert "not_signed_by_ca" in error, error
            assert "key did not sign it" in error, error

            publish_crl(pki.site, crl)  # revoked by mistake: a new list without it
            back = await until_status(kept, url, site, 200, within=2.5)
            assert local_port(back) == local_port(first)
        assert await sync_and_send(tls_link(url, site, pki, cert), tmp_path / "after", site) == (1, 3)
    print(f"revocation refused {took:.2f} s after the CRL was written")
    assert took < 2.0
