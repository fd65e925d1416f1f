"""The container image under test: built once per session by ``make image`` (started in the
background as soon as the session knows it has image tests, so the build overlaps the other
tests), and containers run from it with Podman, each named and removed by the test."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.exporter import REPO
from tests.support.servers import require

IMAGE = "localhost/openstack-telemetry-bridge:latest"
# As in the Makefile: runc, ulimits within the host's hard limits, the host's network.
PODMAN = ("--runtime", "runc", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096")


class Build:
    """``make image`` in the background, its output in ``log``."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.proc is not None or shutil.which("podman") is None:
            return
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["make", "--no-print-directory", "image"],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait(self) -> str:
        """The build's output once it is done; fails the test when it failed."""
        require(shutil.which("podman") is not None, "podman (Debian package podman) missing")
        self.start()
        assert self.proc is not None
        code = self.proc.wait()
        output = self.log.read_text(errors="replace")
        assert code == 0, f"make image failed ({code}):\n{output[-4000:]}"
        return output


def podman(*args: str, check: bool = True, timeout: float = 120) -> str:
    done = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {done.returncode}\n{done.stderr}")
    return done.stdout


@dataclass
class Container:
    name: str

    def logs(self) -> str:
        done = subprocess.run(
            ["podman", "logs", self.name], capture_output=True, text=True, check=False
        )
        return done.stdout + done.stderr

    def running(self) -> bool:
        state = podman("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return state.strip() == "true"

    def kill(self) -> None:
        """SIGKILL: a crash, not a stop."""
        podman("kill", "--signal", "KILL", self.name, check=False)
        podman("wait", self.name, check=False)

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        """The image's HEALTHCHECK, run now (no systemd timers here to run it)."""
        return subprocess.run(
            ["podman", "healthcheck", "run", self.name],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def user(self) -> str:
        return podman("exec", self.name, "python3", "-c", "import os; print(os.getuid())").strip()


def run_args(name: str, options: Sequence[str], command: Sequence[str]) -> list[str]:
    """``podman run`` of ``command`` in the image, detached, as a test runs it."""
    network = [] if any(o.startswith("--network") for o in options) else ["--network=host"]
    return [
        "run", "--detach", "--name", name, *PODMAN, *network,
        # No systemd here to run the health check's timer: the tests run it on demand.
        "--health-interval", "disable",
        *options, IMAGE, *command,
    ]  # fmt: skip


@contextmanager
def containers() -> Iterator[ContainerPool]:
    pool = ContainerPool()
    try:
        yield pool
    finally:
        for name in pool.names:
            podman("rm", "--force", "--time", "5", name, check=False)
        for volume in pool.volumes:
            podman("volume", "rm", "--force", volume, check=False)


class ContainerPool:
    """The containers and volumes of one test, removed at its end (by name: ours only)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.volumes: list[str] = []
        self.tag = uuid.uuid4().hex[:8]

    def volume(self, role: str) -> str:
        name = f"otb-test-{role}-{self.tag}"
        podman("volume", "create", name)
        self.volumes.append(name)
        return name

    def run(self, role: str, options: Sequence[str], command: Sequence[str]) -> Container:
        name = f"otb-test-{role}-{self.tag}-{len(self.names)}"
        self.names.append(name)
        podman(*run_args(name, options, command))
        return Container(name)


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def wait_http(container: Container, port: int, path: str, timeout: float = 90.0) -> str:
    """The body of ``path`` once it answers 200; fails with the container's logs."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, body = get(port, path)
            if status == 200:
                return body
        except OSError:
            pass
        assert container.running(), container.logs()
        assert time.monotonic() < deadline, f"{path} never answered:\n{container.logs()}"
        time.sleep(0.5)


def readable_copy(source: Path, target: Path) -> Path:
    """A copy the image's unprivileged user can read once mounted (mode 0644; the directory
    holding it stays private to the host's root)."""
    shutil.copyfile(source, target)
    os.chmod(target, 0o644)
    return target
