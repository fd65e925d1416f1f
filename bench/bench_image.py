"""The container image's cost: how long ``make image`` takes from nothing (the base image
removed) and again with the base kept, the image's size, and the CPU a program spends
importing its libraries at start (the image keeps no bytecode for them).

    .venv/bin/python -m bench.bench_image      # writes results/image.txt (about 2 minutes)
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE = "localhost/openstack-telemetry-bridge:latest"
BASE = "localhost/openstack-telemetry-bridge-base:bookworm"
RUN = ("--runtime", "runc", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096")
IMPORTS = (
    "import time; t = time.process_time(); "
    "import openstack, gnocchiclient.client, aodhclient.client, flask, libvirt, "
    "exporter.cli, alerts.app; print(time.process_time() - t)"
)


def timed_build() -> float:
    start = time.monotonic()
    subprocess.run(["make", "--no-print-directory", "image"], cwd=REPO, check=True,
                   capture_output=True)  # fmt: skip
    return time.monotonic() - start


def import_cpu() -> float:
    runs = []
    for _ in range(3):
        out = subprocess.run(
            ["podman", "run", "--rm", *RUN, "--network=none", IMAGE, "python3", "-c", IMPORTS],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        runs.append(float(out.stdout.strip()))
    return min(runs)


def main() -> None:
    subprocess.run(["podman", "rmi", "--force", IMAGE, BASE], check=False, capture_output=True)
    cold = timed_build()
    warm = timed_build()
    info = json.loads(subprocess.check_output(["podman", "image", "inspect", IMAGE]))[0]
    lines = [
        f"# make image ({dt.date.today().isoformat()}, {len(info['RootFS']['Layers'])} layers)",
        f"build from nothing (base image included): {cold:.0f} s",
        f"build again (base kept, wheels and image rebuilt): {warm:.0f} s",
        f"image size: {info['Size'] / 1e6:.1f} MB (target: under 200 MB)",
        f"CPU importing every library at start: {import_cpu():.2f} s",
    ]
    text = "\n".join(lines) + "\n"
    (REPO / "bench" / "results" / "image.txt").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
