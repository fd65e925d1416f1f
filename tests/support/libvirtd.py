"""A private libvirtd with tiny QEMU domains, for tests that need the real thing.

The daemon must never see or change the host's libvirt state, and must be reachable from
the test process like any libvirtd. So:

* a *holder* process (``unshare --mount --net``) owns a private mount namespace in which
  ``/etc/libvirt``, ``/var/lib/libvirt``, ``/var/log/libvirt`` and ``/var/cache/libvirt``
  are bind mounts of directories under the test's temp dir, and ``/run`` is a fresh
  tmpfs whose ``/run/libvirt`` is another such directory. It also owns a private network
  namespace, so the guests' tap devices never appear on the host and cannot clash with a
  concurrent test run;
* ``libvirtd`` is started into those namespaces with ``nsenter``, which execs it, so the
  ``Popen`` pid *is* libvirtd's pid (checked); tests signal exactly that pid;
* its sockets live in a directory that is not over-mounted, so ``qemu:///system?socket=``
  URIs work from outside;
* QEMU runs as root under TCG with no security driver, cgroups or per-domain namespaces,
  and writes its log itself (``stdio_handler = "file"``), so no virtlogd is needed.

Everything the daemon writes lands under the temp dir, readable from outside (pid files,
logs, status XML). The holder doubles as a dead man's switch: when the test process dies
without cleaning up, its stdin reaches EOF and it SIGKILLs every process left in the
private mount namespace, i.e. the libvirtd and QEMU processes started here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

LIBVIRTD = "/usr/sbin/libvirtd"
NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"
NOVA_VERSION = "30.0.0"

# Host paths the private namespace shadows; ``/run`` is replaced as a whole because
# ``/run/libvirt`` need not exist on the host and must not be created there.
OVERLAID = ("/etc/libvirt", "/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt")
SHADOWED = (*OVERLAID, "/run", "/var/run")

# ``sun_path`` is 108 bytes; the longest socket libvirtd creates is libvirt-admin-sock.
_MAX_SOCK_DIR = 107 - len("/libvirt-admin-sock")

# The host's NICs are visible to libvirtd through /sys while its netns is private; the
# node-device driver then logs one ethtool error per NIC and feature. Pure noise.
_LOG_NOISE = ("ethtool ioctl error",)

LIBVIRTD_CONF = """\
# Private test daemon: UNIX sockets only, no auth, no TCP/TLS listener.
unix_sock_dir = "{sock_dir}"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
unix_sock_admin_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
listen_tcp = 0
listen_tls = 0
log_outputs = "3:file:{log_file}"
"""

QEMU_CONF = """\
# QEMU as root: disk images live in the test's temp dir, which may be 0700 root.
user = "root"
group = "root"
# Never chown/relabel test files, never store the previous owner in xattrs.
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
# QEMU stays in libvirtd's private mount namespace (the holder finds leftovers there).
namespaces = []
# Never create machine cgroups in the host's cgroup tree.
cgroup_controllers = []
# QEMU writes /var/log/libvirt/qemu/NAME.log itself: no virtlogd to run and track.
stdio_handler = "file"
"""

T = TypeVar("T")


class HarnessError(RuntimeError):
    """The private daemon could not be started, reached or cleaned up."""


def _missing_piece() -> str | None:
    """Binaries, paths and devices the private daemon relies on."""
    if os.geteuid() != 0:
        return "private libvirtd needs root (mount namespace, tap devices)"
    missing = [
        t
        for t in ("unshare", "nsenter", "mount", "qemu-img", "qemu-system-x86_64")
        if shutil.which(t) is None
    ]
    if missing:
        return f"not found in PATH: {', '.join(missing)}"
    if not os.access(LIBVIRTD, os.X_OK):
        return f"{LIBVIRTD} missing (Debian: libvirt-daemon-system)"
    absent = [p for p in (*OVERLAID, "/dev/net/tun") if not Path(p).exists()]
    if absent:
        return f"missing: {', '.join(absent)} (libvirt state dirs; tun for guest NICs)"
    try:
        import libvirt  # noqa: F401, PLC0415 - only probing that the binding is present
    except ImportError:
        return "libvirt-python not installed"
    return None


def unavailable_reason() -> str | None:
    """Why a private libvirtd cannot run here, or None when it can."""
    missing = _missing_piece()
    if missing is not None:
        return missing
    try:
        probe = subprocess.run(
            ["unshare", "--mount", "--net", "--propagation", "private", "true"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot create namespaces: {exc}"
    if probe.returncode != 0:
        return f"cannot create namespaces: {probe.stderr.decode(errors='replace').strip()}"
    return None


@dataclass(frozen=True)
class TinyDomain:
    """What a test needs to know about one started domain, as defined (not as read back)."""

    name: str
    uuid: str
    display_name: str
    creation_time: str
    flavor_name: str
    memory_mib: int
    disk_gib: int
    swap_mib: int
    ephemeral_gib: int
    vcpus: int
    user_name: str
    user_id: str
    project_name: str
    project_id: str
    root_type: str
    root_id: str
    package_version: str
    port_id: str
    ip: str
    mac: str
    tap: str
    disk_path: Path
    disk_serial: str
    qemu_pid: int
    xml: str


def _run_with_timeout(fn: Callable[[], T], timeout: float, what: str) -> T:
    """Run ``fn`` in a daemon thread; a stuck libvirt call must not hang the test run."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"libvirtd-{what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"{what} did not return within {timeout:.1f}s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"({path}: {exc})"
    kept = [line for line in text.splitlines() if not any(n in line for n in _LOG_NOISE)]
    return "\n".join(kept[-lines:]) or "(empty)"


def process_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie waiting for its reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _silence_libvirt() -> Any:
    """Import libvirt with its default stderr error printer replaced by a no-op."""
    import libvirt  # noqa: PLC0415 - importable only where the harness can run at all

    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    return libvirt


class PrivateLibvirtd:
    """A libvirtd in private namespaces under ``base``; see the module docstring."""

    def __init__(
        self,
        base: Path,
        *,
        cache_dir: Path | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        self.base = base.resolve()
        for shadowed in SHADOWED:
            if self.base.is_relative_to(shadowed):
                raise HarnessError(f"{self.base} is under {shadowed}, which gets over-mounted")
        if any(c in str(self.base) for c in '"\\\n'):
            raise HarnessError(f"unusable characters in {self.base!r} for libvirt's config")
        self.etc_dir = self.base / "etc"
        self.run_dir = self.base / "run"
        self.lib_dir = self.base / "lib"
        self.log_dir = self.base / "log"
        self.cache_dir = (cache_dir or self.base / "cache").resolve()
        self.instances_dir = self.base / "instances"
        self.log_file = self.base / "libvirtd.log"
        self.stderr_file = self.base / "libvirtd.stderr"
        self.pid_file = self.base / "libvirtd.pid"
        self.holder_log = self.base / "holder.log"
        sock_dir = self.base / "sock"
        self._own_sock_dir = len(str(sock_dir)) > _MAX_SOCK_DIR
        if self._own_sock_dir:
            sock_dir = Path(tempfile.mkdtemp(prefix="lvd-sock-", dir="/tmp"))
        self.sock_dir = sock_dir
        self.ready_timeout = ready_timeout
        self.timings: dict[str, float] = {}
        self._holder: subprocess.Popen[bytes] | None = None
        self._daemon: subprocess.Popen[bytes] | None = None
        self._domains: dict[str, TinyDomain] = {}
        # uuid -> name of every domain defined here, even one that failed to start.
        self._owned: dict[str, str] = {}
        self._next_index = 1

    # -- addresses and state ---------------------------------------------------------

    @property
    def rw_uri(self) -> str:
        return f"qemu:///system?socket={self.sock_dir}/libvirt-sock"

    @property
    def ro_uri(self) -> str:
        return f"qemu:///system?socket={self.sock_dir}/libvirt-sock-ro"

    @property
    def pid(self) -> int:
        """libvirtd's own pid (not a wrapper's): the one to SIGSTOP/SIGKILL."""
        if self._daemon is None:
            raise HarnessError("libvirtd has not been started")
        return self._daemon.pid

    @property
    def holder_pid(self) -> int:
        if self._holder is None:
            raise HarnessError("the namespace holder has not been started")
        return self._holder.pid

    @property
    def running(self) -> bool:
        """libvirtd exists (possibly SIGSTOPped); False once it exited or was killed."""
        return self._daemon is not None and self._daemon.poll() is None

    @property
    def domains(self) -> list[TinyDomain]:
        return list(self._domains.values())

    def qemu_pid(self, name: str) -> int | None:
        """The QEMU pid libvirt recorded for domain ``name``, if it is running."""
        try:
            return int((self.run_dir / "qemu" / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def connect(self, *, readonly: bool = False) -> Any:
        """A new connection (caller closes it); read-only goes through the -ro socket."""
        libvirt = _silence_libvirt()
        if readonly:
            return libvirt.openReadOnly(self.ro_uri)
        return libvirt.open(self.rw_uri)

    @contextlib.contextmanager
    def connection(self, *, readonly: bool = False) -> Iterator[Any]:
        conn = self.connect(readonly=readonly)
        try:
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start libvirtd (creating the namespace on first use) and wait until it serves."""
        if self.running:
            raise HarnessError(f"libvirtd already running as pid {self.pid}")
        began = time.monotonic()
        first = self._holder is None
        if first:
            self._prepare_dirs()
            self._start_holder()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIBVIRT_")}
        with self.stderr_file.open("ab") as err:
            self._daemon = subprocess.Popen(
                [
                    "nsenter",
                    "-t",
                    str(self.holder_pid),
                    "-m",
                    "-n",
                    "--",
                    LIBVIRTD,
                    "-f",
                    str(self.etc_dir / "libvirtd.conf"),
                    "-p",
                    str(self.pid_file),
                ],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                env=env,
                start_new_session=True,
            )
        self.wait_ready()
        if first:
            # Host capabilities probe every QEMU binary (x86_64 and i386): ~4 s without a
            # warm cache. Pay it here rather than in the first stats call of some test.
            with self.connection() as conn:
                conn.getCapabilities()
        self.timings["first_start" if first else "start"] = time.monotonic() - began

    def wait_ready(self, timeout: float | None = None) -> None:
        """Poll until a read-write connection works; fail with libvirtd's own words."""
        limit = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        libvirt = _silence_libvirt()
        last = "no attempt yet"

        def probe() -> None:
            conn = libvirt.open(self.rw_uri)
            try:
                conn.getLibVersion()
            finally:
                conn.close()

        while True:
            if not self.running:
                raise self._failure(f"libvirtd exited (status {self._exit_status()})")
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._failure(f"libvirtd not ready after {limit:.0f}s: {last}")
            try:
                _run_with_timeout(probe, left, "readiness probe")
            except libvirt.libvirtError as exc:
                last = str(exc)
                time.sleep(0.02)
                continue
            except TimeoutError as exc:
                last = str(exc)
                continue
            break
        # nsenter exec()s libvirtd, so the pid we signal is libvirtd's own; make sure.
        exe = os.path.realpath(f"/proc/{self.pid}/exe")
        if exe != os.path.realpath(LIBVIRTD):
            raise self._failure(f"pid {self.pid} is {exe}, not libvirtd")
        written = self.pid_file.read_text().strip()
        if written != str(self.pid):
            raise self._failure(f"libvirtd wrote pid {written}, we started {self.pid}")

    def stop(self) -> None:
        """SIGSTOP libvirtd: calls then hang instead of failing."""
        os.kill(self.pid, signal.SIGSTOP)

    def cont(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL libvirtd and reap it; QEMU processes survive, as with a real crash."""
        if not self.running:
            return
        os.kill(self.pid, signal.SIGKILL)
        self._reap(10.0)

    def terminate(self, timeout: float = 10.0) -> None:
        """Orderly shutdown (SIGTERM); domains keep running, as with systemctl stop."""
        if not self.running:
            return
        os.kill(self.pid, signal.SIGCONT)
        os.kill(self.pid, signal.SIGTERM)
        try:
            self._reap(timeout)
        except HarnessError:
            self.kill()

    def restart(self, *, graceful: bool = True) -> None:
        """Stop (SIGTERM, or SIGKILL) and start libvirtd; wait until our domains are back."""
        began = time.monotonic()
        if graceful:
            self.terminate()
        else:
            self.kill()
        self.start()
        self.wait_for_domains()
        self.timings["restart"] = time.monotonic() - began

    def ensure_running(self) -> None:
        """Undo what a test may have left behind: a stopped or dead libvirtd."""
        if self.running:
            self.cont()
        else:
            self.start()
        self.wait_for_domains()

    def wait_for_domains(self, timeout: float = 30.0) -> None:
        """Block until libvirtd has re-attached to every QEMU of ours after a restart.

        Domains show up as running straight from the status XML; a call that needs the
        monitor (``blockStats``) waits for the reconnect job, so it is the real signal.
        Domains a test shut off or undefined are skipped.
        """
        if not self._domains:
            return
        deadline = time.monotonic() + timeout

        libvirt = _silence_libvirt()

        def check() -> None:
            with self.connection() as conn:
                for dom in self._domains.values():
                    try:
                        handle = conn.lookupByUUIDString(dom.uuid)
                    except libvirt.libvirtError:
                        continue  # a test undefined it; nothing to wait for
                    if handle.isActive():
                        handle.blockStats("vda")

        try:
            _run_with_timeout(check, max(deadline - time.monotonic(), 0.1), "re-attach")
        except (TimeoutError, libvirt.libvirtError) as exc:
            raise self._failure(f"domains not back after restart: {exc}") from exc

    # -- domains -------------------------------------------------------------------------

    def define_tiny_domains(
        self, count: int = 3, *, net_boot: bool = False, wait_boot: bool = True
    ) -> list[TinyDomain]:
        """Define and start ``count`` Nova-like diskless TCG guests (128 MiB, 1 vCPU).

        The empty disk leaves SeaBIOS idle (a few ms of CPU per second) after it read the
        boot sector; ``wait_boot`` returns only once that read shows in the block stats,
        so tests see non-zero I/O counters. One packet arrives from the host side when the
        tap comes up. ``net_boot`` lets iPXE try DHCP, so the guest sends and receives a
        handful of packets, at the price of a busy vCPU for about 15 s.
        """
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        began = time.monotonic()
        planned = [self._plan_domain(self._next_index + i, net_boot) for i in range(count)]
        self._next_index += count
        for disk_path, _ in planned:
            disk_path.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["qemu-img", "create", "-q", "-f", "qcow2", str(disk_path), "1G"],
                check=True,
                capture_output=True,
            )
        with self.connection() as conn:
            handles = []
            for _, xml in planned:
                handle = conn.defineXML(xml)
                self._owned[str(handle.UUIDString())] = str(handle.name())
                handles.append(handle)
            # Each start is ~0.5 s of QEMU startup; libvirt runs them in parallel fine.
            with ThreadPoolExecutor(max_workers=count) as pool:
                list(pool.map(lambda h: h.create(), handles))
            started = []
            for handle, (disk_path, xml) in zip(handles, planned, strict=True):
                started.append(self._describe(handle, disk_path, xml))
        for dom in started:
            self._domains[dom.uuid] = dom
        if wait_boot:
            self._wait_boot_sector_read({dom.uuid for dom in started})
        self.timings[f"define_{count}"] = time.monotonic() - began
        return started

    def _wait_boot_sector_read(self, uuids: set[str], timeout: float = 30.0) -> None:
        """SeaBIOS reads vda's first sector ~0.5-1 s after start (TCG); wait for it."""
        libvirt = _silence_libvirt()
        deadline = time.monotonic() + timeout
        with self.connection(readonly=True) as conn:
            while True:
                records = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_BLOCK, 0)
                waiting = {
                    dom.UUIDString()
                    for dom, stats in records
                    if dom.UUIDString() in uuids and stats.get("block.0.rd.reqs", 0) == 0
                } | (uuids - {dom.UUIDString() for dom, _ in records})
                if not waiting:
                    return
                if time.monotonic() > deadline:
                    raise self._failure(f"no boot sector read after {timeout}s: {waiting}")
                time.sleep(0.05)

    def destroy_domains(self, timeout: float = 30.0) -> list[str]:
        """Destroy and undefine every domain defined here; return what went wrong.

        A QEMU that outlives its destroy (pid from libvirt's pid file, checked to be
        that guest's QEMU) is SIGKILLed and reported.
        """
        owned = dict(self._owned)
        if not owned:
            return []
        libvirt = _silence_libvirt()
        problems: list[str] = []
        pids = {name: self.qemu_pid(name) for name in owned.values()}

        def one(conn: Any, domain_uuid: str) -> None:
            try:
                handle = conn.lookupByUUIDString(domain_uuid)
            except libvirt.libvirtError:
                return  # a test undefined it already
            with contextlib.suppress(libvirt.libvirtError):
                if handle.isActive():
                    handle.destroy()
            handle.undefine()

        def all_of_them() -> None:
            with self.connection() as conn, ThreadPoolExecutor(len(owned)) as pool:
                futures = {name: pool.submit(one, conn, u) for u, name in owned.items()}
                for name, fut in futures.items():
                    try:
                        fut.result()
                    except libvirt.libvirtError as exc:
                        problems.append(f"{name}: {exc}")

        try:
            _run_with_timeout(all_of_them, timeout, "destroy")
        except (TimeoutError, libvirt.libvirtError) as exc:
            problems.append(f"destroy: {exc}")
        for name, pid in pids.items():
            if pid is not None and self._is_our_qemu(pid, name):
                problems.append(f"QEMU of {name} (pid {pid}) survived destroy; killed")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._owned.clear()
        self._domains.clear()
        return problems

    # -- cleanup -------------------------------------------------------------------------

    def close(self) -> None:
        """Destroy our domains, stop libvirtd, end the namespace; raise if anything leaked.

        Only processes started here are signalled, by pid: libvirtd, the holder, and (as a
        last resort) processes inside the private mount namespace, which only ours enter.
        """
        problems: list[str] = []
        began = time.monotonic()
        if self._holder is not None:
            if self._owned:
                try:
                    self.ensure_running()
                except (HarnessError, OSError) as exc:
                    problems.append(f"could not bring libvirtd back to destroy domains: {exc}")
                problems += self.destroy_domains()
            self.terminate()
            for pid in self._namespace_members():
                problems.append(f"pid {pid} ({self._comm(pid)}) left in the namespace; killed")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._stop_holder()
        if self._own_sock_dir:
            shutil.rmtree(self.sock_dir, ignore_errors=True)
        self.timings["close"] = time.monotonic() - began
        if problems:
            raise HarnessError("private libvirtd cleanup: " + "; ".join(problems))

    def __enter__(self) -> PrivateLibvirtd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------

    def _prepare_dirs(self) -> None:
        for d in (
            self.run_dir,
            self.lib_dir,
            self.log_dir,
            self.cache_dir,
            self.instances_dir,
            self.sock_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)
        if self.etc_dir.exists():
            shutil.rmtree(self.etc_dir)
        shutil.copytree("/etc/libvirt", self.etc_dir, symlinks=True)
        # Nothing of the host's may autostart or be loaded: no networks, pools, domains.
        for autostart in self.etc_dir.rglob("autostart"):
            for entry in autostart.iterdir():
                entry.unlink()
        for persistent in (self.etc_dir / "qemu").glob("*.xml"):
            persistent.unlink()
        (self.etc_dir / "libvirtd.conf").write_text(
            LIBVIRTD_CONF.format(sock_dir=self.sock_dir, log_file=self.log_file)
        )
        (self.etc_dir / "qemu.conf").write_text(QEMU_CONF)

    def _start_holder(self) -> None:
        binds = [
            (self.etc_dir, "/etc/libvirt"),
            (self.lib_dir, "/var/lib/libvirt"),
            (self.log_dir, "/var/log/libvirt"),
            (self.cache_dir, "/var/cache/libvirt"),
        ]
        q = shlex.quote
        script = "\n".join(
            [
                "set -e",
                "mount -t tmpfs -o mode=0755,size=64m private-run /run",
                "mkdir /run/libvirt",
                f"mount --bind {q(str(self.run_dir))} /run/libvirt",
                *(f"mount --bind {q(str(src))} {q(dst)}" for src, dst in binds),
                "echo ready",
                # Block until our stdin closes: close(), or the death of the test process.
                "read -r _ || true",
                "set +e",
                "me=$(readlink /proc/$$/ns/mnt)",
                "for p in /proc/[0-9]*; do",
                '  [ "${p#/proc/}" = "$$" ] && continue',
                '  [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$me" ] && kill -9 "${p#/proc/}"',
                "done 2>/dev/null",
                "exit 0",
            ]
        )
        with self.holder_log.open("ab") as log:
            holder = subprocess.Popen(
                [
                    "unshare",
                    "--mount",
                    "--net",
                    "--propagation",
                    "private",
                    "--",
                    "sh",
                    "-c",
                    script,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        self._holder = holder
        assert holder.stdout is not None
        ready, _, _ = select.select([holder.stdout], [], [], 10.0)
        line = holder.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self._stop_holder()
            raise HarnessError(
                f"namespace holder failed (status {holder.returncode}):\n{_tail(self.holder_log)}"
            )

    def _stop_holder(self) -> None:
        holder = self._holder
        if holder is None:
            return
        stdin: IO[bytes] | None = holder.stdin
        if stdin is not None:
            with contextlib.suppress(OSError):
                stdin.close()
        try:
            holder.wait(10.0)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait(10.0)
        if holder.stdout is not None:
            holder.stdout.close()
        self._holder = None

    def _reap(self, timeout: float) -> None:
        assert self._daemon is not None
        try:
            self._daemon.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise HarnessError(f"libvirtd (pid {self.pid}) did not exit in {timeout}s") from exc

    def _exit_status(self) -> int | None:
        return None if self._daemon is None else self._daemon.returncode

    def _failure(self, message: str) -> HarnessError:
        return HarnessError(
            f"{message}\n--- {self.stderr_file} (tail) ---\n{_tail(self.stderr_file)}"
            f"\n--- {self.log_file} (tail) ---\n{_tail(self.log_file)}"
        )

    def _namespace_members(self) -> list[int]:
        """Live pids in our private mount namespace other than the holder itself."""
        if self._holder is None:
            return []
        try:
            ours = os.readlink(f"/proc/{self._holder.pid}/ns/mnt")
        except OSError:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == self._holder.pid:
                continue
            try:
                if os.readlink(entry / "ns" / "mnt") == ours and process_alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    @staticmethod
    def _comm(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return "?"

    @staticmethod
    def _is_our_qemu(pid: int, name: str) -> bool:
        """Guard against pid reuse: only a live QEMU running guest ``name`` counts."""
        if not process_alive(pid):
            return False
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return b"qemu-system" in args[0] and any(f"guest={name}".encode() in a for a in args)

    def _plan_domain(self, index: int, net_boot: bool) -> tuple[Path, str]:
        instance_uuid = str(uuid.uuid4())
        disk = self.instances_dir / instance_uuid / "disk"
        return disk, self._domain_xml(index, instance_uuid, disk, net_boot)

    @staticmethod
    def _domain_xml(index: int, instance_uuid: str, disk: Path, net_boot: bool) -> str:
        """Laid out like the XML Nova's libvirt driver writes, minus what needs a guest."""
        port_uuid = str(uuid.uuid4())
        net_boot_line = "\n    <boot dev='network'/>" if net_boot else ""
        mac = "fa:16:3e:" + ":".join(f"{b:02x}" for b in os.urandom(3))
        created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        # Keystone ids are 32 hex digits; Glance and Neutron ids are dashed uuids.
        user_id, project_id = uuid.uuid4().hex, uuid.uuid4().hex
        return f"""\
<domain type='qemu'>
  <name>instance-{index:08x}</name>
  <uuid>{instance_uuid}</uuid>
  <metadata>
    <nova:instance xmlns:nova="{NOVA_NS}">
      <nova:package version="{NOVA_VERSION}"/>
      <nova:name>{escape(f"tiny-{index}")}</nova:name>
      <nova:creationTime>{created}</nova:creationTime>
      <nova:flavor name="m1.tiny">
        <nova:memory>128</nova:memory>
        <nova:disk>1</nova:disk>
        <nova:swap>0</nova:swap>
        <nova:ephemeral>0</nova:ephemeral>
        <nova:vcpus>1</nova:vcpus>
      </nova:flavor>
      <nova:owner>
        <nova:user uuid="{user_id}">alice</nova:user>
        <nova:project uuid="{project_id}">demo</nova:project>
      </nova:owner>
      <nova:root type="image" uuid="{uuid.uuid4()}"/>
      <nova:ports>
        <nova:port uuid="{port_uuid}">
          <nova:ip type="fixed" address="10.0.0.{10 + index}" ipVersion="4"/>
        </nova:port>
      </nova:ports>
    </nova:instance>
  </metadata>
  <memory unit='KiB'>131072</memory>
  <currentMemory unit='KiB'>131072</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <boot dev='hd'/>{net_boot_line}
  </os>
  <features><acpi/><apic/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file={quoteattr(str(disk))}/>
      <target dev='vda' bus='virtio'/>
      <serial>{instance_uuid}</serial>
    </disk>
    <interface type='ethernet'>
      <mac address='{mac}'/>
      <target dev='tap{port_uuid[:11]}'/>
      <model type='virtio'/>
      <mtu size='1450'/>
    </interface>
    <video><model type='none'/></video>
    <memballoon model='virtio'>
      <stats period='1'/>
    </memballoon>
  </devices>
</domain>
"""

    def _describe(self, handle: Any, disk: Path, xml: str) -> TinyDomain:
        """Read the facts back out of the XML we wrote, so tests compare like with like."""
        root = ElementTree.fromstring(xml)  # noqa: S314 - generated just above
        ns = {"nova": NOVA_NS}

        def text(path: str) -> str:
            return root.findtext(path, default="", namespaces=ns)

        def attr(path: str, name: str) -> str:
            element = root.find(path, ns)
            return "" if element is None else element.get(name, "")

        name = str(handle.name())
        pid = self.qemu_pid(name)
        if pid is None:
            raise self._failure(f"no pid file for running domain {name}")
        inst = "metadata/nova:instance"
        return TinyDomain(
            name=name,
            uuid=str(handle.UUIDString()),
            display_name=text(f"{inst}/nova:name"),
            creation_time=text(f"{inst}/nova:creationTime"),
            flavor_name=attr(f"{inst}/nova:flavor", "name"),
            memory_mib=int(text(f"{inst}/nova:flavor/nova:memory")),
            disk_gib=int(text(f"{inst}/nova:flavor/nova:disk")),
            swap_mib=int(text(f"{inst}/nova:flavor/nova:swap")),
            ephemeral_gib=int(text(f"{inst}/nova:flavor/nova:ephemeral")),
            vcpus=int(text(f"{inst}/nova:flavor/nova:vcpus")),
            user_name=text(f"{inst}/nova:owner/nova:user"),
            user_id=attr(f"{inst}/nova:owner/nova:user", "uuid"),
            project_name=text(f"{inst}/nova:owner/nova:project"),
            project_id=attr(f"{inst}/nova:owner/nova:project", "uuid"),
            root_type=attr(f"{inst}/nova:root", "type"),
            root_id=attr(f"{inst}/nova:root", "uuid"),
            package_version=attr(f"{inst}/nova:package", "version"),
            port_id=attr(f"{inst}/nova:ports/nova:port", "uuid"),
            ip=attr(f"{inst}/nova:ports/nova:port/nova:ip", "address"),
            mac=attr("devices/interface/mac", "address"),
            tap=attr("devices/interface/target", "dev"),
            disk_path=disk,
            disk_serial=text("devices/disk/serial"),
            qemu_pid=pid,
            xml=xml,
        )


@contextlib.contextmanager
def private_libvirtd(
    base: Path, *, domains: int = 3, cache_dir: Path | None = None
) -> Iterator[PrivateLibvirtd]:
    """Started daemon with ``domains`` tiny guests; always cleaned up, even on failure."""
    daemon = PrivateLibvirtd(base, cache_dir=cache_dir)
    try:
        daemon.start()
        if domains:
            daemon.define_tiny_domains(domains)
        yield daemon
    finally:
        daemon.close()
