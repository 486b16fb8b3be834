"""The edge and central over TLS: real central (uvicorn with the TLS options ``parkgate central run`` gives it,
PostgreSQL) and the edge's own client (:class:`~edge.store.sync.CentralLink` with the site file's CA and client
certificate) syncing its lists and sending its journal over ``https://``. A client that does not trust the site's CA
is refused; with client certificates required, an edge without one (or with one from another CA) is refused."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
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
        self.site = TestCa(folder, "site")
        self.other = TestCa(folder, "other")
        self.server = self.site.issue("central", server=True)
        self.edge = self.site.issue("lakeview-edge", server=False)
        self.stranger = self.other.issue("stranger-edge", server=False)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@contextmanager
def tls_central(database_url: str, pki: Pki, *, client_ca: bool) -> Iterator[tuple[str, TestClient, Site]]:
    """Central served over HTTPS with the options ``central run --tls-cert --tls-key [--tls-client-ca]`` gives
    uvicorn; a car park with its edge registered (through the office's own client)."""
    engine = make_engine(database_url, pool_size=2)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(User).values(username="admin", full_name="Admin", role=Role.ADMIN.value,
                                         password_hash=hash_password(PASSWORD), active=True)
                     .on_conflict_do_nothing(index_elements=["username"]))  # fmt: skip
    args = argparse.Namespace(tls_cert=str(pki.server.cert), tls_key=str(pki.server.key),
                              tls_client_ca=str(pki.site.cert) if client_ca else None)  # fmt: skip
    options = server_tls(args)
    app = create_app(Settings(database_url=database_url, db_pool_size=4, bootstrap_admin_password=None))
    with serving(app, **options) as url, TestClient(app) as office:
        token = ok(office.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}))["token"]
        admin = {"Authorization": f"Bearer {token}"}
        site = make_site(office, admin, "tls-" + new_id()[-6:].lower())
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
        with_cert = ClientTls(ca_file=pki.site.cert, cert_file=pki.edge.cert, key_file=pki.edge.key)
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
