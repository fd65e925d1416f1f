"""The testbed's process handling: deadlines with log tails, and stopping only what it started.

Real processes (``sh``, ``sleep``, and for the CLI a real RabbitMQ), no mocks.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed import faults
from testbed.bed import Bed, ServiceError, alive, session_members
from testbed.venv import default_venv
from tests.support.servers import require

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bed() -> Iterator[Bed]:
    root = Path(tempfile.mkdtemp(prefix="testbed-unit-", dir="/tmp"))
    root.chmod(0o755)
    made = Bed(root, default_venv())
    try:
        yield made
    finally:
        made.stop(timeout=5)
        left = made.leftovers()
        shutil.rmtree(root, ignore_errors=True)
        assert left == []


def test_deadline_fails_with_the_log_tail(bed: Bed) -> None:
    proc = bed.spawn("demo", "demo", ["sh", "-c", "echo 'fatal: no database'; exec sleep 60"])
    with pytest.raises(ServiceError) as failure:
        bed.wait(proc, "demo ready", lambda: False, timeout=0.5, interval=0.05)
    message = str(failure.value)
    assert "demo ready not ready after" in message
    assert "fatal: no database" in message
    assert proc.running


def test_a_dead_process_fails_the_wait_at_once(bed: Bed) -> None:
    proc = bed.spawn("demo", "demo", ["sh", "-c", "echo 'cannot bind'; exit 3"])
    with pytest.raises(ServiceError) as failure:
        bed.wait(proc, "demo ready", lambda: False, timeout=30, interval=0.05)
    assert "exited while waiting" in str(failure.value)
    assert "cannot bind" in str(failure.value)


def test_a_failing_command_says_which_and_why(bed: Bed) -> None:
    with pytest.raises(ServiceError) as failure:
        bed.run("demo", "demo-sync", ["sh", "-c", "echo 'migration 42 failed' >&2; exit 1"])
    assert "demo-sync exited with status 1" in str(failure.value)
    assert "migration 42 failed" in str(failure.value)


def test_stop_ends_the_whole_session_and_nothing_else(bed: Bed) -> None:
    proc = bed.spawn("demo", "demo", ["sh", "-c", "sleep 60 & sleep 60 & wait"])
    bed.wait(proc, "children", lambda: len(session_members(proc.pid)) == 3, timeout=10)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        assert bed.stop() == ["demo"]
        assert session_members(proc.pid) == []
        assert alive(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


def test_stop_spares_a_pid_that_was_reused(bed: Bed) -> None:
    """A recorded pid whose start time differs belongs to someone else now."""
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        state = bed.root / "state.json"
        proc = bed.spawn("demo", "demo", ["true"])
        bed.wait(None, "true exits", lambda: not proc.running, timeout=10)
        data = json.loads(state.read_text())
        data["procs"][0].update(pid=stranger.pid, started=1)
        state.write_text(json.dumps(data))
        Bed(bed.root, bed.venv).stop()
        assert alive(stranger.pid)
    finally:
        stranger.kill()
        stranger.wait()


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TESTBED_DIR": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "testbed", *args],
        cwd=CHECKOUT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_cli_down_leaves_no_process_behind(bed: Bed) -> None:
    require(os.access("/usr/lib/rabbitmq/bin/rabbitmq-server", os.X_OK), "rabbitmq-server missing")
    started = _cli(bed.root, "up", "rabbitmq")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "rabbitmq" in started.stdout
    state = json.loads((bed.root / "state.json").read_text())
    pids = [p["pid"] for p in state["procs"]]
    ports = [state["ports"]["rabbitmq"], state["ports"]["epmd"]]
    assert all(_listening(p) for p in ports)
    stopped = _cli(bed.root, "down")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not any(alive(pid) for pid in pids)
    assert not any(session_members(pid) for pid in pids)
    assert not any(_listening(p) for p in ports)


@pytest.mark.slow
def test_cli_up_failure_names_the_service_and_stops_everything(bed: Bed) -> None:
    """PostgreSQL cannot bind its port: the start fails with its log, nothing keeps running."""
    require(os.access("/usr/lib/postgresql/15/bin/postgres", os.X_OK), "postgresql-15 missing")
    require(os.geteuid() == 0, "PostgreSQL runs as user postgres: needs root")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        (bed.root / "state.json").write_text(json.dumps({"ports": {"postgres": port}}))
        failed = _cli(bed.root, "up", "keystone")
    assert failed.returncode == 1
    assert "postgres:" in failed.stderr
    assert "could not" in failed.stderr  # PostgreSQL's own words from its log tail
    state = json.loads((bed.root / "state.json").read_text())
    assert state["procs"] == []
    assert bed.leftovers() == []


def test_logged_command_lines_hide_credentials(bed: Bed) -> None:
    password = bed.secret("demo", "s3cret-value")
    bed.run("demo", "demo-user", ["sh", "-c", f"true '{password}'"])
    logged = (bed.logs / "demo-user.log").read_text()
    assert password not in logged
    assert "***" in logged


def test_freeze_and_thaw_reach_the_whole_session(bed: Bed) -> None:
    proc = bed.spawn("demo", "demo", ["sh", "-c", "sleep 60 & wait"])
    bed.wait(proc, "child", lambda: len(session_members(proc.pid)) == 2, timeout=10)
    assert [p.pid for p in faults.freeze(bed, "demo")] == [proc.pid]
    assert {_state(pid) for pid in session_members(proc.pid)} == {"T"}
    assert proc.frozen
    faults.thaw(bed, "demo", "demo")
    assert "T" not in {_state(pid) for pid in session_members(proc.pid)}
    assert not proc.frozen


def test_stop_keeps_the_record_and_restart_runs_it_again_alike(bed: Bed) -> None:
    """Same command, added environment and directory; a new pid in place of the old."""
    workdir = bed.service_dir("demo") / "work"
    workdir.mkdir()
    script = 'echo "$TESTBED_DEMO $PWD" >> out; exec sleep 60'
    first = bed.spawn("demo", "demo", ["sh", "-c", script], env={"TESTBED_DEMO": "x"}, cwd=workdir)
    other = bed.spawn("other", "other", ["sleep", "60"])
    bed.wait(first, "output", (workdir / "out").exists, timeout=10)
    assert [p.pid for p in faults.stop(bed, "demo")] == [first.pid]
    assert not first.running
    assert other.running
    assert [p.pid for p in bed.procs("demo")] == [first.pid]  # still recorded
    with pytest.raises(ServiceError):
        faults.freeze(bed, "demo")  # nothing of it runs
    [second] = faults.restart(bed, "demo", "demo")
    assert second.pid != first.pid
    assert second.running
    assert [p.pid for p in bed.procs("demo")] == [second.pid]
    bed.wait(second, "output", lambda: len((workdir / "out").read_text().splitlines()) == 2)
    assert (workdir / "out").read_text() == f"x {workdir}\n" * 2
    assert Bed(bed.root, bed.venv).procs("demo")[0].pid == second.pid  # in state.json


def test_faults_name_only_recorded_processes(bed: Bed) -> None:
    bed.spawn("demo", "demo", ["sleep", "60"])
    with pytest.raises(KeyError, match="demo has demo"):
        faults.stop(bed, "demo", "demo-2")
    with pytest.raises(KeyError, match="no recorded process nova"):
        faults.freeze(bed, "nova")


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def test_cli_fault_verbs_act_on_recorded_processes(bed: Bed) -> None:
    """Another process (the CLI) freezes, thaws and restarts; this Bed sees its records."""
    first = bed.spawn("demo", "demo", ["sleep", "60"])
    frozen = _cli(bed.root, "freeze", "demo", "demo")
    assert frozen.returncode == 0, frozen.stderr
    assert f"demo (pid {first.pid})" in frozen.stdout
    assert _state(first.pid) == "T"
    assert _cli(bed.root, "thaw", "demo").returncode == 0
    assert _state(first.pid) != "T"
    restarted = _cli(bed.root, "restart", "demo")
    assert restarted.returncode == 0, restarted.stderr
    [second] = bed.procs("demo")
    assert second.pid != first.pid
    assert second.running
    assert not first.running
    unknown = _cli(bed.root, "stop", "demo", "nothing-such")
    assert unknown.returncode == 1
    assert "no recorded process demo/nothing-such" in unknown.stderr


def test_kill_skips_the_graceful_shutdown_that_stop_runs(bed: Bed) -> None:
    marker = bed.service_dir("demo") / "terminated"
    script = f"trap 'echo term >> {marker}; exit 0' TERM; echo ready; while :; do sleep 0.1; done"
    proc = bed.spawn("demo", "demo", ["sh", "-c", script])
    bed.wait(proc, "trap set", lambda: "ready" in proc.log.read_text(), timeout=10)
    assert [p.pid for p in faults.kill(bed, "demo")] == [proc.pid]
    assert session_members(proc.pid) == []
    assert not marker.exists()
    [again] = faults.restart(bed, "demo")
    bed.wait(again, "trap set", lambda: proc.log.read_text().count("ready") == 2, timeout=10)
    faults.stop(bed, "demo")
    assert marker.read_text() == "term\n"
