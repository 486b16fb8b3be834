"""TLS between the edge and central: the PEM files each side is given, checked one by one with an error naming the
setting that gave the file, and the contexts built from them.

Central serves with a certificate and its key and, when given a client CA, asks every client for a certificate
signed by it. The edge checks central's certificate against a CA file (or the system's CAs) and presents its own
certificate where central asks for one.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from cryptography import x509
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


def check_pem(setting: str, path: Path, kind: Pem) -> None:
    """Raise :class:`TlsSettingError` unless ``path`` holds a readable, unencrypted PEM ``kind``."""
    try:
        if not path.is_file():
            where = "" if path.is_absolute() else f" (looked at {path.resolve()})"
            raise TlsSettingError(setting, f"file {str(path)!r} not found{where}")
        data = path.read_bytes()[: MAX_PEM + 1]
    except OSError as err:
        raise TlsSettingError(setting, f"cannot read {str(path)!r}: {err.strerror or err}") from None
    if len(data) > MAX_PEM:
        raise TlsSettingError(setting, f"{str(path)!r} is larger than {MAX_PEM} bytes: not a PEM {kind.value}")
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
    """Central's side: its certificate (chain) and key, and the CA whose client certificates it requires (``None``:
    no client certificate asked). ``names`` are the settings the files came from, for errors."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    names: tuple[str, str, str] = ("cert_file", "key_file", "client_ca_file")

    def check(self) -> None:
        """Raise :class:`TlsSettingError` for the first file that is missing, not PEM, or a key not matching."""
        check_pem(self.names[0], self.cert_file, Pem.CERTIFICATE)
        check_pem(self.names[1], self.key_file, Pem.KEY)
        if self.client_ca_file is not None:
            check_pem(self.names[2], self.client_ca_file, Pem.CA)
        _load_pair(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), (self.names[0], self.cert_file),
                   (self.names[1], self.key_file))  # fmt: skip

    def uvicorn_options(self) -> dict[str, Any]:
        """What ``uvicorn.run`` / ``uvicorn.Config`` take for this (checked first)."""
        self.check()
        options: dict[str, Any] = {"ssl_certfile": str(self.cert_file), "ssl_keyfile": str(self.key_file)}
        if self.client_ca_file is not None:
            options |= {"ssl_ca_certs": str(self.client_ca_file), "ssl_cert_reqs": int(ssl.CERT_REQUIRED)}
        return options
