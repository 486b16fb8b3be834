"""``parkgate demo`` as a user runs it: central and the edge as processes, simulated lanes, seeded traffic. What it
prints is checked, and so are its artefacts: the edge's journal (``parkgate edge status`` / ``verify``), central's
SQLite database, and that no process of the run is left behind."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from central.core.config import Settings
from central.main import create_app
from simulators.demo import Demo, DemoError
from simulators.demo_processes import Child, parkgate
from simulators.traffic import SHOWCASE, ReadFault, TrafficMix, VehicleKind, plan_traffic
from tests.central.office import csrf_of

REPO = Path(__file__).resolve().parents[2]


def run_demo(workdir: Path, seconds: float, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "parking", "demo", "--duration", str(seconds), "--workdir", str(workdir)],
        capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env, check=False,
    )  # fmt: skip


def parkgate_out(*args: str) -> str:
    done = subprocess.run(parkgate(*args), capture_output=True, text=True, timeout=60, cwd=REPO, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def processes_using(folder: Path) -> list[str]:
    """Every live process whose command line names ``folder`` (central's database, the edge's site file)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            status = (entry / "status").read_text()
        except OSError:
            continue
        if str(folder) in cmdline and "State:\tZ" not in status:
            found.append(f"{entry.name}: {cmdline}")
    return found


def check_artefacts(workdir: Path, output: str) -> None:
    site = workdir / "site.toml"
    status = parkgate_out("edge", "status", "--config", str(site))
    records = int(re.search(r"journal .*: (\d+) records, (\d+) not yet acknowledged", status).group(1))  # type: ignore[union-attr]
    assert records > 20
    assert "journal OK" in parkgate_out("edge", "verify", "--config", str(site))
    journal = sqlite3.connect(workdir / "edge" / "journal.sqlite3")
    sessions = dict(journal.execute("SELECT kind, count(*) FROM sessions GROUP BY kind").fetchall())
    closed = journal.execute("SELECT count(*) FROM sessions WHERE status = 'closed'").fetchone()[0]
    journal.close()
    assert sessions.get("pass", 0) >= 1
    assert sessions.get("temporary", 0) >= 1
    assert sessions.get("free", 0) >= 1
    assert closed >= 3  # vehicles left
    central = sqlite3.connect(workdir / "central.sqlite3")
    delivered = central.execute("SELECT count(*) FROM edge_records WHERE edge_id = 'demo-edge'").fetchone()[0]
    kinds = {row[0] for row in central.execute("SELECT transaction_kind FROM edge_transactions")}
    paid = central.execute("SELECT sum(amount) FROM money_records WHERE kind = 'transaction' AND event = 'payment' "
                           "AND method = 'cash'")  # fmt: skip
    takings = paid.fetchone()[0]
    scanned = central.execute("SELECT amount FROM money_records WHERE kind = 'transaction' AND event = 'payment' "
                              "AND method = 'epay'").fetchall()  # fmt: skip
    orders = central.execute("SELECT provider, amount FROM payment_orders WHERE state = 'paid'").fetchall()
    central.close()
    assert scanned, "no scan-to-pay payment reached central"
    assert scanned == [(500,)] * len(scanned)
    assert orders == [("wechat", 500)] * len(scanned)  # each journaled e-payment is a paid order at central
    assert f"scan-to-pay 5.00 CNY by phone at the unattended exit ({len(scanned)} payments" in output
    assert delivered == records
    assert {"pass", "payment"} <= kinds
    assert takings
    assert takings % 500 == 0
    assert f"{takings // 100}.00 CNY in cash at the booth" in output


def supervisors_queue(workdir: Path, username: str, password: str) -> str:
    """The reconciliation queue's shifts to review today, as the demo's supervisor sees them in the office console
    (central on the demo's SQLite database, signed in through the form)."""
    settings = Settings(database_url=f"sqlite:///{workdir / 'central.sqlite3'}", bootstrap_admin_password=None)
    with TestClient(create_app(settings)) as office:
        token = csrf_of(office, "/office/sign-in")
        signed = office.post("/office/sign-in", data={"csrf_token": token, "username": username,
                                                      "password": password}, follow_redirects=False)  # fmt: skip
        assert signed.status_code == 303, signed.text
        page = office.get("/office/reconciliation")
        assert page.status_code == 200, page.text
    html: str = page.text
    return html.split('class="queue" data-state="to_review"', 1)[1].split("</section>", 1)[0]


@pytest.mark.slow
def test_demo_runs_the_whole_system_and_leaves_nothing_behind(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    started = time.monotonic()
    done = run_demo(workdir, 25, timeout=110)
    output = done.stdout
    assert done.returncode == 0, output + done.stderr
    assert time.monotonic() - started < 90
    for expected in ("central    pid", "edge       pid", "booth      collector c01 signed in",
                     "-> open (pass): monthly pass", "-> open (temporary): plate not on any list",
                     "-> open (free): free vehicle", "camera read '", "booth: cash 5.00 paid", "journal OK:",
                     "demo finished: OK", "/pay/lane/demo/out-2", "phone: scanned the lane's code, paid 5.00 by WeChat",
                     "provider   WeChat Pay and Alipay simulator http://127.0.0.1:"):  # fmt: skip
        assert expected in output, f"{expected!r} not in:\n{output}"
    entered = int(re.search(r"vehicles   (\d+) in, (\d+) out", output).group(1))  # type: ignore[union-attr]
    left = int(re.search(r"vehicles   (\d+) in, (\d+) out", output).group(2))  # type: ignore[union-attr]
    assert entered >= 5
    assert left >= 3
    assert "did not get through" not in output
    delivered = re.search(r"central    (\d+) of the journal's (\d+) records received", output)
    assert delivered, output
    assert delivered.group(1) == delivered.group(2)  # the demo waits for central's acknowledgements before stopping
    assert re.search(r"office     http://127\.0\.0\.1:\d+/office/", output), output
    for role in ("front_desk", "cashier", "supervisor", "office", "auditor", "collector"):
        assert re.search(rf"{role} +demo-{role.replace('_', '-')} / \S{{8,}}", output), role
    with sqlite3.connect(workdir / "central.sqlite3") as db:
        roles = {row[0] for row in db.execute("SELECT role FROM users")}
    assert roles == {"admin", "front_desk", "cashier", "supervisor", "office", "auditor", "collector"}
    check_artefacts(workdir, output)
    closed = re.search(r"collector c01 closed shift (\S+), cash counted", output)
    assert closed, output
    supervisor = re.search(r"supervisor +demo-supervisor / (\S+)", output)
    assert supervisor, output
    assert f'data-shift="{closed[1]}"' in supervisors_queue(workdir, "demo-supervisor", supervisor[1])
    assert processes_using(workdir) == []
    assert not list((workdir / "pty").iterdir()) or all(not p.exists() for p in (workdir / "pty").iterdir())


def test_a_work_folder_that_cannot_be_used_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = run_demo(blocker / "demo", 5, timeout=60)
    assert done.returncode == 1
    assert "parkgate demo: cannot use" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


async def test_a_component_that_exits_while_starting_is_named_with_its_log(tmp_path: Path) -> None:
    demo = Demo(tmp_path, 1, seed=1)
    child = Child("central", [sys.executable, "-c", "import sys; print('no database', file=sys.stderr); sys.exit(3)"],
                  tmp_path / "central.log", dict(os.environ))  # fmt: skip
    await child.start()
    with pytest.raises(DemoError, match=r"central exited with status 3 while starting(.|\n)*no database"):
        await demo._wait("central", lambda: False, child, within=20)
    assert await child.stop(within=5) == 3


async def test_a_child_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    child = Child("stubborn", [sys.executable, "-u", "-c", script], tmp_path / "log", dict(os.environ))
    await child.start()
    await asyncio.sleep(0.5)
    assert await child.stop(within=1) == -9
    assert child.pid is not None
    assert not await asyncio.to_thread(Path(f"/proc/{child.pid}").exists)


# ------------------------------------------------------------------------------------------- the plan


MIX = TrafficMix(
    pass_plates=("粤B3R7K2", "粤B8D2Z5"), free_plates=("粤B1234警", "粤A120J9"), entry_lanes=("in-1", "in-2"),
    attended_exits=("out-1",), unattended_exits=("out-2",), opening=SHOWCASE,
)  # fmt: skip


def test_the_plan_is_the_same_for_the_same_seed_and_shows_every_case_first() -> None:
    day = plan_traffic(7, 500, MIX)
    assert day == plan_traffic(7, 500, MIX)
    assert day != plan_traffic(8, 500, MIX)
    opening = [(v.kind, v.entry_fault, v.exit_fault) for v in day[: len(SHOWCASE)]]
    assert opening == list(SHOWCASE)
    kinds = {v.kind for v in day}
    assert kinds == set(VehicleKind) - {VehicleKind.SPECIAL}  # special vehicles come in the scenarios' plans
    assert all(v.exit_lane == "out-1" for v in day if v.kind is VehicleKind.VISITOR)  # the booth takes their fee
    assert {v.exit_lane for v in day if v.kind is not VehicleKind.VISITOR} == {"out-1", "out-2"}
    misreads = sum(v.entry_fault is ReadFault.MISREAD for v in day)
    no_reads = sum(v.exit_fault is ReadFault.NO_READ for v in day)
    assert 20 < misreads < 120
    assert 10 < no_reads < 100
    assert all(a.arrive_s <= b.arrive_s for a, b in itertools.pairwise(day))


def test_a_pass_comes_back_only_after_its_planned_exit() -> None:
    day = plan_traffic(3, 400, MIX)
    out_at: dict[str, float] = {}
    for visit in day:
        assert visit.arrive_s > out_at.get(visit.plate, -1.0), visit
        out_at[visit.plate] = visit.arrive_s + visit.stay_s
    visitors = [v.plate for v in day if v.kind is VehicleKind.VISITOR]
    assert len(visitors) == len(set(visitors))
    assert all(len(p) in (7, 8) and p.startswith("粤") and "I" not in p[2:] and "O" not in p[2:] for p in visitors)


# ------------------------------------------------------------------------------------------- the soak


@pytest.mark.soak
@pytest.mark.timeout(1200)
def test_a_car_park_day_for_ten_minutes(tmp_path: Path) -> None:
    """Hundreds of vehicles through the real processes: nobody stuck, every record at central, the chain intact."""
    workdir = tmp_path / "soak"
    done = run_demo(workdir, 600, timeout=1100)
    output = done.stdout
    (tmp_path / "demo.out").write_text(output + done.stderr)
    assert done.returncode == 0, output[-5000:] + done.stderr[-5000:]
    entered = int(re.search(r"vehicles   (\d+) in, (\d+) out", output).group(1))  # type: ignore[union-attr]
    assert entered > 150
    assert "did not get through" not in output
    # Nothing went wrong in the edge but, on a loaded machine, a Modbus poll answered late now and then (the
    # driver polls again 40 ms later): fewer of those than vehicles.
    problems = [line for line in output.splitlines() if re.match(r"\s+\d+ x ", line)]
    late = sum(int(line.split()[0]) for line in problems if "No response received" in line)
    assert len(problems) == (1 if late else 0), problems
    assert late < entered
    assert re.search(r"office     http://127\.0\.0\.1:\d+/office/", output), output
    for role in ("front_desk", "cashier", "supervisor", "office", "auditor", "collector"):
        assert re.search(rf"{role} +demo-{role.replace('_', '-')} / \S{{8,}}", output), role
    with sqlite3.connect(workdir / "central.sqlite3") as db:
        roles = {row[0] for row in db.execute("SELECT role FROM users")}
    assert roles == {"admin", "front_desk", "cashier", "supervisor", "office", "auditor", "collector"}
    check_artefacts(workdir, output)
    closed = re.search(r"collector c01 closed shift (\S+), cash counted", output)
    assert closed, output
    supervisor = re.search(r"supervisor +demo-supervisor / (\S+)", output)
    assert supervisor, output
    assert f'data-shift="{closed[1]}"' in supervisors_queue(workdir, "demo-supervisor", supervisor[1])
    assert processes_using(workdir) == []
