"""Gnocchi resources and measures for the booted Nova server, as Ceilometer would publish them.

No process of its own: a seed script (testbed/seed/measures_seed.py) creates the server's
``instance``, ``instance_disk`` and ``instance_network_interface`` resources with
Ceilometer's metric names, pushes ten minutes of samples ending now (idle, then busy: see
that script for what an alarm on them means) and returns once gnocchi-metricd has
aggregated them.
"""

from __future__ import annotations

import json
from pathlib import Path

from testbed.bed import Bed, http_status
from testbed.services import keystone

REQUIRES = ("gnocchi", "server")
SEED = Path(__file__).resolve().parent.parent / "seed" / "measures_seed.py"


def start(bed: Bed) -> None:
    nova = bed.info("nova")
    out = bed.python(
        "measures",
        "measures-seed",
        SEED,
        json.dumps(nova),
        env=keystone.client_env(bed),
        timeout=180,
    )
    pushed = json.loads(out.strip().splitlines()[-1])
    bed.record("measures", {"server_id": nova["server_id"], **pushed})


def healthy(bed: Bed) -> bool:
    """Measures of the server Nova runs now are still in Gnocchi (a new one would lack them)."""
    info = bed.info("measures")
    if info["server_id"] != bed.info("nova").get("server_id"):
        return False
    url = f"{bed.info('gnocchi')['url']}/v1/resource/instance/{info['server_id']}"
    try:
        token = {"X-Auth-Token": keystone.admin_token(bed)}
        return http_status(url, headers=token, timeout=10) == 200
    except OSError:
        return False
