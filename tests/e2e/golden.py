"""End-to-end golden output: the real exporter's exposition, diffed against a file.

Three goldens: ``libvirt_demo.prom`` (the libvirt collector on the demo node file, every line
with volatile values blanked), ``openstack_testbed.prom`` and ``gnocchi_testbed.prom`` (the
openstack and gnocchi collectors with ``--once`` on the testbed, as family shapes: HELP, TYPE
and the label names of each family; their values and label values are the testbed's state,
which ``tests/integration/test_openstack_values.py`` and ``test_gnocchi_values.py`` check
against openstacksdk and gnocchiclient).

Run ``python -m tests.e2e.golden --update`` (or ``make golden``) after a deliberate change to
the exposition, and review the diff like code. The testbed goldens need a running testbed
(``make testbed``; ``$TESTBED_DIR`` names another one); without one it is left alone.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.exporter import DEMO_NODE, REPO, run_exporter, run_once

GOLDEN = Path(__file__).with_name("libvirt_demo.prom")
OPENSTACK_GOLDEN = Path(__file__).with_name("openstack_testbed.prom")
GNOCCHI_GOLDEN = Path(__file__).with_name("gnocchi_testbed.prom")

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


def shapes(text: str) -> str:
    """HELP and TYPE lines as they are, then one ``name{label,...}`` line for each set of
    label names a family's samples carry (in order of first appearance); values dropped."""
    out: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            out.append(line)
            continue
        name, _, rest = line.partition("{")
        if rest:
            names = re.findall(r'(?:^|,)([A-Za-z_][A-Za-z0-9_]*)="(?:[^"\\]|\\.)*"', rest)
            shape = f"{name}{{{','.join(names)}}}"
        else:
            shape = line.split(" ", 1)[0]
        if shape not in seen:
            seen.add(shape)
            out.append(shape)
    return "\n".join(out) + "\n"


def scrape_demo() -> str:
    with run_exporter(["--libvirt.uri", f"test://{DEMO_NODE}"]) as exporter:
        return exporter.metrics()


def testbed_clouds_yaml() -> Path:
    """The running testbed's clouds.yaml: ``$TESTBED_DIR``'s, else the repository's."""
    return Path(os.environ.get("TESTBED_DIR") or REPO / ".testbed") / "clouds.yaml"


def scrape_central(collector: str, clouds_yaml: Path) -> str:
    """One ``--once`` run of ``collector`` alone on the testbed's admin cloud."""
    proc = run_once(
        ["--no-collector.libvirt", f"--collector.{collector}", "--os-cloud", "testbed"],
        env={"OS_CLIENT_CONFIG_FILE": str(clouds_yaml)},
    )
    if proc.returncode != 0:
        raise AssertionError(f"--once exited {proc.returncode}:\n{proc.stderr}")
    return proc.stdout


def scrape_openstack(clouds_yaml: Path) -> str:
    return scrape_central("openstack", clouds_yaml)


def scrape_gnocchi(clouds_yaml: Path) -> str:
    return scrape_central("gnocchi", clouds_yaml)


def differences(golden: Path, got: str) -> str:
    """A unified diff from the golden file to ``got``; empty when they match."""
    want = golden.read_text() if golden.exists() else ""
    return "".join(
        difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden", "live")
    )


GOLDENS: dict[str, tuple[Path, Callable[[], str]]] = {
    "libvirt": (GOLDEN, lambda: normalize(scrape_demo())),
    "openstack": (OPENSTACK_GOLDEN, lambda: shapes(scrape_openstack(testbed_clouds_yaml()))),
    "gnocchi": (GNOCCHI_GOLDEN, lambda: shapes(scrape_gnocchi(testbed_clouds_yaml()))),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update", action="store_true", help="rewrite the golden files")
    parser.add_argument("--only", choices=sorted(GOLDENS), help="just this golden")
    args = parser.parse_args()
    status = 0
    for name, (path, produce) in GOLDENS.items():
        if args.only not in (None, name):
            continue
        if name != "libvirt" and not testbed_clouds_yaml().exists():
            print(f"{name}: skipped, no testbed ({testbed_clouds_yaml()} is missing)")
            continue
        got = produce()
        if args.update:
            path.write_text(got)
            print(f"{name}: wrote {path}")
        elif differences(path, got):
            print(f"{name}: output differs from {path.name}; run with --update if intended")
            status = 1
        else:
            print(f"{name}: golden output matches")
    return status


if __name__ == "__main__":
    sys.exit(main())
