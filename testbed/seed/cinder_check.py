"""Cinder works end to end: its services are up and a volume becomes ``available``.

Admin credentials in ``OS_*``. Waits for ``cinder-scheduler`` and ``cinder-volume`` to
report up, then creates the 1 GB volume ``testbed-volume`` if absent (the real scheduler
places it and the real volume manager creates it on the fake backend) and waits for it.
Prints ``{"services": [...], "volume_id": ...}`` as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from os_session import connect  # type: ignore[import-not-found,unused-ignore]

BINARIES = ("cinder-scheduler", "cinder-volume")
VOLUME = "testbed-volume"


def wait_for_services(volume: Any, timeout: float = 90.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        up = [f"{s.binary}@{s.host}" for s in volume.services() if s.state == "up"]
        if all(any(u.startswith(f"{b}@") for u in up) for b in BINARIES):
            return sorted(up)
        if time.monotonic() > deadline:
            sys.exit(f"cinder services not up after {timeout:.0f}s: only {up}")
        time.sleep(0.5)


def ensure_volume(volume: Any, timeout: float = 90.0, attempts: int = 4) -> str:
    """A volume in ``error`` right after the services came up is retried: cinder-volume
    reports up (its heartbeat in the database) before the scheduler has its capabilities,
    and until then the scheduler finds no backend and sets the volume to ``error``."""
    deadline = time.monotonic() + timeout
    for attempt in range(1, attempts + 1):
        found = volume.find_volume(VOLUME)
        if found is not None and found.status != "available":
            volume.delete_volume(found, force=True)
            volume.wait_for_delete(found, wait=60)
            found = None
        if found is None:
            found = volume.create_volume(name=VOLUME, size=1)
        while found.status not in ("available", "error"):
            if time.monotonic() > deadline:
                sys.exit(f"volume {found.id} is {found.status!r}, not available")
            time.sleep(0.5)
            found = volume.get_volume(found.id)
        if found.status == "available":
            return str(found.id)
        print(f"volume {found.id} in error (attempt {attempt}); again", file=sys.stderr)
        time.sleep(5.0)
    sys.exit(f"volume {found.id} still 'error' after {attempts} attempts")


def main() -> None:
    volume = connect().block_storage
    services = wait_for_services(volume)
    print(json.dumps({"services": services, "volume_id": ensure_volume(volume)}))


if __name__ == "__main__":
    main()
