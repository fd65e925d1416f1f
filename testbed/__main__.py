"""``python -m testbed up|down|status [SERVICE ...]``: the testbed for people and for CI.

``python -m testbed stop|kill|freeze|thaw|restart SERVICE [PROCESS]``: faults for tests and
demos, on processes the testbed recorded (see testbed/faults.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from testbed import faults, services
from testbed.bed import Bed, ServiceError
from testbed.up import is_up, up
from testbed.venv import VenvError, default_venv, ensure_venv

CHECKOUT = Path(__file__).resolve().parent.parent
DEFAULT_SERVICES = [n for n in services.ALL if n not in ("prometheus", "alertmanager")]
FAULTS = {
    "stop": faults.stop,
    "kill": faults.kill,
    "freeze": faults.freeze,
    "thaw": faults.thaw,
    "restart": faults.restart,
}


def testbed_dir() -> Path:
    return Path(os.environ.get("TESTBED_DIR") or CHECKOUT / ".testbed")


def status_table(bed: Bed) -> str:
    rows = [("service", "url", "state")]
    for name in services.ALL:
        if name not in bed.started_services():
            continue
        info = bed.info(name)
        rows.append((name, str(info.get("url", "")), _state(bed, name)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def _state(bed: Bed, name: str) -> str:
    """``up``, ``DOWN``, or which processes are frozen or stopped (faults)."""
    procs = bed.procs(name)
    frozen = [p.name for p in procs if p.frozen]
    stopped = [p.name for p in procs if not p.running]
    notes = [f"{what}: {', '.join(names)}" for what, names in
             (("frozen", frozen), ("stopped", stopped)) if names]  # fmt: skip
    return "; ".join(notes) if notes else ("up" if is_up(bed, name) else "DOWN")


def _fault(root: Path, verb: str, service: str, process: str | None) -> int:
    if not (root / "state.json").exists():
        print(f"no testbed in {root}", file=sys.stderr)
        return 1
    bed = Bed(root, default_venv())
    try:
        procs = FAULTS[verb](bed, service, process)
    except (KeyError, ServiceError) as exc:
        print(
            f"{verb} failed: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr
        )
        return 1
    done = ", ".join(f"{p.name} (pid {p.pid})" for p in procs)
    print(f"{verb}: {done or 'nothing was running'}")
    return 0


def _down(root: Path) -> int:
    if not root.exists():
        print(f"no testbed in {root}")
        return 0
    bed = Bed(root, default_venv())
    stopped = bed.stop()
    print(f"stopped {len(stopped)} processes" + (f": {', '.join(stopped)}" if stopped else ""))
    left = bed.leftovers()
    if left:
        print(f"still alive: {left}", file=sys.stderr)
        return 1
    return 0


def _progress(began: float, name: str, state: str, seconds: float) -> str:
    """One line per service: its own time, and when it was ready since ``up`` began."""
    return f"{name:<14} {state} in {seconds:5.1f}s (ready at {time.monotonic() - began:5.1f}s)"


def _up(root: Path, names: list[str]) -> int:
    began = time.monotonic()
    try:
        venv = ensure_venv(default_venv(), log=lambda m: print(m, flush=True))
    except VenvError as exc:
        print(f"testbed failed: {exc}", file=sys.stderr)
        return 1
    bed = Bed(root, venv)
    try:
        up(bed, names, report=lambda n, s, t: print(_progress(began, n, s, t), flush=True))
    except ServiceError as exc:
        print(f"testbed failed: {exc}", file=sys.stderr)
        stopped = bed.stop()
        print(f"stopped {len(stopped)} processes; logs kept in {bed.logs}", file=sys.stderr)
        return 1
    print(f"\ntestbed up in {time.monotonic() - began:.1f}s, in {root}\n")
    print(status_table(bed))
    clouds = root / "clouds.yaml"
    if clouds.exists():
        print(f"\nclouds.yaml: {clouds}  (OS_CLIENT_CONFIG_FILE={clouds} OS_CLOUD=testbed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testbed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=("up", "down", "status", *FAULTS))
    parser.add_argument(
        "services",
        nargs="*",
        help="up: services to start (default: the whole OpenStack testbed); "
        "stop, kill, freeze, thaw, restart: SERVICE [PROCESS]",
    )
    args = parser.parse_args(argv)
    root = testbed_dir()
    if args.command in FAULTS:
        if len(args.services) not in (1, 2):
            parser.error(f"{args.command} takes SERVICE [PROCESS]")
        service, *process = args.services
        return _fault(root, args.command, service, process[0] if process else None)
    if args.command == "down":
        return _down(root)
    if args.command == "status":
        print(status_table(Bed(root, default_venv())))
        return 0
    try:
        services.closure(args.services)
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    return _up(root, args.services or DEFAULT_SERVICES)


if __name__ == "__main__":
    sys.exit(main())
