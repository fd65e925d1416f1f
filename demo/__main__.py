"""``python -m demo up|down|status``: the monitoring stack on the testbed of ``TESTBED_DIR``.

``up`` starts what the testbed lacks of the OpenStack set and the Alertmanagers, then the
exporters, the bridge with its Aodh alarm and a Prometheus (demo/stack.py), and prints where
each one is and how to show the dashboards in Grafana. ``down`` stops them and deletes the
alarm; the testbed stays up. Their state is in ``$DEMO_DIR``, by default ``$TESTBED_DIR/demo``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from demo.stack import DASHBOARDS, REPO, Stack, dashboard_files
from testbed import services
from testbed.bed import Bed, ServiceError
from testbed.up import up
from testbed.venv import VenvError, default_venv, ensure_venv

# The whole OpenStack set and the Alertmanagers; the demo brings its own Prometheus.
NEEDS = [name for name in services.ALL if name != "prometheus"]


def _dirs() -> tuple[Path, Path]:
    testbed = Path(os.environ.get("TESTBED_DIR") or REPO / ".testbed")
    return testbed, Path(os.environ.get("DEMO_DIR") or testbed / "demo")


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def report(stack: Stack) -> str:
    """Where everything is, and the steps to the dashboards in Grafana."""
    lines = [f"{e.name:<15} {e.url:<40} {e.what}" for e in stack.endpoints()]
    alarm = stack.alarm
    lines += [
        "",
        f"Aodh alarm {alarm['name']} ({alarm['id']}) notifies the bridge at",
        f"  {alarm['webhook']}",
        "",
        "Grafana, on this machine (everything listens on 127.0.0.1):",
        f"  1. Add a Prometheus datasource: URL {stack.prometheus_url}, scrape interval "
        f"{stack.interval}",
        f"     (or provision {stack.grafana_datasource()}).",
        "  2. Import each file (Dashboards > New > Import), or provision them with",
        "     dashboards/provisioning.yaml (the folder OpenStack):",
    ]
    titles = []
    for path in dashboard_files():
        title = json.loads(path.read_text()).get("title", "?")
        titles.append(title)
        lines.append(f"       {_relative(path)}")
    if not titles:
        lines.append(f"       (no dashboard JSON in {_relative(DASHBOARDS)} yet)")
    else:
        lines.append("  3. Open them, in the folder OpenStack:")
        lines += [f"       {title}" for title in titles]
    lines += ["", "Stop it: make demo-down (the testbed too), or python -m demo down."]
    return "\n".join(lines)


def _started(name: str, state: str, seconds: float) -> None:
    if state != "reused":
        print(f"testbed {name:<14} {state} in {seconds:5.1f}s", flush=True)


def _up(testbed_dir: Path, base: Path) -> int:
    began = time.monotonic()
    try:
        bed = Bed(testbed_dir, ensure_venv(default_venv(), log=print))
        up(bed, NEEDS, report=_started)
        stack = Stack(bed, base, fast=False)
        if stack.running():
            print(f"\ndemo stack already running, state in {base}\n")
            print(report(stack))
            return 0
        stack.down()  # what is left of an earlier start, if anything
        stack.up()
    except (ServiceError, VenvError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    print(f"\ndemo stack up in {time.monotonic() - began:.1f}s, state in {base}\n")
    print(report(stack))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=("up", "down", "status"))
    args = parser.parse_args(argv)
    testbed_dir, base = _dirs()
    if args.command == "up":
        return _up(testbed_dir, base)
    if not (base / "state.json").exists():
        print(f"no demo stack in {base}")
        return 0
    stack = Stack(Bed(testbed_dir, default_venv()), base, fast=False)
    if args.command == "down":
        stopped = stack.down()
        print(f"stopped {len(stopped)} processes" + (f": {', '.join(stopped)}" if stopped else ""))
        return 0
    if not stack.status():
        print(f"no demo stack running (state in {base})")
    for name, state in stack.status():
        print(f"{name:<20} {state}")
    if stack.running():
        print()
        print(report(stack))
    return 0


if __name__ == "__main__":
    sys.exit(main())
