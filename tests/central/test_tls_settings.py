"""``parkgate central run`` with TLS: the flags or ``PARKGATE_TLS_*`` settings become uvicorn's options, and a file
that is missing, not PEM or not the certificate's key (or a revocation list that is not one, not the client CA's or
expired) stops the start with an error naming the flag and setting."""

from __future__ import annotations

import argparse
import ssl
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from central.cli import server_tls
from central.core.tls import TlsH11Protocol
from parking.cli import main
from parking.tls import CrlCheck
from tests.pki import TestCa


def args(
    cert: Path | None, key: Path | None, client_ca: Path | None = None, client_crl: Path | None = None
) -> argparse.Namespace:
    return argparse.Namespace(tls_cert=str(cert) if cert else None, tls_key=str(key) if key else None,
                              tls_client_ca=str(client_ca) if client_ca else None,
                              tls_client_crl=str(client_crl) if client_crl else None)  # fmt: skip


def test_flags_and_settings_become_uvicorns_tls_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca = TestCa(tmp_path)
    server = ca.issue("central", server=True)
    assert server_tls(args(None, None)) == {}  # plain HTTP, as before
    assert server_tls(args(server.cert, server.key)) == {"ssl_certfile": str(server.cert),
                                                         "ssl_keyfile": str(server.key)}  # fmt: skip
    monkeypatch.setenv("PARKGATE_TLS_CERT_FILE", str(server.cert))
    monkeypatch.setenv("PARKGATE_TLS_KEY_FILE", str(server.key))
    monkeypatch.setenv("PARKGATE_TLS_CLIENT_CA_FILE", str(ca.cert))
    # Client certificates: uvicorn's h11 protocol with the ASGI TLS extension tells the app which one it was.
    required = {"ssl_ca_certs": str(ca.cert), "ssl_cert_reqs": ssl.CERT_REQUIRED, "http": TlsH11Protocol}
    assert server_tls(args(None, None)) == {"ssl_certfile": str(server.cert), "ssl_keyfile": str(server.key),
                                            **required}  # fmt: skip
    crl = ca.crl()
    monkeypatch.setenv("PARKGATE_TLS_CLIENT_CRL_FILE", str(crl))
    assert server_tls(args(None, None)) == {"ssl_certfile": str(server.cert), "ssl_keyfile": str(server.key),
                                            **required, "ssl_context_factory": CrlCheck(crl)}  # fmt: skip


def test_a_bad_file_stops_central_run_naming_the_flag_and_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARKGATE_DATABASE_URL", f"sqlite:///{tmp_path / 'never-made.db'}")
    ca = TestCa(tmp_path)
    server = ca.issue("central", server=True)
    other = ca.issue("other", server=True)
    encrypted = tmp_path / "encrypted.key"
    key = serialization.load_pem_private_key(server.key.read_bytes(), password=None)
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"passphrase")))  # fmt: skip
    served = ["--tls-cert", str(server.cert), "--tls-key", str(server.key)]
    crl, expired = ca.crl(), ca.crl(next_update=-timedelta(hours=1), name="expired.crl")
    other_crl = TestCa(tmp_path, "other").crl()
    cases = [
        (["--tls-cert", str(server.cert), "--tls-key", str(encrypted)],
         f"--tls-key / PARKGATE_TLS_KEY_FILE: '{encrypted}' is encrypted with a passphrase"),
        (["--tls-cert", str(tmp_path / "nope.crt"), "--tls-key", str(server.key)],
         "--tls-cert / PARKGATE_TLS_CERT_FILE: file"),
        (["--tls-cert", str(server.cert), "--tls-key", str(server.cert)],
         "--tls-key / PARKGATE_TLS_KEY_FILE: "),
        (["--tls-cert", str(server.cert), "--tls-key", str(other.key)],
         "--tls-key / PARKGATE_TLS_KEY_FILE: "),
        (["--tls-cert", str(server.cert)], "--tls-key / PARKGATE_TLS_KEY_FILE: TLS needs both"),
        (["--tls-client-ca", str(ca.cert)], "--tls-client-ca / PARKGATE_TLS_CLIENT_CA_FILE: client certificates"),
        (["--tls-cert", str(server.cert), "--tls-key", str(server.key), "--tls-client-ca", str(server.key)],
         "--tls-client-ca / PARKGATE_TLS_CLIENT_CA_FILE: "),
        (["--tls-client-crl", str(crl)], "--tls-client-crl / PARKGATE_TLS_CLIENT_CRL_FILE: client certificates need"),
        ([*served, "--tls-client-crl", str(crl)],
         "--tls-client-crl / PARKGATE_TLS_CLIENT_CRL_FILE: a revocation list needs the client CA it belongs to "
         "(--tls-client-ca / PARKGATE_TLS_CLIENT_CA_FILE)"),
        ([*served, "--tls-client-ca", str(ca.cert), "--tls-client-crl", str(tmp_path / "nope.crl")],
         f"--tls-client-crl / PARKGATE_TLS_CLIENT_CRL_FILE: file '{tmp_path / 'nope.crl'}' not found"),
        ([*served, "--tls-client-ca", str(ca.cert), "--tls-client-crl", str(ca.cert)],
         f"--tls-client-crl / PARKGATE_TLS_CLIENT_CRL_FILE: '{ca.cert}' is not a PEM certificate revocation list"),
        ([*served, "--tls-client-ca", str(ca.cert), "--tls-client-crl", str(other_crl)],
         f"--tls-client-crl / PARKGATE_TLS_CLIENT_CRL_FILE: '{other_crl}' is the CRL of 'CN=other CA', not of the "
         "client CA (the CA in --tls-client-ca / PARKGATE_TLS_CLIENT_CA_FILE)"),
        ([*served, "--tls-client-ca", str(ca.cert), "--tls-client-crl", str(expired)],
         f"--tls-client-crl / PARKGATE_TLS_CLIENT_CRL_FILE: '{expired}' expired at "),
    ]  # fmt: skip
    for flags, start in cases:
        assert main(["central", "run", "--port", "1", *flags]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"parkgate: error: {start}"), err
    assert not (tmp_path / "never-made.db").exists()  # refused before migrating or listening
