"""Many servers in a running testbed, for the benchmarks: ``seed(bed, servers=1000)``.

    python -m testbed.scale 1000 [--projects 36] [--hosts 10] [--chunk 100]

Needs keystone, placement, nova, glance and neutron up in ``$TESTBED_DIR``. The servers
have no network, but Nova's detailed server listing asks Neutron for their security groups,
so it fails without Neutron. The work is done by ``seed/scale_seed.py`` in the OpenStack
environment; its progress goes to ``logs/scale-seed.log``. Safe to re-run: it only adds
what is missing, so calling it with 10, then 100, then 1,000 grows one set of servers.
Do not point it at a testbed that others' tests use: their tests count servers too.

Compute hosts: besides the testbed's ``testbed-compute-1``, ``hosts - 1`` more
``nova-compute`` processes (``testbed-compute-2`` ...) are started, recorded under ``nova``
(so ``down`` and the fault verbs know them). Nova 34's resource tracker reads every
allocation of its node from Placement (one GET per instance) on each instance claim and
each periodic audit, so booting k servers onto one node costs about k²/2 requests: 1,000
onto one node would take hours on two cores, onto ten nodes minutes.
"""

from __future__ import annotations

import argparse
import configparser
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from testbed import ini
from testbed.bed import Bed, ServiceError
from testbed.services import keystone, nova, rabbitmq

SEED = Path(__file__).resolve().parent / "seed" / "scale_seed.py"
NEEDS = ("keystone", "placement", "nova", "glance", "neutron")
PROJECTS = 36
HOSTS = 10
PREFIX = "bench"
CHUNK = 100
WINDOW = 100


def host_name(n: int) -> str:
    return nova.COMPUTE_HOST.replace("-1", f"-{n}") if n > 1 else nova.COMPUTE_HOST


def ensure_computes(bed: Bed, hosts: int) -> list[str]:
    """``hosts`` compute hosts: the testbed's own and more ``nova-compute`` processes, each
    with the testbed compute's configuration but its own host name and state directory."""
    base = bed.service_dir("nova")
    # [DEFAULT] read as a section like the others: its options must not repeat in each.
    parser = configparser.RawConfigParser(default_section="")
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(base / "nova-compute.conf")
    template = {name: dict(parser[name]) for name in parser.sections()}
    running = {p.name for p in bed.procs("nova") if p.running}
    names = [host_name(n) for n in range(1, hosts + 1)]
    for n, host in enumerate(names[1:], 2):
        proc_name = f"nova-compute-{n}"
        if proc_name in running:
            continue
        if proc_name in {p.name for p in bed.procs("nova")}:
            raise ServiceError("nova", f"{proc_name} is recorded but not running; restart it")
        home = base / host
        for sub in ("state", "instances", "lock"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        # The node identity the fake driver would derive (see services/nova.py).
        identity = home / "state" / "compute_id"
        if not identity.exists():
            identity.write_text(str(uuid.uuid5(uuid.NAMESPACE_DNS, host)))
        conf = ini.merge(
            template,
            {
                "DEFAULT": {
                    "host": host,
                    "state_path": home / "state",
                    "instances_path": home / "instances",
                },
                "oslo_concurrency": {"lock_path": home / "lock"},
            },
        )
        path = ini.write(home / "nova-compute.conf", conf)
        bed.spawn("nova", proc_name, [bed.os_bin("nova-compute"), "--config-file", str(path)])
    return names


def seed(
    bed: Bed,
    servers: int,
    *,
    projects: int = PROJECTS,
    hosts: int = HOSTS,
    chunk: int = CHUNK,
    window: int = WINDOW,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Bring the ACTIVE servers of the ``bench-NN`` projects up to ``servers`` on ``hosts``
    compute hosts; the seed's report (see ``seed/scale_seed.py``)."""
    if timeout is None:
        timeout = 300 + 3.0 * servers
    spec = {
        "hosts": ensure_computes(bed, hosts),
        "servers": servers,
        "projects": projects,
        "prefix": PREFIX,
        "image_id": bed.info("glance")["image_id"],
        "flavor": nova.FLAVOR,
        "chunk": chunk,
        "window": window,
        "timeout": timeout,
    }
    env = {**keystone.client_env(bed), "TRANSPORT_URL": rabbitmq.transport_url(bed)}
    out = bed.python("nova", "scale-seed", SEED, json.dumps(spec), env=env, timeout=timeout + 60)
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report


def main(argv: list[str] | None = None) -> int:
    from testbed.__main__ import testbed_dir  # noqa: PLC0415 - the CLI's own default
    from testbed.venv import default_venv  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="python -m testbed.scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("servers", type=int, help="ACTIVE servers wanted across the projects")
    parser.add_argument("--projects", type=int, default=PROJECTS)
    parser.add_argument("--hosts", type=int, default=HOSTS, help="compute hosts to spread on")
    parser.add_argument("--chunk", type=int, default=CHUNK, help="most servers per request")
    parser.add_argument("--window", type=int, default=WINDOW, help="most servers building")
    args = parser.parse_args(argv)
    bed = Bed(testbed_dir(), default_venv())
    missing = [n for n in NEEDS if n not in bed.started_services()]
    if missing:
        print(f"start these first: python -m testbed up {' '.join(missing)}", file=sys.stderr)
        return 1
    report = seed(bed, args.servers, projects=args.projects, hosts=args.hosts,
                  chunk=args.chunk, window=args.window)  # fmt: skip
    print(json.dumps(report, indent=2))
    return 0 if report["active"] >= args.servers and not report["error"] else 1


if __name__ == "__main__":
    sys.exit(main())
