"""The gnocchi collector's memory per cycle at many servers, without a Gnocchi that big.

A Gnocchi holding thousands of servers takes most of an hour to seed and minutes per cycle
(``bench_gnocchi.py``), so the exporter's own memory is measured here on a fake: the
answers recorded from the testbed's real Gnocchi (``tests/fixtures/gnocchi``, replayed by
``tests.support.gnocchi_fake``) with each recorded server cloned N times under new ids.
Every answer goes through JSON text and back, as over the wire, so the parsed objects are
as many as a real answer's. The fake answers at once, so every slot holds an answer being
parsed or reduced: the worst case for memory.

Each size runs in a fresh process: the allocator set up as the exporter sets it, the fake
built, the peak RSS reset (``/proc/self/clear_refs``), then three cycles run through the
exporter's own ``CollectorRunner`` (collect, render, publish to the snapshot, trim).
Reported: the peak over the process before the cycles, the RSS the cycles leave (with the
fake's own data, which is most of the RSS before), the body's size and the CPU of a cycle.

    .venv/bin/python -m bench.bench_gnocchi_memory                 # 1,000 and 5,000; 1 and 4 shards
    .venv/bin/python -m bench.bench_gnocchi_memory --sizes 1000 --shards 1

The real exporter adds what it imports (openstacksdk, gnocchiclient: about 60 MB, see
``results/gnocchi.md`` at 100 servers) and Gnocchi's HTTP answers in flight.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.procfs import host_info
from bench.report import save
from otb_common import allocator

ROOT = Path(__file__).resolve().parents[1]
CYCLES = 3
BIG_TYPES = ("instance", "instance_disk", "instance_network_interface")


def _kib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def one(size: int, shards: int) -> dict[str, Any]:
    """In this process: the fake for ``size`` servers, then the cycles measured."""
    from exporter.collectors.gnocchi.collector import GnocchiCollector  # noqa: PLC0415 - in the measured process only
    from exporter.scheduler import CollectorRunner  # noqa: PLC0415 - as above
    from exporter.snapshot import Snapshot  # noqa: PLC0415 - as above
    from tests.support.gnocchi_fake import (  # noqa: PLC0415 - as above
        FakeClock,
        FakeGnocchiBackend,
        FakeGnocchiClient,
        load,
    )
    from tests.unit.test_gnocchi_plan import gnocchi_config  # noqa: PLC0415 - as above

    allocator.share_arenas()  # as the exporter does before its threads start
    backend = FakeGnocchiBackend()
    for kind, refs in list(backend.references.items()):
        originals = list(refs.values())
        for _ in range(size - 1):
            for ref in originals:
                clone = copy.deepcopy(ref)
                clone["id"] = str(uuid.uuid4())
                clone["metrics"] = {name: str(uuid.uuid4()) for name in clone.get("metrics") or {}}
                refs[clone["id"]] = clone
                for key in [k for k in backend.points if k[0] == kind and k[1] == ref["id"]]:
                    backend.points[(kind, clone["id"], *key[2:])] = backend.points[key]
    recorded = backend.http_post

    def over_the_wire(path: str, body: dict[str, Any]) -> Any:
        return json.loads(json.dumps(recorded(path, body)).encode())

    setattr(backend, "http_post", over_the_wire)  # noqa: B010 - a method replaced on one object
    fake = FakeGnocchiClient(backend)
    section = {"resource_types": {kind: {"shards": shards} for kind in BIG_TYPES}}
    collector = GnocchiCollector(
        gnocchi_config(section), fake.session, clock=FakeClock(load("meta.json")["recorded_at"])
    )
    collector.client = fake
    snapshot = Snapshot([collector.name])
    runner = CollectorRunner(collector, 3600.0, 3600.0, snapshot)
    before = _kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM starts again from VmRSS
    cpu: list[float] = []
    for _ in range(CYCLES):
        started = time.process_time()
        if not runner.run_once():
            raise RuntimeError("a cycle failed")
        cpu.append(time.process_time() - started)
    peak, after = _kib("VmHWM"), _kib("VmRSS")
    body = snapshot.body()
    return {
        "servers": size,
        "shards": shards,
        "lines": sum(chunk.count(b"\n") for chunk in body.chunks),
        "body_mb": body.length / 1e6,
        "rss_before_mb": before * 1024 / 1e6,
        "peak_over_before_mb": (peak - before) * 1024 / 1e6,
        "rss_after_mb": after * 1024 / 1e6,
        "cpu_per_cycle_s": sorted(cpu)[len(cpu) // 2],
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Gnocchi collector memory (recorded answers, cloned)",
        "",
        f"Run {result['when']} on {result['host'].get('cpu_model', '?')}; `{result['command']}`.",
        "The fake replays the testbed's recorded Gnocchi answers, each server cloned under new",
        "ids, through JSON text (bench/bench_gnocchi_memory.py). Gnocchi's own time is absent;",
        "the imports of the real exporter (about 60 MB) are not counted.",
        "",
        "| servers | shards | lines of body | body (MB) | RSS before (MB) "
        "| peak over before (MB) | RSS after (MB) | CPU per cycle (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in result["runs"]:
        lines.append(
            f"| {run['servers']:,} | {run['shards']} | {run['lines']:,} | {run['body_mb']:.1f} "
            f"| {run['rss_before_mb']:.1f} | {run['peak_over_before_mb']:.1f} "
            f"| {run['rss_after_mb']:.1f} | {run['cpu_per_cycle_s']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--shards", default="1,4")
    parser.add_argument("--stem", default="gnocchi-memory", help="results file name")
    parser.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.one:
        print(json.dumps(one(*args.one)))
        return 0
    runs = []
    for size in (int(n) for n in args.sizes.split(",")):
        for shards in (int(n) for n in args.shards.split(",")):
            command = [sys.executable, "-m", "bench.bench_gnocchi_memory", "--one"]
            out = subprocess.run(
                [*command, str(size), str(shards)], cwd=ROOT, capture_output=True, text=True,
                check=True,
            )  # fmt: skip
            runs.append(json.loads(out.stdout.splitlines()[-1]))
            print(json.dumps(runs[-1]), flush=True)
    result = {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench.bench_gnocchi_memory " + " ".join(argv or sys.argv[1:]),
        "host": host_info(),
        "runs": runs,
    }
    save(ROOT / "bench" / "results" / f"{args.stem}.json", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
