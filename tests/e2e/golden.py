"""End-to-end golden output: the real exporter on the demo node file, diffed against a file.

Run ``python -m tests.e2e.golden --update`` (or ``make golden``) after a deliberate change to
the exposition, and review the diff of ``tests/e2e/libvirt_demo.prom`` like code.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from tests.support.exporter import DEMO_NODE, run_exporter

GOLDEN = Path(__file__).with_name("libvirt_demo.prom")

# The test driver derives these counters from the wall clock; our own timings vary too.
VOLATILE = re.compile(
    r"^(libvirt_domain_(block_stats_(read|write)_(bytes|requests)_total"
    r"|info_cpu_time_seconds_total|interface_stats_\w+_total|vcpu_time_seconds_total)"
    r"|openstack_exporter_collector_(duration_seconds|last_success_timestamp_seconds))[{ ]"
)
PYTHON_VERSION = re.compile(r'pythonversion="[^"]*"')


def normalize(text: str) -> str:
    """Keep every line (so names, labels and HELP/TYPE are checked) but blank volatile values."""
    out = []
    for raw in text.splitlines():
        line = raw
        if not line.startswith("#"):
            line = PYTHON_VERSION.sub('pythonversion="X"', line)
            if VOLATILE.match(line):
                line = line.rsplit(" ", 1)[0] + " <volatile>"
        out.append(line)
    return "\n".join(out) + "\n"


def scrape_demo() -> str:
    with run_exporter(["--libvirt.uri", f"test://{DEMO_NODE}"]) as exporter:
        return exporter.metrics()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update", action="store_true", help="rewrite the golden file")
    args = parser.parse_args()
    got = normalize(scrape_demo())
    if args.update:
        GOLDEN.write_text(got)
        print(f"wrote {GOLDEN}")
        return 0
    if got != GOLDEN.read_text():
        print("output differs from the golden file; run with --update if intended")
        return 1
    print("golden output matches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
