"""``parkgate edge operator ...``: operators added with a PIN from standard input, listed, disabled, audited."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.booth.desk import operators_path
from edge.booth.operators import OperatorStore, Outcome, SignInError
from parking.cli import main
from tests.edge.console.test_api import site_text, write_site


def parkgate(monkeypatch: pytest.MonkeyPatch, stdin: str, *args: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(list(args))


def test_operators_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    site = str(write_site(tmp_path, site_text()))
    add = ("edge", "operator", "add", "--config", site, "--by", "admin")
    assert parkgate(monkeypatch, "2468\n", *add, "--id", "c01", "--name", "李收费") == 0
    assert parkgate(monkeypatch, "1357\n", *add, "--id", "s01", "--name", "王主管", "--role", "supervisor") == 0
    assert parkgate(monkeypatch, "12\n", *add, "--id", "c02", "--name", "短") == 1  # not 4 to 8 digits
    assert parkgate(monkeypatch, "5555\n", *add, "--id", "c01", "--name", "again") == 1  # exists already
    assert "PIN is 4 to 8 digits" in capsys.readouterr().err
    assert parkgate(monkeypatch, "", "edge", "operator", "list", "--config", site) == 0
    assert capsys.readouterr().out.splitlines() == ["c01\t李收费\tcollector\tactive", "s01\t王主管\tsupervisor\tactive"]

    store = OperatorStore(operators_path(tmp_path / "var" / "journal.sqlite3"), clock=lambda: datetime.now(UTC))
    assert store.sign_in("c01", "2468", booth="B1").name == "李收费"
    assert parkgate(monkeypatch, "8642\n", "edge", "operator", "set-pin", "--config", site, "--id", "c01") == 0
    assert store.sign_in("c01", "8642", booth="B1").id == "c01"
    assert parkgate(monkeypatch, "", "edge", "operator", "disable", "--config", site, "--id", "c01") == 0
    with pytest.raises(SignInError) as refused:
        store.sign_in("c01", "8642", booth="B1")
    assert refused.value.outcome is Outcome.DISABLED
    capsys.readouterr()
    assert parkgate(monkeypatch, "", "edge", "operator", "audit", "--config", site, "--id", "c01") == 0
    assert [line.split("\t")[4] for line in capsys.readouterr().out.splitlines()] == ["ok", "ok", "disabled"]
