"""``python -m testbed up|down|status [SERVICE ...]``: the testbed for people and for CI."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from testbed import services
from testbed.bed import Bed, ServiceError
from testbed.up import is_up, up
from testbed.venv import VenvError, default_venv, ensure_venv

CHECKOUT = Path(__file__).resolve().parent.parent
DEFAULT_SERVICES = [n for n in services.ALL if n not in ("prometheus", "alertmanager")]


def testbed_dir() -> Path:
    return Path(os.environ.get("TESTBED_DIR") or CHECKOUT / ".testbed")


def status_table(bed: Bed) -> str:
    rows = [("service", "url", "state")]
    for name in services.ALL:
        if name not in bed.started_services():
            continue
        info = bed.info(name)
        rows.append((name, str(info.get("url", "")), "up" if is_up(bed, name) else "DOWN"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


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
    parser = argparse.ArgumentParser(prog="python -m testbed", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("services", nargs="*", help="default: the whole OpenStack testbed")
    args = parser.parse_args(argv)
    root = testbed_dir()
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
