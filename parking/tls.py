"""TLS between the edge and central: the PEM files each side is given, checked one by one with an error naming the
setting that gave the file, and the contexts built from them.

Central serves with a certificate and its key and, when given a client CA, asks every client for a certificate
signed by it, refusing in the handshake one that a given revocation list (CRL) of that CA lists. The edge checks
central's certificate against a CA file (or the system's CAs) and presents its own certificate where central asks
for one.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.hazmat.primitives.serialization import load_pem_private_key

MAX_PEM = 1 << 20  # bytes: a certificate chain or a key is a few kilobytes


class Pem(Enum):
    CERTIFICATE = "certificate"
    KEY = "private key"
    CA = "CA certificate"


class TlsSettingError(ValueError):
    """A TLS file is missing, unreadable or not what its setting says; ``setting`` names the setting."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.message = message


def _read(setting: str, path: Path, what: str) -> bytes:
    try:
        if not path.is_file():
            where = "" if path.is_absolute() else f" (looked at {path.resolve()})"
            raise TlsSettingError(setting, f"file {str(path)!r} not found{where}")
        data = path.read_bytes()[: MAX_PEM + 1]
    except OSError as err:
        raise TlsSettingError(setting, f"cannot read {str(path)!r}: {err.strerror or err}") from None
    if len(data) > MAX_PEM:
        raise TlsSettingError(setting, f"{str(path)!r} is larger than {MAX_PEM} bytes: not a PEM {what}")
    return data


def check_pem(setting: str, path: Path, kind: Pem) -> None:
    """Raise :class:`TlsSettingError` unless ``path`` holds a readable, unencrypted PEM ``kind``."""
    data = _read(setting, path, kind.value)
    try:
        if kind is Pem.KEY:
            load_pem_private_key(data, password=None)
        else:
            x509.load_pem_x509_certificates(data)
    except TypeError:  # the key is encrypted: nobody is there to type its passphrase at start
        raise TlsSettingError(setting, f"{str(path)!r} is encrypted with a passphrase; give an unencrypted key "
                                       "readable only by the service's user") from None  # fmt: skip
    except ValueError:
        raise TlsSettingError(setting, f"{str(path)!r} is not a PEM {kind.value}") from None


MAX_CRL_BYTES = 8 << 20  # a CRL of a few hundred thousand serial numbers


class CrlRefusedError(ValueError):
    """A revocation list that is not used; ``reason`` is a short label (for metrics), the message says what is wrong
    as a predicate of the file ("is not a PEM ..."), to follow its name."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def verified_crl(data: bytes, ca_certificates: list[x509.Certificate]) -> x509.CertificateRevocationList:
    """The CRL in ``data`` (PEM) when a certificate of ``ca_certificates`` with its issuer's name signed it; raises
    :class:`CrlRefusedError` otherwise."""
    if len(data) > MAX_CRL_BYTES:
        raise CrlRefusedError("unreadable", f"is larger than {MAX_CRL_BYTES} bytes")
    try:
        crl = x509.load_pem_x509_crl(data)
    except ValueError:
        raise CrlRefusedError("not_a_crl", "is not a PEM certificate revocation list (CRL)") from None
    issuer = crl.issuer.rfc4514_string()
    issuers = [cert for cert in ca_certificates if cert.subject == crl.issuer]
    if not issuers:
        raise CrlRefusedError("not_signed_by_ca", f"is the CRL of {issuer!r}, not of the client CA")
    if not any(crl_signed_by(crl, cert) for cert in issuers):
        raise CrlRefusedError("not_signed_by_ca", f"names {issuer!r} as its issuer but that CA's key did not sign it")
    return crl


def check_crl(
    setting: str, path: Path, ca: tuple[str, Path], *, now: datetime | None = None
) -> x509.CertificateRevocationList:
    """Raise :class:`TlsSettingError` unless ``path`` holds a PEM CRL signed by a certificate of the CA file
    ``ca`` (setting, path) and not past its next update (OpenSSL would then refuse every client)."""
    data = _read(setting, path, "certificate revocation list (CRL)")
    try:
        crl = verified_crl(data, x509.load_pem_x509_certificates(_read(ca[0], ca[1], Pem.CA.value)))
    except CrlRefusedError as err:
        raise TlsSettingError(setting, f"{str(path)!r} {err} (the CA in {ca[0]})") from None
    next_update = crl.next_update_utc
    if next_update is not None and next_update <= (now or datetime.now(UTC)):
        raise TlsSettingError(setting, f"{str(path)!r} expired at {next_update.isoformat()} (its next update): "
                                       "issue a fresh CRL, every client would be refused with this one")  # fmt: skip
    return crl


def crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s key signed ``crl``."""
    key = cast(CertificateIssuerPublicKeyTypes, issuer.public_key())
    try:
        return crl.is_signature_valid(key)
    except (TypeError, ValueError):  # a key type that cannot sign CRLs
        return False


@dataclass(frozen=True, slots=True)
class CrlCheck:
    """uvicorn's ``ssl_context_factory``: its own server context, with ``crl_file`` loaded and every client's
    certificate checked against it (``VERIFY_CRL_CHECK_LEAF``): a revoked certificate fails the handshake."""

    crl_file: Path

    def __call__(self, _config: object, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        context = default()
        context.load_verify_locations(cafile=str(self.crl_file))
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        return context


def _load_pair(context: ssl.SSLContext, cert: tuple[str, Path], key: tuple[str, Path]) -> None:
    try:
        context.load_cert_chain(cert[1], key[1])
    except OSError as err:  # ssl.SSLError included: a key that does not go with the certificate
        raise TlsSettingError(key[0], f"{str(key[1])!r} is not the key of the certificate in {cert[0]} "
                                      f"({getattr(err, 'reason', None) or err})") from None  # fmt: skip


@dataclass(frozen=True, slots=True)
class ClientTls:
    """The edge's side: ``ca_file`` checks central's certificate (``None``: the system's CAs); ``cert_file`` and
    ``key_file`` are the edge's certificate where central wants one. ``prefix`` makes each file's setting name for
    errors (``central.ca_file`` in the site file)."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    prefix: str = "central."

    def problems(self) -> list[TlsSettingError]:
        """Every file that is missing or not PEM, and a certificate without its key (or a key without one)."""
        found = []
        if (self.cert_file is None) != (self.key_file is None):
            missing = "key_file" if self.key_file is None else "cert_file"
            found.append(TlsSettingError(self.prefix + missing, "a client certificate needs cert_file and key_file"))
        for name, path, kind in (("ca_file", self.ca_file, Pem.CA), ("cert_file", self.cert_file, Pem.CERTIFICATE),
                                 ("key_file", self.key_file, Pem.KEY)):  # fmt: skip
            if path is not None:
                try:
                    check_pem(self.prefix + name, path, kind)
                except TlsSettingError as err:
                    found.append(err)
        if not found:
            try:
                self.context()
            except TlsSettingError as err:
                found.append(err)
        return found

    def context(self) -> ssl.SSLContext:
        """The client context (TLS 1.2 or later, hostname checked); raises :class:`TlsSettingError` for a file that
        cannot be used (check them all first with :meth:`problems`)."""
        try:
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        except ssl.SSLError as err:
            raise TlsSettingError(self.prefix + "ca_file", f"not usable as a CA: {err.reason or err}") from None
        except OSError as err:
            raise TlsSettingError(self.prefix + "ca_file", f"cannot read it: {err.strerror or err}") from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert_file is not None and self.key_file is not None:
            _load_pair(context, (self.prefix + "cert_file", self.cert_file), (self.prefix + "key_file", self.key_file))
        return context


@dataclass(frozen=True, slots=True)
class ServerTls:
    """Central's side: its certificate (chain) and key, the CA whose client certificates it requires (``None``: no
    client certificate asked) and that CA's revocation list (``None``: none checked). ``names`` are the settings the
    files came from, for errors, in that order."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    names: tuple[str, str, str, str] = ("cert_file", "key_file", "client_ca_file", "client_crl_file")
    client_crl_file: Path | None = None

    def check(self) -> None:
        """Raise :class:`TlsSettingError` for the first file that is missing, not PEM, or a key not matching."""
        check_pem(self.names[0], self.cert_file, Pem.CERTIFICATE)
        check_pem(self.names[1], self.key_file, Pem.KEY)
        if self.client_ca_file is not None:
            check_pem(self.names[2], self.client_ca_file, Pem.CA)
        if self.client_crl_file is not None:
            if self.client_ca_file is None:
                raise TlsSettingError(self.names[3], "a revocation list needs the client CA it belongs to "
                                                     f"({self.names[2]})")  # fmt: skip
            check_crl(self.names[3], self.client_crl_file, (self.names[2], self.client_ca_file))
        _load_pair(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), (self.names[0], self.cert_file),
                   (self.names[1], self.key_file))  # fmt: skip

    def uvicorn_options(self) -> dict[str, Any]:
        """What ``uvicorn.run`` / ``uvicorn.Config`` take for this (checked first)."""
        self.check()
        options: dict[str, Any] = {"ssl_certfile": str(self.cert_file), "ssl_keyfile": str(self.key_file)}
        if self.client_ca_file is not None:
            options |= {"ssl_ca_certs": str(self.client_ca_file), "ssl_cert_reqs": int(ssl.CERT_REQUIRED)}
        if self.client_crl_file is not None:
            options["ssl_context_factory"] = CrlCheck(self.client_crl_file)
        return options
