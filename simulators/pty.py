"""Serial links for simulators: two pseudo-terminals joined back to back, like a null-modem cable.

A driver opens :attr:`PtyLink.host_port` exactly as it would open ``/dev/ttyUSB0``; a simulator opens
:attr:`PtyLink.device_port` (a pymodbus serial server, a libosdp peripheral, a line sender). Bytes written on one
side come out of the other, optionally paced at the configured baud rate so wire time is real. The two paths are
stable symlinks, so :meth:`unplug` and :meth:`replug` behave like pulling the USB adapter and putting it back: the
driver's open file stops working, and the same path works again after the replug.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import tempfile
import termios
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

_LOGGER = logging.getLogger(__name__)


def _open_raw_pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave, termios.TCSANOW)
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


class PtyLink:
    """Two linked pseudo-terminals with stable paths ``<folder>/<name>-host`` and ``<folder>/<name>-device``.

    ``baudrate`` (with ``bits_per_byte``, 10 for 8N1) paces the bytes like the real line; ``None`` passes them as
    fast as the kernel does.
    """

    def __init__(
        self, name: str = "tty", folder: str | Path | None = None, *, baudrate: int | None = None,
        bits_per_byte: int = 10,
    ) -> None:  # fmt: skip
        self.name = name
        self._own_folder = folder is None
        self.folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="parkgate-pty-"))
        self.host_port = str(self.folder / f"{name}-host")
        self.device_port = str(self.folder / f"{name}-device")
        self.byte_time = bits_per_byte / baudrate if baudrate else 0.0
        self._fds: tuple[int, int, int, int] | None = None
        self._thread: threading.Thread | None = None
        self._stop_r, self._stop_w = os.pipe()
        self.bytes_to_device = 0
        self.bytes_to_host = 0
        self._garble: tuple[int, Callable[[bytes], bool]] | None = None
        self.garbled = 0

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> PtyLink:
        """Plug the cable in: create both pseudo-terminals and start copying bytes."""
        if self._fds is not None:
            return self
        host_master, host_slave, host_name = _open_raw_pty()
        dev_master, dev_slave, dev_name = _open_raw_pty()
        self._fds = (host_master, host_slave, dev_master, dev_slave)
        for link, target in ((self.host_port, host_name), (self.device_port, dev_name)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(link)
            os.symlink(target, link)
        while select.select([self._stop_r], [], [], 0)[0]:  # forget an earlier unplug's stop signal
            os.read(self._stop_r, 64)
        self._thread = threading.Thread(target=self._pump, name=f"pty-{self.name}", daemon=True)
        self._thread.start()
        return self

    def unplug(self) -> None:
        """Pull the cable: both ends hang up (readers get EOF or EIO); the paths no longer lead anywhere."""
        if self._fds is None:
            return
        os.write(self._stop_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = None
        for link in (self.host_port, self.device_port):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(link)

    def replug(self) -> None:
        """Put the cable back: the same paths work again (each side must reopen its port, as with real USB)."""
        self.unplug()
        self.open()

    def close(self) -> None:
        self.unplug()
        os.close(self._stop_r)
        os.close(self._stop_w)
        if self._own_folder:
            with contextlib.suppress(OSError):
                os.rmdir(self.folder)

    def __enter__(self) -> PtyLink:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def garble_to_device(self, count: int, when: Callable[[bytes], bool] = lambda data: True) -> None:
        """Noise on the line: the next ``count`` chunks of bytes to the device for which ``when`` holds arrive with
        their last byte flipped (for a framed protocol, a bad check: the device must ignore them)."""
        self._garble = (count, when) if count > 0 else None

    @property
    def plugged(self) -> bool:
        return self._fds is not None

    # ------------------------------------------------------------------ the copying thread

    def _pump(self) -> None:
        assert self._fds is not None
        host_master, _, dev_master, _ = self._fds
        routes = {host_master: dev_master, dev_master: host_master}
        while True:
            try:
                readable, _, _ = select.select([host_master, dev_master, self._stop_r], [], [])
            except (OSError, ValueError):
                return
            if self._stop_r in readable:
                return
            for src in readable:
                try:
                    data = os.read(src, 4096)
                except BlockingIOError:
                    continue
                except OSError:
                    # EIO: nobody has the slave open right now; bytes sent to a closed port are lost, as on a wire.
                    time.sleep(0.001)
                    continue
                if not data:
                    continue
                if src == host_master:
                    self.bytes_to_device += len(data)
                    data = self._maybe_garble(data)
                else:
                    self.bytes_to_host += len(data)
                self._deliver(routes[src], data)

    def _maybe_garble(self, data: bytes) -> bytes:
        garble = self._garble
        if garble is None or not garble[1](data):
            return data
        left = garble[0] - 1
        self._garble = (left, garble[1]) if left > 0 else None
        self.garbled += 1
        return data[:-1] + bytes([data[-1] ^ 0xFF])

    def _deliver(self, dst: int, data: bytes) -> None:
        if self.byte_time:
            time.sleep(self.byte_time * len(data))
        view = memoryview(data)
        while view:
            try:
                written = os.write(dst, view)
            except BlockingIOError:
                time.sleep(0.0005)
                continue
            except OSError:
                return
            view = view[written:]
