"""Gnocchi resources and live measures for the booted Nova server, as Ceilometer's compute
agent publishes them.

One process, ``measures-feed`` (testbed/seed/measures_feed.py in the OpenStack environment):
it creates the server's ``instance``, ``instance_disk`` and ``instance_network_interface``
resources with Ceilometer's metric names, backfills ten minutes of one-minute samples ending
now (five idle, then five busy), waits until gnocchi-metricd has aggregated them, and then
pushes one busy sample per metric every ``TESTBED_MEASURES_INTERVAL`` seconds (default 60),
for as long as the testbed runs. ``start`` returns once the backfill is aggregated.

The Aodh story holds: the alarm on the server's ``cpu`` (rate:mean at 60 s over 80 % of the
vCPUs, ``0.8 * vcpus * interval * 1e9`` ns a sample) fires on the backfill's busy minutes and
keeps firing on the live ones. The fault verbs reach the feeder as service ``measures``:
frozen or killed, its samples stop; thawed, it catches up on every grid point it missed;
restarted, it continues from Gnocchi's newest point. A Gnocchi that is frozen or down only
delays its pushes.

Recorded: ``server_id``, ``resources`` (Gnocchi's ``id`` and ``original_resource_id`` per
type), ``metrics`` (names per type), ``vcpus``, ``interval``, and ``state_file``: a JSON file
the feeder rewrites after each push, with ``interval``, ``last_sample`` and the last
``pushes`` (``sample`` timestamp, wall-clock ``at``, ``points``), ``failures`` and
``last_error``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from testbed.bed import Bed, ServiceError
from testbed.services import keystone

REQUIRES = ("gnocchi", "server")
FEED = Path(__file__).resolve().parent.parent / "seed" / "measures_feed.py"
INTERVAL_VARIABLE = "TESTBED_MEASURES_INTERVAL"
DEFAULT_INTERVAL = 60
READY_TIMEOUT = 180.0


def interval() -> int:
    """Seconds between live samples: ``TESTBED_MEASURES_INTERVAL``, else Ceilometer's 60."""
    raw = os.environ.get(INTERVAL_VARIABLE) or str(DEFAULT_INTERVAL)
    if not raw.isdigit() or int(raw) < 1:
        raise ServiceError("measures", f"{INTERVAL_VARIABLE}={raw!r}: whole seconds >= 1")
    return int(raw)


def start(bed: Bed) -> None:
    nova = bed.info("nova")
    base = bed.service_dir("measures")
    ready, state = base / "ready.json", base / "feed.json"
    ready.unlink(missing_ok=True)
    seconds = interval()
    env = {**keystone.client_env(bed), INTERVAL_VARIABLE: str(seconds)}
    argv = [bed.os_bin("python"), str(FEED), json.dumps(nova), str(ready), str(state)]
    proc = bed.spawn("measures", "measures-feed", argv, env=env)
    bed.wait(
        proc,
        "the backfilled measures aggregated",
        ready.exists,
        timeout=READY_TIMEOUT,
        interval=0.5,
    )
    pushed = json.loads(ready.read_text())
    bed.record(
        "measures",
        {"server_id": nova["server_id"], **pushed, "interval": seconds, "state_file": str(state)},
    )


def healthy(bed: Bed) -> bool:
    """The feeder runs and feeds the server Nova runs now (a new one would lack measures)."""
    info = bed.info("measures")
    procs = bed.procs("measures")
    return (
        bool(procs)
        and all(p.running for p in procs)
        and info["server_id"] == bed.info("nova").get("server_id")
    )
