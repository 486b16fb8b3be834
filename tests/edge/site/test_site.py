"""The site file: every shipped example validates; each kind of mistake gets its own message at its key path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.site import SiteError, load_site, summary
from parking.cli import main

CONFIG = Path(__file__).resolve().parents[3] / "config"
SITE_FILES = sorted(CONFIG.glob("*.toml"))

BASE = """
[car_park]
id = "t1"
name = "Test"
timezone = "Asia/Shanghai"
currency = "CNY"
capacity = { small = 10 }

[journal]
path = "journal.sqlite3"

[tariffs.residential]
file = "tariffs/residential.toml"

[devices.io]
kind = "barrier_io"
driver = "modbus_io"
connection = { type = "serial", port = "/dev/ttyUSB0" }
modbus = { unit_id = 1 }
io_map = { open = { address = 0 }, close = { address = 1 }, safety_loop = { address = 3 } }

[devices.io2]
kind = "barrier_io"
driver = "modbus_io"
connection = { type = "serial", port = "/dev/ttyUSB0" }
modbus = { unit_id = 2 }
io_map = { open = { address = 0 }, close = { address = 1 } }

[devices.cam]
kind = "plate_camera"
driver = "hikvision_isapi"
connection = { type = "http_listen", listen = "0.0.0.0:8081", path = "/cam", allow_from = ["192.168.1.64"] }

[devices.disp]
kind = "display"
driver = "serial_text"
connection = { type = "serial", port = "/dev/ttyUSB1" }

[[lanes]]
id = "in"
direction = "entry"
devices = { barrier = "io", camera = "cam" }

[[lanes]]
id = "out"
direction = "exit"
tariff = "residential"
devices = { barrier = "io2", display = "disp" }
"""


def write_site(tmp_path: Path, text: str) -> Path:
    (tmp_path / "tariffs").mkdir(exist_ok=True)
    (tmp_path / "tariffs" / "residential.toml").write_text((CONFIG / "tariffs" / "residential.toml").read_text())
    site = tmp_path / "site.toml"
    site.write_text(text)
    return site


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["config", "check", str(write_site(tmp_path, text))])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("site_file", SITE_FILES, ids=lambda p: p.name)
def test_every_shipped_site_validates(site_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(site_file)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{site_file}: OK")
    assert err == ""


def test_config_folder_holds_a_small_and_a_larger_site() -> None:
    sites = [load_site(f) for f in SITE_FILES]
    shapes = {
        (sum(lane.direction == "entry" for lane in s.lanes), sum(lane.direction == "exit" for lane in s.lanes))
        for s in sites
    }
    assert (1, 1) in shapes
    large = [s for s in sites if len(s.lanes) >= 5]
    assert large, "a site with 2 entries and 3 exits is shipped"
    assert any(lane.mode == "unattended" and lane.direction == "exit" for lane in large[0].lanes)


def test_base_fixture_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check(tmp_path, BASE, capsys)
    assert (code, err) == (0, ""), err
    assert "Car park t1 (Test), time zone Asia/Shanghai, currency CNY, capacity 10 small. 2 lanes" in out


BROKEN: list[tuple[str, str, str, str]] = [
    (
        "unknown-key",
        "capacity = { small = 10 }",
        'capacity = { small = 10 }\ncolour = "red"',
        "car_park.colour: unknown key",
    ),
    (
        "unknown-device",
        'devices = { barrier = "io", camera = "cam" }',
        'devices = { barrier = "io", camera = "cam9" }',
        "lanes[0].devices.camera: unknown device 'cam9'; declared devices: cam, disp, io, io2",
    ),
    (
        "two-lanes-one-device",
        'devices = { barrier = "io2", display = "disp" }',
        'devices = { barrier = "io" }',
        "lanes[1].devices.barrier: device 'io' is already used by lane 'in' (lanes[0].devices.barrier)",
    ),
    (
        "serial-port-twice",
        'port = "/dev/ttyUSB1"',
        'port = "/dev/ttyUSB0"',
        "devices.disp.connection.port: serial port '/dev/ttyUSB0' is given twice (also devices.io)",
    ),
    (
        "bad-time-zone",
        'timezone = "Asia/Shanghai"',
        'timezone = "Asia/Beijing"',
        "car_park.timezone: unknown time zone 'Asia/Beijing'",
    ),
    (
        "unknown-currency",
        'currency = "CNY"',
        'currency = "RMB"',
        "car_park.currency: unknown currency 'RMB' (use an ISO 4217 code such as CNY)",
    ),
    (
        "missing-tariff-file",
        'file = "tariffs/residential.toml"',
        'file = "tariffs/visitor.toml"',
        "tariffs.residential.file: tariff file 'tariffs/visitor.toml' not found",
    ),
    (
        "same-modbus-unit-on-bus",
        "modbus = { unit_id = 2 }",
        "modbus = { unit_id = 1 }",
        "devices.io2.modbus.unit_id: Modbus unit id 1 is used twice on bus '/dev/ttyUSB0' (also devices.io)",
    ),
    (
        "wrong-kind-in-slot",
        'devices = { barrier = "io", camera = "cam" }',
        'devices = { barrier = "io", camera = "disp" }',
        "lanes[0].devices.camera: device 'disp' is a display; slot 'camera' takes plate_camera",
    ),
    (
        "exit-without-tariff",
        'tariff = "residential"\n',
        "",
        "lanes[1].tariff: an exit lane needs a tariff to charge temporary vehicles",
    ),
    (
        "unknown-tariff",
        'tariff = "residential"',
        'tariff = "visitor"',
        "lanes[1].tariff: unknown tariff 'visitor'; declared tariffs: residential",
    ),
    (
        "unknown-driver",
        'driver = "serial_text"',
        'driver = "led_magic"',
        "devices.disp.driver: unknown driver 'led_magic' for a display; known: serial_text",
    ),
    (
        "bad-baud-rate",
        'port = "/dev/ttyUSB1" }',
        'port = "/dev/ttyUSB1", baudrate = 9601 }',
        "devices.disp.connection.baudrate: Input should be 1200, 2400, 4800, 9600, 19200, 38400, 57600 or 115200, "
        "got 9601",
    ),
    (
        "inline-device-missing-port",
        'devices = { barrier = "io2", display = "disp" }',
        'devices = { barrier = "io2", display = { kind = "display", driver = "serial_text", '
        'connection = { type = "serial" } } }',
        "lanes[1].devices.display.connection.port: required key is missing",
    ),
    ("duplicate-lane-id", 'id = "out"', 'id = "in"', "lanes: Value error, lane id 'in' is used twice"),
    ("toml-syntax", "[journal]", "[journal", "TOML syntax error: "),
    (
        "camera-open-to-anyone",
        ', allow_from = ["192.168.1.64"] }',
        " }",
        "devices.cam.connection.allow_from: the camera listens on 0.0.0.0:8081, beyond loopback, and would accept "
        "pushes from anyone: give allow_from (the camera's addresses) or username and password_env",
    ),
    (
        "camera-bad-address",
        'allow_from = ["192.168.1.64"]',
        'allow_from = ["192.168.1.640"]',
        "devices.cam.connection.allow_from: Value error, '192.168.1.640' is not an IP address or network",
    ),
    (
        "camera-username-without-password",
        'allow_from = ["192.168.1.64"]',
        'username = "camera"',
        "devices.cam.connection.password_env: username and password_env go together",
    ),
    (
        "camera-tls-files-without-mqtts",
        'driver = "hikvision_isapi"\nconnection = { type = "http_listen", listen = "0.0.0.0:8081", path = "/cam", '
        'allow_from = ["192.168.1.64"] }',
        'field_map = "milesight"\ndriver = "json_mqtt"\n'
        'connection = { type = "mqtt", topics = ["lpr/cam"], ca_file = "ca.crt" }',
        "devices.cam.connection.ca_file: TLS files need an mqtts:// broker",
    ),
    (
        "io-map-unknown-point",
        "safety_loop = { address = 3 }",
        "safty_loop = { address = 3 }",
        "devices.io.io_map.safty_loop: unknown key",
    ),
    (
        "io-point-out-of-range",
        "close = { address = 1 }, safety_loop",
        "close = { address = 70000 }, safety_loop",
        "devices.io.io_map.close: Value error, address 70000 is not in 0..65535",
    ),
    (
        "io-point-bit-with-bits-addressing",
        "safety_loop = { address = 3 }",
        "safety_loop = { address = 3, bit = 2 }",
        "devices.io.io_map: I/O point safety_loop has a bit but addressing is 'bits'",
    ),
    (
        "negative-capacity",
        "capacity = { small = 10 }",
        "capacity = { small = -1 }",
        "car_park.capacity.small: Input should be greater than or equal to 0",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_variant_gets_its_specific_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, expected: str
) -> None:
    assert old in BASE
    code, out, err = check(tmp_path, BASE.replace(old, new, 1), capsys)
    assert code == 1
    assert out == ""
    assert expected in err, err
    assert "Traceback" not in err


def test_camera_on_loopback_or_with_credentials_needs_no_addresses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = 'listen = "0.0.0.0:8081", path = "/cam", allow_from = ["192.168.1.64"]'
    credentials = 'username = "hik", password_env = "CAM_PASSWORD", auth = "basic"'
    for new in ('listen = "127.0.0.1:8081", path = "/cam"', f'listen = "0.0.0.0:8081", {credentials}'):
        code, _out, err = check(tmp_path, BASE.replace(old, new), capsys)
        assert (code, err) == (0, ""), err


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = BASE.replace('currency = "CNY"', 'currency = "RMB"').replace('"Asia/Shanghai"', '"Mars/Olympus"')
    with pytest.raises(SiteError) as caught:
        load_site(write_site(tmp_path, text))
    paths = [p.path for p in caught.value.problems]
    assert paths == ["car_park.timezone", "car_park.currency"]


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(tmp_path / "nope.toml")]) == 1
    err = capsys.readouterr().err
    assert "cannot read the site file: No such file or directory" in err


def test_command_line_exit_status_and_no_traceback(tmp_path: Path) -> None:
    site = write_site(tmp_path, BASE.replace('currency = "CNY"', 'currency = "XXX"'))
    result = subprocess.run(
        [sys.executable, "-m", "parking", "config", "check", str(site)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "car_park.currency: unknown currency 'XXX'" in result.stderr
    assert "Traceback" not in result.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "parking", "config", "check", str(CONFIG / "small.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert summary(load_site(CONFIG / "small.toml")) in ok.stdout


def test_help_lists_subcommands() -> None:
    result = subprocess.run([sys.executable, "-m", "parking", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "config" in result.stdout
    assert "--log-level" in result.stdout


def test_a_bad_value_inside_an_inline_device_is_named(tmp_path: Path) -> None:
    """Found by tests/edge/site/test_loader_fuzz.py: a string where an inline device wants a table (here
    ``io_map.close``) was dropped with the "it was a device name" branch, leaving a SiteError with no problem."""
    inline = ('barrier = { kind = "barrier_io", driver = "modbus_io", modbus = { unit_id = 1 }, '
              'connection = { type = "serial", port = "/dev/ttyUSB0" }, '
              'io_map = { open = { address = 0 }, close = "x" } }')  # fmt: skip
    text = BASE.replace('devices = { barrier = "io", camera = "cam" }', f'devices = {{ {inline}, camera = "cam" }}')
    with pytest.raises(SiteError) as caught:
        load_site(write_site(tmp_path, text))
    paths = [p.path for p in caught.value.problems]
    assert "lanes[0].devices.barrier.io_map.close" in paths, caught.value.problems


def test_a_file_name_with_a_nul_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    """Found by tests/edge/site/test_loader_fuzz.py: resolving a tariff file name holding "\\x00" raised ValueError."""
    text = BASE.replace('file = "tariffs/residential.toml"', 'file = "tariffs/resi\\u0000dential.toml"')
    with pytest.raises(SiteError) as caught:
        load_site(write_site(tmp_path, text))
    assert [str(p) for p in caught.value.problems if p.path == "tariffs.residential.file"] == [
        "tariffs.residential.file: a file name cannot hold a NUL character"
    ]
