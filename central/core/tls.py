"""The client certificate behind a request, and whether it is the edge's own.

uvicorn does not tell the application which certificate a TLS client presented. :class:`TlsH11Protocol` is its
h11 protocol with the ASGI TLS extension added (``scope["extensions"]["tls"]``, https://asgi.readthedocs.io/en/latest/
specs/tls.html): the peer's certificate as PEM in ``client_cert_chain``, read once per connection from the
handshake. ``parkgate central run`` gives it to uvicorn (``http=``) whenever it requires client certificates.

An edge's certificate is its own when its subject common name or a DNS name of its subjectAltName is the edge's id
and, where the registry pins one, its SHA-256 fingerprint is the pinned one; and it is still good when the client
CA's current revocation list (:mod:`central.core.revocation`) does not name it.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from cryptography import x509
from cryptography.x509.oid import NameOID
from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.h11_impl import H11Protocol

_TLS_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI TLS extension of a connection, ``None`` on a plain one. The chain holds only the peer's own
    certificate (Python 3.11's ``ssl`` gives no verified chain); the handshake verified it (``client_cert_error``
    ``None``) since central serves with ``CERT_REQUIRED``."""
    ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    name = None
    chain = []
    if der:
        chain.append(ssl.DER_cert_to_PEM_cert(der))
        name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    return {"server_cert": None, "client_cert_chain": chain, "client_cert_name": name, "client_cert_error": None,
            "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""), "cipher_suite": None}  # fmt: skip


class TlsH11Protocol(H11Protocol):
    """uvicorn's h11 protocol adding the ASGI TLS extension to every request's scope on a TLS connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        tls = tls_extension(transport)
        if tls is None:
            return
        app = self.app

        async def with_tls(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
            extensions: dict[str, Any] = cast(dict[str, Any], scope).setdefault("extensions", {})
            extensions["tls"] = tls
            await app(scope, receive, send)

        self.app = with_tls


@dataclass(frozen=True, slots=True)
class PeerCertificate:
    """What central compares of a client certificate: the names it may carry an edge's id in, and its digest; and
    what a revocation list names it by: its issuer and serial number."""

    common_names: tuple[str, ...]
    dns_names: tuple[str, ...]
    sha256: str  # lower-case hex of the DER encoding
    issuer: x509.Name
    serial: int

    @property
    def label(self) -> str:
        """How logs and errors name it: its first common name (or DNS name) and its fingerprint."""
        names = self.common_names or self.dns_names
        return f"{names[0] if names else '(no name)'!r} (sha256 {self.sha256})"


@lru_cache(maxsize=256)
def peer_certificate(pem: str) -> PeerCertificate:
    """The parts of a PEM certificate from ``client_cert_chain`` (cached: an edge sends the same one all day)."""
    cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    common = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    try:
        dns = tuple(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                    .get_values_for_type(x509.DNSName))  # fmt: skip
    except x509.ExtensionNotFound:
        dns = ()
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    return PeerCertificate(common, dns, digest, cert.issuer, cert.serial_number)


def request_certificate(scope: Any) -> PeerCertificate | None:
    """The client certificate of the request whose ASGI scope is ``scope``, ``None`` without one."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or ()
    return peer_certificate(chain[0]) if chain else None


def certificate_mismatch(edge_id: str, pinned_sha256: str | None, peer: PeerCertificate) -> str | None:
    """Why ``peer`` is not edge ``edge_id``'s certificate, ``None`` when it is."""
    if edge_id not in peer.common_names and edge_id not in peer.dns_names:
        return f"the client certificate {peer.label} is not issued to edge {edge_id!r} (its CN or DNS name must be it)"
    if pinned_sha256 is not None and peer.sha256 != pinned_sha256:
        return f"the client certificate {peer.label} is not the one pinned for edge {edge_id!r} ({pinned_sha256})"
    return None
