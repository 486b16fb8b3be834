"""Who may push to a camera listener: source addresses, and HTTP basic or digest credentials (server side).

Hikvision cameras authenticate their HTTP host notifications with basic or digest credentials; digest here follows
RFC 7616 (and RFC 2617, its MD5 predecessor): the challenge offers SHA-256 and MD5 with ``qop="auth"``, the nonce is
stateless (a time and an HMAC of it under a key made at start) and expires after :data:`NONCE_LIFETIME`, and each
nonce's count ``nc`` must grow, so a captured request cannot be replayed. Without credentials configured a camera is
known by its address only.

Pure functions and a small state object, no I/O: the listener calls :meth:`CameraGuard.check` for each push.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[IpNetwork, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
NONCE_LIFETIME = 300.0
MAX_NONCES = 4096  # nonces whose last count is remembered (oldest forgotten first)
MAX_AUTHORIZATION = 2048  # characters of an Authorization header worth reading
REALM = "parkgate"
_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest(),  # RFC 2617; the cameras still use it
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
}
_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def networks(entries: Iterable[str]) -> tuple[IpNetwork, ...]:
    """Addresses or networks (``192.168.1.64``, ``10.0.0.0/24``, ``fe80::/10``); raise ``ValueError`` on a bad one."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def address_allowed(address: str | None, allowed: tuple[IpNetwork, ...]) -> bool:
    """True when ``address`` (a peer's IP, IPv4-mapped IPv6 understood) is in one of ``allowed``."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in allowed)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a camera must present: ``scheme`` "digest" (digest only) or "basic" (basic, or digest)."""

    username: str
    password: str
    scheme: Literal["digest", "basic"] = "digest"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of :meth:`CameraGuard.check`: ``status`` 200 to go on, else 401 or 403 with ``reason``."""

    status: int
    reason: str = ""
    challenge: tuple[str, ...] = ()  # WWW-Authenticate headers of a 401


OK = Verdict(200)


def parse_params(text: str) -> dict[str, str]:
    """The ``key=value`` / ``key="value"`` pairs of an Authorization header (keys lower case)."""
    return {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _PARAM.finditer(text)}


def digest_response(
    *, algorithm: str, username: str, realm: str, password: str, method: str, uri: str, nonce: str, nc: str,
    cnonce: str, qop: str,
) -> str:  # fmt: skip
    """The ``response`` a client computes (RFC 7616 section 3.4.1), ``-sess`` algorithms included."""
    base = algorithm.removesuffix("-sess")
    digest = _HASHES[base]
    ha1 = digest(f"{username}:{realm}:{password}".encode())
    if algorithm.endswith("-sess"):
        ha1 = digest(f"{ha1}:{nonce}:{cnonce}".encode())
    ha2 = digest(f"{method}:{uri}".encode())
    return digest(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode())


class CameraGuard:
    """Checks one camera's pushes: source address first (403), then credentials when configured (401)."""

    def __init__(
        self, allowed: tuple[IpNetwork, ...], credentials: Credentials | None, *,
        clock: Callable[[], float] = time.time, key: bytes | None = None,
    ) -> None:  # fmt: skip
        self.allowed = allowed
        self.credentials = credentials
        self._clock = clock
        self._key = key or os.urandom(32)
        self._counts: OrderedDict[str, int] = OrderedDict()
        self.opaque = hashlib.sha256(self._key + b"opaque").hexdigest()[:32]

    def check(self, address: str | None, method: str, uri: str, authorization: str | None) -> Verdict:
        """Whether a push from ``address`` with this ``Authorization`` header may be read."""
        if not address_allowed(address, self.allowed):
            return Verdict(403, "address")
        if self.credentials is None:
            return OK
        if not authorization:
            return Verdict(401, "credentials-missing", self.challenge())
        if len(authorization) > MAX_AUTHORIZATION:
            return Verdict(401, "credentials-wrong", self.challenge())
        scheme, _, rest = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and self.credentials.scheme == "basic":
            return OK if self._basic_ok(rest) else Verdict(401, "credentials-wrong", self.challenge())
        if scheme == "digest":
            return self._digest(parse_params(rest), method, uri)
        return Verdict(401, "credentials-wrong", self.challenge())

    def challenge(self, *, stale: bool = False) -> tuple[str, ...]:
        """The WWW-Authenticate headers of a 401: digest SHA-256 then MD5 (RFC 7616 order), or basic."""
        assert self.credentials is not None
        if self.credentials.scheme == "basic":
            return (f'Basic realm="{REALM}", charset="UTF-8"',)
        nonce = self.new_nonce()
        extra = ", stale=true" if stale else ""
        return tuple(
            f'Digest realm="{REALM}", qop="auth", algorithm={algorithm}, nonce="{nonce}", opaque="{self.opaque}"{extra}'
            for algorithm in ("SHA-256", "MD5")
        )

    def new_nonce(self) -> str:
        stamp = f"{self._clock():.3f}"
        mac = hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:32]
        return base64.urlsafe_b64encode(f"{stamp}:{mac}".encode()).decode("ascii")

    def _nonce_age(self, nonce: str) -> float | None:
        """Seconds since the nonce was made here, or ``None`` when it was not made here."""
        try:
            stamp, _, mac = base64.urlsafe_b64decode(nonce.encode("ascii")).decode("ascii").partition(":")
            expected = hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:32]
            if not hmac.compare_digest(mac, expected):
                return None
            return self._clock() - float(stamp)
        except (binascii.Error, UnicodeError, ValueError):
            return None

    def _basic_ok(self, token: str) -> bool:
        assert self.credentials is not None
        try:
            user, sep, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        expected_user, expected_password = self.credentials.username, self.credentials.password
        user_ok = hmac.compare_digest(user.encode(), expected_user.encode())
        return bool(sep) and user_ok & hmac.compare_digest(password.encode(), expected_password.encode())

    def _digest(self, params: dict[str, str], method: str, uri: str) -> Verdict:
        assert self.credentials is not None
        wrong = Verdict(401, "credentials-wrong", self.challenge())
        algorithm = params.get("algorithm", "MD5").upper().replace("-SESS", "-sess")
        needed = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
        if algorithm.removesuffix("-sess") not in _HASHES or any(k not in params for k in needed):
            return wrong
        if params["qop"] != "auth" or params["realm"] != REALM or params["uri"] != uri:
            return wrong
        if not re.fullmatch(r"[0-9a-fA-F]{8}", params["nc"]):
            return wrong
        age = self._nonce_age(params["nonce"])
        if age is None or age < -5.0:
            return wrong
        expected = digest_response(
            algorithm=algorithm, username=self.credentials.username, realm=REALM, password=self.credentials.password,
            method=method, uri=uri, nonce=params["nonce"], nc=params["nc"], cnonce=params["cnonce"], qop="auth",
        )  # fmt: skip
        user_ok = hmac.compare_digest(params["username"].encode(), self.credentials.username.encode())
        if not (user_ok & hmac.compare_digest(params["response"].lower().encode(), expected.encode())):
            return wrong
        if age > NONCE_LIFETIME:
            return Verdict(401, "nonce-stale", self.challenge(stale=True))
        count = int(params["nc"], 16)
        if count <= self._counts.get(params["nonce"], 0):
            return Verdict(401, "nonce-replayed", self.challenge())
        self._counts[params["nonce"]] = count
        self._counts.move_to_end(params["nonce"])
        while len(self._counts) > MAX_NONCES:
            self._counts.popitem(last=False)
        return OK
