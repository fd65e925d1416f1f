"""Many servers' resources and measures in a running testbed's Gnocchi, for scale tests and
benchmarks of a Gnocchi reader::

    python -m testbed.gnocchi_scale seed --count 1000 --tag bench [--projects 4]
    python -m testbed.gnocchi_scale push --tag bench
    python -m testbed.gnocchi_scale remove --tag bench

Each server is what Ceilometer's compute agent would leave in Gnocchi: an ``instance``
(display name ``scale-<tag>-<n>``), its ``instance_disk`` ``<id>-vda`` and one
``instance_network_interface``, with the metric names, units and archive policies of the
testbed's measures feeder, spread over ``projects`` fake project ids derived from the tag.
Everything goes through Gnocchi's REST API (``seed/gnocchi_scale_seed.py`` in the OpenStack
environment, with the admin credentials): resources created by parallel requests, one
sample per metric at the current minute in batch requests of ``chunk`` resources, and a wait
until gnocchi-metricd has processed every measure (``GET /v1/status``). ``remove`` deletes by
tag, so a shared testbed can be left clean. Progress and timings go to
``logs/gnocchi-scale.log``; the last record to ``gnocchi/scale-<tag>.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from testbed.bed import Bed
from testbed.services import keystone

SEED = Path(__file__).resolve().parent / "seed" / "gnocchi_scale_seed.py"
PROJECTS = 4
THREADS = 8
CHUNK = 500
TAG = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def _run(bed: Bed, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    if not TAG.fullmatch(spec["tag"]):
        raise ValueError(f"tag {spec['tag']!r}: letters, digits, '_.-', at most 40")
    # The record (seed, push) where the CLI's push finds it; other results beside it.
    suffix = "" if spec["op"] in ("seed", "push") else f".{spec['op']}"
    out = bed.service_dir("gnocchi") / f"scale-{spec['tag']}{suffix}.json"
    bed.python(
        "gnocchi",
        "gnocchi-scale",
        SEED,
        json.dumps(spec),
        str(out),
        env=keystone.client_env(bed),
        timeout=timeout,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def processing_timeout(count: int) -> float:
    """metricd processes some 300 metrics a second per worker here; three times that margin."""
    return 120 + count * 0.3


def seed(
    bed: Bed,
    count: int,
    tag: str,
    projects: int = PROJECTS,
    *,
    threads: int = THREADS,
    chunk: int = CHUNK,
    wait: bool = True,
) -> dict[str, Any]:
    """Create ``count`` servers' resources with one sample per metric, processed by metricd
    (``wait=False``: pushed, not waited for, for a test that only needs the resources).

    Returns the record: ``instances`` (ids), ``disks`` and ``nics`` (original resource ids),
    ``projects``, ``user_id``, ``timestamp`` (the samples' minute), ``first``, ``samples``,
    ``created``/``existing`` (a re-run adds only what is missing) and ``seconds``
    (``create_s``, ``push_s``, ``process_s``, ``total_s``).
    """
    limit = processing_timeout(count)
    spec = {"op": "seed", "tag": tag, "count": count, "projects": projects,
            "threads": threads, "chunk": chunk, "timeout": limit, "wait": wait}  # fmt: skip
    return _run(bed, spec, timeout=limit + 120 + count * 0.5)


def push(bed: Bed, record: dict[str, Any], *, chunk: int = CHUNK) -> dict[str, Any]:
    """One more sample per metric, the minute after the record's (counters grown by their
    rate), processed by metricd; returns the record with the new ``timestamp``."""
    wait = processing_timeout(record["count"])
    spec = {
        "op": "push",
        "tag": record["tag"],
        "count": record["count"],
        "projects": len(record["projects"]),
        "first": record["first"],
        "last": record["timestamp"],
        "threads": THREADS,
        "chunk": chunk,
        "timeout": wait,
    }
    return _run(bed, spec, timeout=wait + 120 + record["count"] * 0.1)


def end(bed: Bed, record: dict[str, Any], n: int) -> list[str]:
    """Set ``ended_at`` (now) on the first ``n`` instances and their disks and NICs, as
    Ceilometer does for deleted servers; returns the instance ids."""
    spec = {
        "op": "end",
        "tag": record["tag"],
        "instances": record["instances"][:n],
        "disks": record["disks"][:n],
        "nics": record["nics"][:n],
    }
    ended: list[str] = _run(bed, spec, timeout=120 + n * 0.5)["instances"]
    return ended


def remove(
    bed: Bed, record: dict[str, Any] | None = None, *, tag: str | None = None
) -> dict[str, int]:
    """Delete every resource of the record's tag (or ``tag``), disks and NICs included:
    ``{"deleted": count}``. One search delete on ``generic`` by the tag's user id (see the
    seed script for why not per type)."""
    name = tag if tag is not None else (record or {}).get("tag")
    if not name:
        raise ValueError("remove needs a record or a tag")
    deleted: dict[str, int] = _run(bed, {"op": "remove", "tag": name}, timeout=600)
    return deleted


def main(argv: list[str] | None = None) -> int:
    from testbed.__main__ import testbed_dir  # noqa: PLC0415 - the CLI's own default
    from testbed.venv import default_venv  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="python -m testbed.gnocchi_scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=("seed", "push", "remove"))
    parser.add_argument("--tag", required=True)
    parser.add_argument("--count", type=int, default=100, help="servers (seed)")
    parser.add_argument("--projects", type=int, default=PROJECTS)
    parser.add_argument("--chunk", type=int, default=CHUNK, help="resources per batch push")
    args = parser.parse_args(argv)
    bed = Bed(testbed_dir(), default_venv())
    if "gnocchi" not in bed.started_services():
        print("start it first: python -m testbed up gnocchi", file=sys.stderr)
        return 1
    if args.command == "seed":
        result: dict[str, Any] = seed(bed, args.count, args.tag, args.projects, chunk=args.chunk)
    elif args.command == "push":
        saved = bed.service_dir("gnocchi") / f"scale-{args.tag}.json"
        result = push(bed, json.loads(saved.read_text()), chunk=args.chunk)
    else:
        result = remove(bed, tag=args.tag)
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, list)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
