"""The client CA's revocation list read again when its file changes (``central.core.revocation``): real CRL files
made with ``cryptography``, the clock injected. A list that cannot be used (not a CRL, signed by another key, older
than the one in force, gone) leaves the last good one in force, logged once and counted; one past its next update is
used, with one warning per file version."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import pytest

from central.core.revocation import RevocationList
from central.core.tls import PeerCertificate, peer_certificate
from parking.tls import CrlRefusedError
from tests.pki import Issued, TestCa


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def peer(issued: Issued) -> PeerCertificate:
    return peer_certificate(issued.cert.read_text())


def publish(ca: TestCa, path: Path, *revoked: Issued, next_update: timedelta = timedelta(days=1)) -> None:
    """Write ``ca``'s CRL to ``path`` the way an operator should: a new file renamed over the old one."""
    os.replace(ca.crl(*revoked, next_update=next_update, name=f"{path.name}.new"), path)


def errors(caplog: pytest.LogCaptureFixture, level: int = logging.ERROR) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "central.core.revocation" and r.levelno == level]


def test_a_revocation_written_later_is_seen_after_the_interval(tmp_path: Path) -> None:
    ca = TestCa(tmp_path, "site")
    edge, other = ca.issue("lakeview-edge", server=False), ca.issue("hillside-edge", server=False)
    crl = tmp_path / "edges.crl"
    publish(ca, crl)
    clock = Clock()
    revocations = RevocationList(crl, ca.cert, clock=clock)
    assert revocations.revocation(peer(edge)) is None

    publish(ca, crl, edge)
    clock.now += 0.5  # the file is looked at once a second at most
    assert revocations.revocation(peer(edge)) is None
    clock.now += 0.6
    revoked = revocations.revocation(peer(edge))
    assert revoked is not None
    assert revoked.serial == peer(edge).serial
    assert revoked.serial_hex == f"{peer(edge).serial:X}"
    assert revoked.revoked_at.tzinfo is not None
    assert revocations.revocation(peer(other)) is None
    assert revocations.in_force.revoked.keys() == {peer(edge).serial}

    publish(ca, crl)  # un-revoked (say, revoked by mistake)
    clock.now += 1.1
    assert revocations.revocation(peer(edge)) is None
    assert not revocations.refused


def test_a_certificate_of_another_ca_with_the_same_serial_is_not_revoked_by_this_list(tmp_path: Path) -> None:
    ca, other_ca = TestCa(tmp_path, "site"), TestCa(tmp_path, "other")
    edge = ca.issue("lakeview-edge", server=False)
    crl = tmp_path / "edges.crl"
    publish(ca, crl, edge)
    revocations = RevocationList(crl, ca.cert)
    same_serial = PeerCertificate(("lakeview-edge",), (), "00" * 32, other_ca.certificate.subject, peer(edge).serial)
    assert revocations.revocation(same_serial) is None
    assert revocations.revocation(peer(edge)) is not None


@pytest.mark.parametrize(
    ("bad", "reason", "says"),
    [
        ("forged", "not_signed_by_ca", "key did not sign it"),
        ("other_ca", "not_signed_by_ca", "not of the client CA"),
        ("garbage", "not_a_crl", "not a PEM certificate revocation list"),
        ("older", "older", "before the list in force"),
        ("gone", "unreadable", "missing or cannot be read"),
    ],
)
def test_a_list_that_cannot_be_used_leaves_the_last_good_one_in_force(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, bad: str, reason: str, says: str
) -> None:
    ca = TestCa(tmp_path, "site")
    edge = ca.issue("lakeview-edge", server=False)
    crl = tmp_path / "edges.crl"
    publish(ca, crl, edge)
    clock = Clock()
    revocations = RevocationList(crl, ca.cert, clock=clock)
    loaded_at = revocations.in_force.loaded_at
    (tmp_path / "forger").mkdir()
    if bad == "forged":  # the CA's name, another key: nobody may un-revoke without the CA's key
        publish(TestCa(tmp_path / "forger", "site"), crl)
    elif bad == "other_ca":
        publish(TestCa(tmp_path / "forger", "other"), crl)
    elif bad == "garbage":
        crl.write_text("-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n")
    elif bad == "older":  # issued before the list in force (an old file put back), without the revocation
        publish(ca, crl, next_update=-timedelta(hours=1))
    else:
        crl.unlink()
    with caplog.at_level(logging.INFO, logger="central.core.revocation"):
        for _ in range(3):  # one error for the file version, not one a second
            clock.now += 1.1
            assert revocations.revocation(peer(edge)) is not None
    assert revocations.refused == {reason: 1}
    assert revocations.in_force.loaded_at == loaded_at
    [error] = errors(caplog)
    assert str(crl) in error, error
    assert f"({reason})" in error, error
    assert says in error, error
    assert "stays in force" in error

    publish(ca, crl)  # a good list again is taken
    clock.now += 1.1
    assert revocations.revocation(peer(edge)) is None
    assert revocations.refused == {reason: 1}


def test_a_list_past_its_next_update_is_used_with_one_warning_per_file_version(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ca = TestCa(tmp_path, "site")
    edge = ca.issue("lakeview-edge", server=False)
    crl = tmp_path / "edges.crl"
    publish(ca, crl, edge, next_update=-timedelta(minutes=1))
    clock = Clock()
    with caplog.at_level(logging.WARNING, logger="central.core.revocation"):
        revocations = RevocationList(crl, ca.cert, clock=clock)
        for _ in range(3):
            clock.now += 1.1
            assert revocations.revocation(peer(edge)) is not None
        assert len(errors(caplog, logging.WARNING)) == 1
        assert "past its next update" in errors(caplog, logging.WARNING)[0]
        publish(ca, crl, edge, next_update=-timedelta(seconds=30))  # another expired version: warned again
        clock.now += 1.1
        assert revocations.revocation(peer(edge)) is not None
        assert len(errors(caplog, logging.WARNING)) == 2
        publish(ca, crl, edge)
        clock.now += 1.1
        revocations.refresh()
        assert len(errors(caplog, logging.WARNING)) == 2
    assert not errors(caplog)


def test_a_list_that_cannot_be_used_at_start_stops_the_start(tmp_path: Path) -> None:
    ca, other = TestCa(tmp_path, "site"), TestCa(tmp_path, "other")
    with pytest.raises(CrlRefusedError, match="missing or cannot be read"):
        RevocationList(tmp_path / "nope.crl", ca.cert)
    with pytest.raises(CrlRefusedError, match="not of the client CA") as caught:
        RevocationList(other.crl(), ca.cert)
    assert caught.value.reason == "not_signed_by_ca"
