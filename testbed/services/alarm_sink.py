"""A webhook receiver (testbed/sink.py) that records every request in ``received.jsonl``.

Aodh's alarm actions point here, so a test sees exactly what the notifier sent.
"""

from __future__ import annotations

import sys
from pathlib import Path

from testbed.bed import Bed, answers

REQUIRES: tuple[str, ...] = ()
CHECKOUT = Path(__file__).resolve().parent.parent.parent


def start(bed: Bed) -> None:
    port = bed.port("alarm_sink")
    received = bed.service_dir("alarm_sink") / "received.jsonl"
    received.touch()
    # PYTHONPATH: the sink is part of this checkout and runs with the orchestrator's Python.
    proc = bed.spawn(
        "alarm_sink",
        "alarm_sink",
        [sys.executable, "-m", "testbed.sink", str(port), str(received)],
        env={"PYTHONPATH": str(CHECKOUT)},
    )
    url = f"http://127.0.0.1:{port}/alarm"
    bed.wait_http(proc, url, timeout=15)
    bed.record("alarm_sink", {"url": url, "file": str(received)})


def healthy(bed: Bed) -> bool:
    return answers(bed.info("alarm_sink")["url"])
