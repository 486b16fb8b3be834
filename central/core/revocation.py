"""The client CA's revocation list (CRL) as the file holds it now, so that a certificate revoked while central runs
is refused on the next request, on a connection already open too.

The TLS handshake checks the CRL given at start (``parking.tls.CrlCheck``) and never sees a later one. A
:class:`RevocationList` looks at the file's inode, size and modification time at most once a second and reads it
again when one changed. A new list is used only when it is a PEM CRL signed by a certificate of the client CA file
and not older than the one in force (an old list may lack a later revocation); otherwise the list in force stays, with
one error in the log and a count by reason. A list past its next update is still used, with a warning once per file
version: refusing every edge would stop the car parks' reports, and it is no less true than it was.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from central.core.tls import PeerCertificate
from parking.tls import MAX_CRL_BYTES, CrlRefusedError, verified_crl

_LOGGER = logging.getLogger(__name__)
STAT_INTERVAL = 1.0  # seconds between two looks at the file

FileVersion = tuple[int, int, int]  # inode, size, mtime in ns


@dataclass(frozen=True, slots=True)
class Revocation:
    """A client certificate's entry in the revocation list in force."""

    serial: int
    revoked_at: datetime

    @property
    def serial_hex(self) -> str:
        """The serial number as ``openssl x509 -serial`` and ``openssl crl -text`` print it."""
        return f"{self.serial:X}"


@dataclass(frozen=True, slots=True)
class LoadedCrl:
    """A verified revocation list: what it revokes (serial number to revocation time), and when it was read."""

    issuer: x509.Name
    last_update: datetime
    next_update: datetime | None
    revoked: dict[int, datetime]
    version: FileVersion
    loaded_at: datetime


class RevocationList:
    """The revocation list in ``crl_file`` of the client CA in ``ca_file``, read again when the file changes (looked
    at every ``interval`` seconds of ``clock`` at most). Raises :class:`CrlRefusedError` when the file cannot be used at
    start: central does not serve edges without the list it was told to check. Safe to share between threads."""

    def __init__(
        self, crl_file: Path, ca_file: Path, *, interval: float = STAT_INTERVAL,
        clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:  # fmt: skip
        self.crl_file = crl_file
        self.ca_file = ca_file
        self._interval = interval
        self._clock = clock
        self._now = now
        self._lock = threading.Lock()
        self._next_look = -math.inf
        self._expiry_warned: FileVersion | None = None
        self.refused: Counter[str] = Counter()  # reloads refused, by reason
        version = self._version()
        if version is None:
            raise CrlRefusedError("unreadable", "is missing or cannot be read")
        self._seen: FileVersion | None = version
        self.in_force = self._load(version, None)
        self._next_look = clock() + interval
        self._warn_if_expired()

    def revocation(self, peer: PeerCertificate) -> Revocation | None:
        """``peer``'s entry in the list in force (looked at again first if a second has passed), ``None`` when the
        list does not revoke it."""
        crl = self.refresh()
        if peer.issuer != crl.issuer:
            return None
        revoked_at = crl.revoked.get(peer.serial)
        return Revocation(peer.serial, revoked_at) if revoked_at is not None else None

    def refresh(self) -> LoadedCrl:
        """The list in force, read again first when the file changed since it was last looked at (at most once
        per interval)."""
        with self._lock:
            if self._clock() < self._next_look:
                return self.in_force
            self._next_look = self._clock() + self._interval
            version = self._version()
            if version != self._seen:
                self._seen = version
                if version is None:
                    self._refuse(CrlRefusedError("unreadable", "is missing or cannot be read"))
                else:
                    try:
                        self.in_force = self._load(version, self.in_force)
                    except CrlRefusedError as err:
                        self._refuse(err)
            self._warn_if_expired()
            return self.in_force

    def refusals(self) -> dict[str, int]:
        """Changed files not used since the start, by reason."""
        with self._lock:
            return dict(self.refused)

    def _version(self) -> FileVersion | None:
        try:
            stat = os.stat(self.crl_file)
        except OSError:
            return None
        return (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def _load(self, version: FileVersion, current: LoadedCrl | None) -> LoadedCrl:
        try:
            with open(self.crl_file, "rb") as file:
                data = file.read(MAX_CRL_BYTES + 1)
        except OSError as err:
            raise CrlRefusedError("unreadable", f"cannot be read: {err.strerror or err}") from None
        try:
            cas = x509.load_pem_x509_certificates(self.ca_file.read_bytes())
        except (OSError, ValueError) as err:
            raise CrlRefusedError(
                "ca_unreadable", f"cannot be checked: the client CA {str(self.ca_file)!r} cannot be read: {err}"
            ) from None
        crl = verified_crl(data, cas)
        if current is not None and crl.last_update_utc < current.last_update:
            raise CrlRefusedError("older", f"was issued at {crl.last_update_utc.isoformat()}, before the list in force "
                                           f"({current.last_update.isoformat()})")  # fmt: skip
        loaded = LoadedCrl(crl.issuer, crl.last_update_utc, crl.next_update_utc,
                           {entry.serial_number: entry.revocation_date_utc for entry in crl}, version,
                           self._now())  # fmt: skip
        _LOGGER.info("client CRL %s loaded: %d certificates revoked, issued %s, next update %s", self.crl_file,
                     len(loaded.revoked), loaded.last_update.isoformat(),
                     loaded.next_update.isoformat() if loaded.next_update else "none")  # fmt: skip
        return loaded

    def _refuse(self, err: CrlRefusedError) -> None:
        self.refused[err.reason] += 1
        _LOGGER.error("client CRL %s not used (%s): it %s; the list loaded at %s stays in force", self.crl_file,
                      err.reason, err, self.in_force.loaded_at.isoformat())  # fmt: skip

    def _warn_if_expired(self) -> None:
        crl = self.in_force
        if crl.next_update is None or crl.next_update > self._now() or self._expiry_warned == crl.version:
            return
        self._expiry_warned = crl.version
        _LOGGER.warning("client CRL %s is past its next update (%s): still used; publish a fresh one", self.crl_file,
                        crl.next_update.isoformat())  # fmt: skip
