"""What the bulk path costs the exporter at scale, from a record of a real QEMU domain.

No host here runs 1,000 QEMU guests, but the bulk path's work after the one libvirt call is
pure Python: turning records into families, rendering, gzip. This replays the recorded QEMU
record (tests/unit/fixtures) for N domains, each with its own name and UUID, and times that
work. Results go to bench/results/bulk_path.md and .json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import statistics
import time
import tracemalloc
from pathlib import Path
from typing import Any

from exporter.collectors.libvirt.domainxml import DomainDescription, parse_domain_xml
from exporter.collectors.libvirt.families import domain_families
from exporter.exposition import render
from exporter.snapshot import GZIP_LEVEL

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "unit" / "fixtures"
RESULTS = ROOT / "bench" / "results"


def _domains(count: int) -> list[tuple[DomainDescription, dict[str, Any]]]:
    record = json.loads((FIXTURES / "qemu_domstats.json").read_text())["stats"]
    xml = (FIXTURES / "qemu_domain.xml").read_text()
    base = parse_domain_xml(xml)
    out = []
    for i in range(count):
        name = f"instance-{i:08x}"
        uuid = f"{i:08x}-0000-4000-8000-{i:012x}"
        desc = parse_domain_xml(xml.replace(base.name, name).replace(base.uuid, uuid))
        out.append((desc, dict(record)))
    return out


def measure(count: int, repeats: int) -> dict[str, Any]:
    domains = _domains(count)
    build, rend, comp = [], [], []
    body = b""
    for _ in range(repeats):
        t0 = time.perf_counter()
        families = domain_families(domains)
        t1 = time.perf_counter()
        body = render(families)
        t2 = time.perf_counter()
        gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        t3 = time.perf_counter()
        build.append(t1 - t0)
        rend.append(t2 - t1)
        comp.append(t3 - t2)
    tracemalloc.start()
    render(domain_families(domains))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "domains": count,
        "samples": sum(1 for line in body.splitlines() if not line.startswith(b"#")),
        "build_s": statistics.median(build),
        "render_s": statistics.median(rend),
        "gzip_s": statistics.median(comp),
        "body_bytes": len(body),
        "transient_peak_bytes": peak,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", default="10,1000,5000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = [measure(int(n), args.repeats) for n in args.domains.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    (RESULTS / "bulk_path.json").write_text(json.dumps({"date": stamp, "rows": rows}, indent=2))
    lines = [
        "# Bulk path: the exporter's own work per cycle",
        "",
        f"{stamp}; `python -m bench.bench_bulk_path`. The recorded real QEMU record replayed "
        "for N domains; the one `getAllDomainStats` call itself is not included. Median of "
        f"{args.repeats} cycles; transient peak is Python allocations during one cycle.",
        "",
        "| domains | samples | build families s | render s | gzip s | total s | body MiB "
        "| transient peak MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        total = r["build_s"] + r["render_s"] + r["gzip_s"]
        lines.append(
            f"| {r['domains']} | {r['samples']} | {r['build_s']:.3f} | {r['render_s']:.3f} "
            f"| {r['gzip_s']:.3f} | {total:.3f} | {r['body_bytes'] / 2**20:.1f} "
            f"| {r['transient_peak_bytes'] / 2**20:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    (RESULTS / "bulk_path.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
