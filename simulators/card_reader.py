"""Card reader simulators: an OSDP reader (a libosdp peripheral device) and a Wiegand-to-RS485 converter.

Both speak from the device's side of a serial line, usually :attr:`simulators.pty.PtyLink.device_port`. The OSDP
reader is libosdp itself (the same library the driver's control panel uses), so the bytes on the line are real OSDP
with real secure channel; a card is presented as Wiegand bits in an osdp_RAW reply. The converter sends a card as
decimal digits and CR LF, as the cheap converter boxes do.

``parkgate sim card-reader osdp PORT --key HEX`` / ``parkgate sim card-reader wiegand PORT`` run them from a shell;
with ``--link`` they create the pseudo-terminal pair themselves and print the host side's path.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time

import serial
from osdp import Capability, CardFormat, Event, LibFlag, LogLevel, PDCapabilities, PDInfo, PeripheralDevice

from drivers.osdp.channel import SerialChannel
from drivers.wiegand.codec import bits_to_bytes, clean_bits, encode_bits, format_converter_line

_LOGGER = logging.getLogger(__name__)

_CAPABILITIES = [
    (Capability.CardDataFormat, 1, 1),
    (Capability.CommunicationSecurity, 1, 1),
    (Capability.LEDControl, 1, 1),
    (Capability.AudibleControl, 1, 1),
    (Capability.CheckCharacter, 1, 1),
]


class OsdpCardReaderSim:
    """A libosdp peripheral device on ``port``. ``scbk=None`` with ``install_mode`` accepts the install-mode key."""

    def __init__(
        self, port: str, *, address: int = 0, scbk: bytes | None = None, install_mode: bool = False,
        baudrate: int = 9600,
    ) -> None:  # fmt: skip
        self.port = port
        self.address = address
        self.scbk = scbk
        self.channel = SerialChannel(port, baudrate, name=f"sim-osdp-{address}", max_backoff=0.2)
        flags = [LibFlag.InstallMode] if install_mode else []
        if scbk is not None:
            flags.append(LibFlag.EnforceSecure)
        info = PDInfo(address, self.channel, scbk=scbk, name=f"sim-reader-{address}", flags=flags)
        self._pd = PeripheralDevice(info, PDCapabilities(_CAPABILITIES), log_level=LogLevel.Error)
        self.commands: list[dict[str, object]] = []
        self._pd.set_command_handler(self._on_command)
        self._running = False

    def _on_command(self, command: dict[str, object]) -> tuple[int, None]:
        self.commands.append(command)
        return 0, None

    def start(self) -> OsdpCardReaderSim:
        if not self._running:
            self._pd.start()
            self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._pd.stop()
            self._running = False
        self.channel.close()

    def __enter__(self) -> OsdpCardReaderSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def secure(self) -> bool:
        return bool(self._pd.is_sc_active())

    def present_bits(self, bits: str, reader_no: int = 0) -> None:
        """Present a card whose reader sends ``bits`` (a Wiegand bit string) in an osdp_RAW reply."""
        bits = clean_bits(bits)
        event = {
            "event": Event.CardRead, "reader_no": reader_no, "format": CardFormat.Wiegand, "direction": 0,
            "length": len(bits), "data": bits_to_bytes(bits),
        }  # fmt: skip
        if not self._pd.submit_event(event):
            raise RuntimeError("libosdp refused the card event")

    def present_card(self, facility: int, card_number: int, fmt: str = "H10301") -> str:
        """Present a card by facility and number; returns the bit string sent."""
        bits = encode_bits(facility, card_number, fmt)
        self.present_bits(bits)
        return bits


class WiegandConverterSim:
    """A Wiegand-to-RS485 converter: writes each card as a decimal line on ``port``."""

    def __init__(self, port: str, *, baudrate: int = 9600, width: int = 10) -> None:
        self.port = port
        self.baudrate = baudrate
        self.width = width
        self._serial: serial.Serial | None = None
        self._lock = threading.Lock()

    def send(self, number: int) -> bytes:
        return self.send_raw(format_converter_line(number, self.width))

    def send_raw(self, line: bytes) -> bytes:
        """Send bytes as they are (garbage and split lines included); reopens the port if it was replugged."""
        with self._lock:
            for attempt in range(2):
                try:
                    if self._serial is None:
                        self._serial = serial.Serial(self.port, self.baudrate, timeout=0)
                    self._serial.write(line)
                    self._serial.flush()
                    return line
                except (serial.SerialException, OSError):
                    self.close_port()
                    if attempt:
                        raise
        return line

    def close_port(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            finally:
                self._serial = None

    def close(self) -> None:
        with self._lock:
            self.close_port()


# ---------------------------------------------------------------------- parkgate sim card-reader


def register_sim(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "card-reader", help="an OSDP reader (libosdp) or a Wiegand converter on a serial port"
    )
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    osdp_p = kinds.add_parser("osdp", help="libosdp peripheral device presenting the --card list")
    osdp_p.add_argument("port", nargs="?", help="the device side of the line (omit with --link)")
    osdp_p.add_argument("--link", action="store_true", help="create a pseudo-terminal pair; print the host path")
    osdp_p.add_argument("--address", type=int, default=0)
    osdp_p.add_argument("--key", help="secure channel base key, 32 hex digits (omit for install mode)")
    osdp_p.add_argument("--baudrate", type=int, default=9600)
    osdp_p.add_argument("--card", action="append", default=[], help="FACILITY:CARD (H10301) to present, repeatable")
    osdp_p.add_argument("--interval", type=float, default=2.0, help="seconds between presented cards")
    osdp_p.set_defaults(handler=_run_osdp)
    wg = kinds.add_parser("wiegand", help="Wiegand-to-RS485 converter sending decimal lines")
    wg.add_argument("port", nargs="?", help="the device side of the line (omit with --link)")
    wg.add_argument("--link", action="store_true", help="create a pseudo-terminal pair; print the host path")
    wg.add_argument("--baudrate", type=int, default=9600)
    wg.add_argument("--card", action="append", type=int, default=[], help="card number to send, repeatable")
    wg.add_argument("--interval", type=float, default=2.0)
    wg.set_defaults(handler=_run_wiegand)


def _port_from(args: argparse.Namespace) -> tuple[str, object]:
    from simulators.pty import PtyLink

    if args.link:
        link = PtyLink("card-reader").open()
        print(f"driver port: {link.host_port}", flush=True)
        return link.device_port, link
    if not args.port:
        raise SystemExit("give a PORT or --link")
    return str(args.port), None


def _run_osdp(args: argparse.Namespace) -> int:
    port, link = _port_from(args)
    key = bytes.fromhex(args.key) if args.key else None
    cards = [tuple(int(x) for x in c.split(":", 1)) for c in args.card] or [(123, 45678)]
    with OsdpCardReaderSim(
        port, address=args.address, scbk=key, install_mode=key is None, baudrate=args.baudrate
    ) as sim:
        try:
            for facility, number in cards:
                time.sleep(args.interval)
                print(f"present {facility}:{number} bits {sim.present_card(facility, number)}", flush=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
        finally:
            if link is not None:
                link.close()  # type: ignore[attr-defined]


def _run_wiegand(args: argparse.Namespace) -> int:
    port, link = _port_from(args)
    sim = WiegandConverterSim(port, baudrate=args.baudrate)
    try:
        for number in args.card or [8106606]:
            time.sleep(args.interval)
            print(f"sent {sim.send(number)!r}", flush=True)
        if link is not None:
            while True:
                time.sleep(3600)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        sim.close()
        if link is not None:
            link.close()  # type: ignore[attr-defined]
