"""The site file's ``[central]`` TLS files, and an MQTT camera's checked the same way: each problem names its key (a
missing file, a file that is not PEM, a key that is not the certificate's, a certificate without its key, TLS files
with an ``http://`` url), and a sound set loads and reaches the edge's client."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.site import SiteError, central_tls, load_site, summary
from tests.edge.console.test_api import site_text, write_site
from tests.pki import TestCa


def site_with(folder: Path, url: str, **files: str) -> Path:
    lines = "".join(f'{key} = "{value}"\n' for key, value in files.items())
    text = site_text(central_url=url).replace('edge_id = "lakeview-edge"\n', f'edge_id = "lakeview-edge"\n{lines}')
    return write_site(folder, text)


def problems(site_file: Path) -> list[tuple[str, str]]:
    with pytest.raises(SiteError) as caught:
        load_site(site_file)
    return [(p.path, p.message) for p in caught.value.problems]


@pytest.fixture
def pki(tmp_path: Path) -> TestCa:
    (tmp_path / "tls").mkdir()
    ca = TestCa(tmp_path / "tls", "site")
    ca.issue("edge", server=False)
    other = TestCa(tmp_path / "tls", "other")
    other.issue("stranger", server=False)
    (tmp_path / "tls" / "notes.txt").write_text("not a certificate\n")
    return ca


def test_sound_tls_files_load_relative_to_the_site_file(tmp_path: Path, pki: TestCa) -> None:
    site_file = site_with(tmp_path, "https://central.example:8400", ca_file="tls/site-ca.crt",
                          cert_file="tls/edge.crt", key_file="tls/edge.key")  # fmt: skip
    loaded = load_site(site_file)
    assert "over TLS (trusting tls/site-ca.crt, with a client certificate)" in summary(loaded)
    central = loaded.central
    assert central is not None
    tls = central_tls(central, site_file.parent)
    assert tls is not None
    assert (tls.ca_file, tls.cert_file, tls.key_file) == (tmp_path / "tls/site-ca.crt", tmp_path / "tls/edge.crt",
                                                          tmp_path / "tls/edge.key")  # fmt: skip
    assert tls.context().verify_mode.name == "CERT_REQUIRED"
    plain = load_site(site_with(tmp_path, "http://127.0.0.1:8400")).central
    assert plain is not None
    assert central_tls(plain, tmp_path) is None  # plain HTTP stays as it was


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"ca_file": "tls/nope.crt"}, [("central.ca_file", "file 'TMP/tls/nope.crt' not found")]),
        ({"ca_file": "tls/notes.txt"}, [("central.ca_file", "'TMP/tls/notes.txt' is not a PEM CA certificate")]),
        ({"ca_file": "tls/site-ca.crt", "cert_file": "tls/edge.crt"},
         [("central.key_file", "a client certificate needs cert_file and key_file")]),
        ({"cert_file": "tls/edge.key", "key_file": "tls/edge.crt"},
         [("central.cert_file", "'TMP/tls/edge.key' is not a PEM certificate"),
          ("central.key_file", "'TMP/tls/edge.crt' is not a PEM private key")]),
        ({"cert_file": "tls/edge.crt", "key_file": "tls/stranger.key"},
         [("central.key_file", "'TMP/tls/stranger.key' is not the key of the certificate in central.cert_file")]),
    ],
)  # fmt: skip
def test_each_problem_names_its_key(
    tmp_path: Path, pki: TestCa, files: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    found = problems(site_with(tmp_path, "https://central.example", **files))
    assert [path for path, _ in found] == [path for path, _ in expected]
    for (_, message), (_, start) in zip(found, expected, strict=True):
        assert message.startswith(start.replace("TMP", str(tmp_path))), message


def test_tls_files_need_an_https_url(tmp_path: Path, pki: TestCa) -> None:
    found = problems(site_with(tmp_path, "http://central.example", ca_file="tls/site-ca.crt"))
    assert found == [("central.ca_file", "TLS files need an https:// url")]


def test_an_mqtt_cameras_tls_files_are_checked_the_same_way(tmp_path: Path, pki: TestCa) -> None:
    camera = (
        '[devices.cam]\nkind = "plate_camera"\ndriver = "json_mqtt"\nfield_map = "milesight"\n'
        'connection = { type = "mqtt", broker = "mqtts://broker.lan:8883", topics = ["lpr/cam/events"], '
        'username = "edge", password_env = "MQTT_PASSWORD", ca_file = "tls/notes.txt", cert_file = "tls/edge.crt", '
        'key_file = "tls/stranger.key" }\n\n'
    )
    text = site_text().replace("[[lanes]]", camera + "[[lanes]]", 1)
    found = problems(write_site(tmp_path, text))
    assert found == [("devices.cam.connection.ca_file", f"'{tmp_path}/tls/notes.txt' is not a PEM CA certificate")]
    text = text.replace("tls/notes.txt", "tls/site-ca.crt")
    found = problems(write_site(tmp_path, text))
    assert [path for path, _ in found] == ["devices.cam.connection.key_file"]
    assert "is not the key of the certificate in devices.cam.connection.cert_file" in found[0][1]
    load_site(write_site(tmp_path, text.replace("tls/stranger.key", "tls/edge.key")))
