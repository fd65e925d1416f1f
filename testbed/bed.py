"""The testbed directory: ports, processes and state shared by every service launcher.

Everything a testbed starts is recorded in ``state.json`` under its directory, with the pid,
session id and start time of each process, so that ``down`` (in this process or a later one)
stops exactly the processes it started and nothing else. Each process runs in a session of
its own; stopping it signals every member of that session, so workers forked by a service
go with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"
# Stopped after everything else (see Bed.stop).
INFRASTRUCTURE = frozenset({"postgres", "mariadb", "rabbitmq"})
LOG_TAIL_LINES = 30


class ServiceError(RuntimeError):
    """A service did not come up; the message carries its log tail."""

    def __init__(self, service: str, message: str, log: Path | None = None) -> None:
        tail = f"\n--- last lines of {log} ---\n{tail_of(log)}" if log is not None else ""
        super().__init__(f"{service}: {message}{tail}")
        self.service = service


def tail_of(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"({exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state is [0], session is [3])."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rpartition(")")[2].split()


def start_time(pid: int) -> int | None:
    """Kernel start time of ``pid`` in clock ticks: tells a reused pid from ours."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def alive(pid: int, started: int | None = None) -> bool:
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return started is None or int(fields[19]) == started


def session_members(sid: int) -> list[int]:
    """Every live process of session ``sid``, and every descendant of one.

    Descendants count too: PostgreSQL's postmaster puts each child in a session of its own.
    """
    parent: dict[int, int] = {}
    members: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None or fields[0] in ("Z", "X"):
            continue
        parent[int(entry.name)] = int(fields[1])
        if int(fields[3]) == sid:
            members.add(int(entry.name))
    grew = True
    while grew:
        children = {pid for pid, ppid in parent.items() if ppid in members} - members
        members |= children
        grew = bool(children)
    return sorted(members)


def as_user(user: str, command: list[str]) -> list[str]:
    """``setpriv`` execs the command (unlike ``runuser``), so the pid we record is its own."""
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *command]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Proc:
    """One started process as recorded in the state file.

    ``command``, ``env`` (what the launcher added to the environment) and ``cwd`` are what
    ``Bed.respawn`` starts it again with.
    """

    service: str
    name: str
    pid: int
    started: int
    log: Path
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = ""

    @property
    def running(self) -> bool:
        return alive(self.pid, self.started)

    @property
    def frozen(self) -> bool:
        """Stopped by a signal (SIGSTOP): alive, but runs no code until SIGCONT."""
        fields = _stat_fields(self.pid)
        return self.running and fields is not None and fields[0] == "T"

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "name": self.name,
            "pid": self.pid,
            "started": self.started,
            "log": str(self.log),
            "command": self.command,
            "env": self.env,
            "cwd": self.cwd,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Proc:
        return cls(
            data["service"],
            data["name"],
            int(data["pid"]),
            int(data["started"]),
            Path(data["log"]),
            list(data.get("command", [])),
            dict(data.get("env", {})),
            str(data.get("cwd", "")),
        )


class Bed:
    """A testbed directory and what runs in it; thread-safe, shared by parallel launchers."""

    def __init__(self, root: Path, openstack_venv: Path) -> None:
        self.root = root.resolve()
        self.venv = openstack_venv.resolve()
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._state: dict[str, Any] = {}
        self._load()

    # -- state --------------------------------------------------------------------------

    def _load(self) -> None:
        state: dict[str, Any] = {
            "ports": {}, "procs": [], "services": {}, "secrets": {}, "cpu": {}
        }  # fmt: skip
        path = self.root / STATE_FILE
        if path.exists():
            state.update(json.loads(path.read_text()))
        self._state = state

    @contextlib.contextmanager
    def _synced(self) -> Iterator[None]:
        """The lock, with the state as on disk: another process (``python -m testbed
        restart`` while a test session uses the testbed) may have changed it."""
        with self._lock:
            self._load()
            yield

    def _save(self) -> None:
        path = self.root / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._state, indent=2, sort_keys=True))
        tmp.replace(path)

    def service_dir(self, service: str) -> Path:
        path = self.root / service
        path.mkdir(parents=True, exist_ok=True)
        return path

    def port(self, name: str) -> int:
        """A free loopback port, stable for ``name`` within this testbed directory."""
        with self._synced():
            ports: dict[str, int] = self._state["ports"]
            if name not in ports:
                taken = set(ports.values())
                port = free_port()
                while port in taken:
                    port = free_port()
                ports[name] = port
                self._save()
            return ports[name]

    def secret(self, name: str, default: str) -> str:
        """A credential of this testbed (fixed values: it is a throwaway test cloud)."""
        with self._synced():
            secrets: dict[str, str] = self._state["secrets"]
            if name not in secrets:
                secrets[name] = default
                self._save()
            return secrets[name]

    def redact(self, text: str) -> str:
        """``text`` with every credential of this testbed replaced, for logs."""
        with self._synced():
            secrets = list(self._state["secrets"].values())
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def record(self, service: str, info: Mapping[str, Any]) -> None:
        """Publish what a started service offers (URLs, credentials, ids) to later readers."""
        with self._synced():
            self._state["services"][service] = dict(info)
            self._save()

    def info(self, service: str) -> dict[str, Any]:
        with self._synced():
            found: dict[str, Any] | None = self._state["services"].get(service)
        if found is None:
            raise KeyError(f"service {service!r} has not been started in {self.root}")
        return found

    def started_services(self) -> list[str]:
        with self._synced():
            return list(self._state["services"])

    def procs(self, service: str | None = None) -> list[Proc]:
        with self._synced():
            procs = [Proc.from_json(p) for p in self._state["procs"]]
        return [p for p in procs if service is None or p.service == service]

    # -- processes ----------------------------------------------------------------------

    def os_bin(self, command: str) -> str:
        """A command of the OpenStack virtual environment."""
        return str(self.venv / "bin" / command)

    def _env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OS_", "VIRTUAL_ENV", "PYTHON")) and k != "CI"
        }
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        # Every address here is an IP: eventlet's DNS resolver would only cost import time.
        env["EVENTLET_NO_GREENDNS"] = "yes"
        if extra:
            env.update(extra)
        return env

    def _command(self, name: str, argv: Sequence[str], user: str | None) -> tuple[Path, list[str]]:
        """The log file of ``name`` and the command line, run as ``user`` when given."""
        command = list(argv)
        return self.logs / f"{name}.log", command if user is None else as_user(user, command)

    def spawn(
        self,
        service: str,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> Proc:
        """Start a long-running process in its own session, output to ``logs/NAME.log``."""
        log, command = self._command(name, argv, user)
        directory = cwd or self.service_dir(service)
        proc = self._launch(service, name, command, env=dict(env or {}), cwd=directory, log=log)
        with self._synced():
            self._state["procs"].append(proc.as_json())
            self._save()
        return proc

    def respawn(self, proc: Proc) -> Proc:
        """Start a recorded process again: same command, added environment and directory.

        Its ports come from its command and configuration, so it listens where it did. The
        record is replaced by the new one. The caller stops the old process first.
        """
        if not proc.command:
            raise ServiceError(proc.service, f"{proc.name} was recorded without its command")
        new = self._launch(
            proc.service, proc.name, proc.command, env=proc.env, cwd=Path(proc.cwd), log=proc.log
        )
        with self._synced():
            self._state["procs"] = [
                new.as_json() if _same(p, proc) else p for p in self._state["procs"]
            ]
            self._save()
        return new

    def _launch(
        self,
        service: str,
        name: str,
        command: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        log: Path,
    ) -> Proc:
        with log.open("ab") as out:
            popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._env(env),
                cwd=cwd,
                start_new_session=True,
            )
        started = start_time(popen.pid)
        # A testbed outlives the process that started it (``make testbed``), so stopping
        # goes by the recorded pid; the Popen is kept only to reap the child when we are
        # still its parent (``_reap``).
        _children[popen.pid] = popen
        return Proc(service, name, popen.pid, started or 0, log, command, env, str(cwd))

    def run(
        self,
        service: str,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 120.0,
        user: str | None = None,
    ) -> str:
        """Run a one-shot command to completion; output logged; failure carries its tail.

        Its CPU time is recorded (``cpu`` in the state file): a start on two cores is bound by
        CPU, and this says where it goes. On timeout its whole session is killed.
        """
        log, command = self._command(name, argv, user)
        with log.open("ab") as out:
            out.write(f"$ {self.redact(' '.join(command))}\n".encode())
            out.flush()
            popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=out,
                env=self._env(env),
                cwd=cwd or self.service_dir(service),
                start_new_session=True,
            )
            expired = threading.Event()

            def expire() -> None:
                expired.set()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGKILL)

            timer = threading.Timer(timeout, expire)
            timer.start()
            try:
                assert popen.stdout is not None  # noqa: S101 - PIPE was asked for
                output = popen.stdout.read()
                _, status, usage = os.wait4(popen.pid, 0)
            finally:
                timer.cancel()
                popen.returncode = 0  # reaped above; keeps Popen from waiting again
            out.write(output)
        with self._synced():
            self._state["cpu"][name] = round(usage.ru_utime + usage.ru_stime, 2)
            self._save()
        if expired.is_set():
            raise ServiceError(service, f"{name} did not finish in {timeout:.0f}s", log)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise ServiceError(service, f"{name} exited with status {code}", log)
        return output.decode(errors="replace")

    def python(
        self,
        service: str,
        name: str,
        script: Path,
        *args: str,
        timeout: float = 120.0,
        env: Mapping[str, str] | None = None,
    ) -> str:
        """Run one of ``testbed/seed``'s scripts with the OpenStack environment's Python."""
        return self.run(
            service, name, [self.os_bin("python"), str(script), *args], timeout=timeout, env=env
        )

    # -- waiting ------------------------------------------------------------------------

    def wait(
        self,
        proc: Proc | None,
        what: str,
        check: Callable[[], bool],
        *,
        timeout: float = 60.0,
        interval: float = 0.2,
        service: str | None = None,
    ) -> None:
        """Poll ``check`` until true; fail early if ``proc`` died, late with its log tail."""
        name = service or (proc.service if proc else "testbed")
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            if proc is not None and not proc.running:
                raise ServiceError(name, f"{proc.name} exited while waiting for {what}", proc.log)
            try:
                if check():
                    return
            except Exception as exc:  # noqa: BLE001 - any probe error means "not yet"
                last_error = f" (last probe: {exc})"
            if time.monotonic() > deadline:
                raise ServiceError(
                    name,
                    f"{what} not ready after {timeout:.0f}s{last_error}",
                    proc.log if proc else None,
                )
            time.sleep(interval)

    def wait_http(
        self, proc: Proc, url: str, *, timeout: float = 60.0, ok: Sequence[int] = (200,)
    ) -> None:
        def probe() -> bool:
            return http_status(url) in ok

        self.wait(proc, url, probe, timeout=timeout)

    def wait_tcp(self, proc: Proc, port: int, *, timeout: float = 60.0) -> None:
        def probe() -> bool:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True

        self.wait(proc, f"127.0.0.1:{port}", probe, timeout=timeout)

    # -- stopping -----------------------------------------------------------------------

    def stop(self, service: str | None = None, *, timeout: float = 15.0) -> list[str]:
        """SIGTERM then SIGKILL each recorded session; returns what was stopped.

        Sessions stop side by side (a graceful stop can take seconds each), services first and
        the databases and broker they talk to after them, so none waits on a vanished peer.
        """
        procs = list(reversed(self.procs(service)))
        stopped = [p.name for p in procs if p.running]
        services_first = [p for p in procs if p.service not in INFRASTRUCTURE]
        for wave in (services_first, [p for p in procs if p.service in INFRASTRUCTURE]):
            if not wave:
                continue
            with ThreadPoolExecutor(max_workers=len(wave), thread_name_prefix="stop") as pool:
                list(pool.map(lambda p: stop_session(p, timeout), wave))
        with self._synced():
            if service is None:
                self._state["procs"] = []
                self._state["services"] = {}
            else:
                self._state["services"].pop(service, None)
                self._state["procs"] = [p for p in self._state["procs"] if p["service"] != service]
            self._save()
        return stopped

    def leftovers(self) -> list[int]:
        """Processes still alive in any session this testbed started (should be none)."""
        found = []
        for proc in self.procs():
            found.extend(session_members(proc.pid))
        return found


_children: dict[int, subprocess.Popen[bytes]] = {}


def _same(record: Mapping[str, Any], proc: Proc) -> bool:
    return bool(
        record["service"] == proc.service
        and record["name"] == proc.name
        and int(record["pid"]) == proc.pid
    )


def _reap(pid: int) -> None:
    popen = _children.pop(pid, None)
    if popen is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=0.1)


def signal_session(proc: Proc, sig: signal.Signals) -> list[int]:
    """Send ``sig`` to every process of ``proc``'s session if it is still ours (``_ours``);
    returns the pids signalled."""
    if not _ours(proc):
        return []
    members = session_members(proc.pid)
    if alive(proc.pid, proc.started) and proc.pid not in members:
        members.append(proc.pid)
    for pid in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    return members


def _ours(proc: Proc) -> bool:
    """Whether ``proc``'s pid and session still belong to us.

    A live pid with another start time was reused by someone else: left alone. With the
    leader gone, remaining members of its session are ours: Linux does not hand out a pid
    that is still in use as a session id.
    """
    now = start_time(proc.pid)
    return now is None or now == proc.started


def stop_session(proc: Proc, timeout: float, *, graceful: bool = True) -> None:
    """Stop the session led by ``proc`` if it is still ours (see ``_ours``): SIGTERM, and
    SIGKILL after ``timeout``; only SIGKILL when not ``graceful`` (a crash)."""
    if not _ours(proc):
        _children.pop(proc.pid, None)
        return
    if not session_members(proc.pid) and not alive(proc.pid):
        _reap(proc.pid)
        return
    if graceful:
        signal_session(proc, signal.SIGCONT)
        signal_session(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(proc.pid)
            if not session_members(proc.pid):
                return
            time.sleep(0.1)
    signal_session(proc, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and session_members(proc.pid):
        _reap(proc.pid)
        time.sleep(0.05)
    _reap(proc.pid)


def http_status(url: str, *, timeout: float = 2.0, headers: Mapping[str, str] | None = None) -> int:
    """Status of a GET, any status (an HTTP error is still an answer)."""
    request = urllib.request.Request(url, headers=dict(headers or {}))  # noqa: S310 - loopback URLs we built
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def answers(url: str) -> bool:
    """``url`` answers a GET with 200: the readiness probe of most services here."""
    try:
        return http_status(url) == 200
    except OSError:
        return False


def http_json(
    method: str,
    url: str,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, Any, Mapping[str, str]]:
    """A JSON request; returns status, decoded body (or None) and response headers."""
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
            status, resp_headers = response.status, response.headers
    except urllib.error.HTTPError as exc:
        raw, status, resp_headers = exc.read(), exc.code, exc.headers
    try:
        decoded = json.loads(raw) if raw else None
    except ValueError:
        decoded = raw.decode(errors="replace")
    return status, decoded, resp_headers
