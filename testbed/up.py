"""Bring services up in dependency order, in parallel where the graph allows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from testbed import services
from testbed.bed import Bed, ServiceError

# Two cores: more parallel starts only make each slower (most of a start is Python imports
# and database migrations, both CPU-bound).
PARALLEL = 3


def is_up(bed: Bed, name: str) -> bool:
    """Started here before, every process still ours and alive, and its probe answers."""
    if name not in bed.started_services():
        return False
    procs = bed.procs(name)
    if any(not p.running for p in procs):
        return False
    try:
        healthy: bool = services.module(name).healthy(bed)
    except (OSError, KeyError, ServiceError):
        return False
    return healthy


def up(
    bed: Bed,
    names: list[str],
    *,
    report: Callable[[str, str, float], None] | None = None,
) -> dict[str, float]:
    """Start ``names`` and what they need; reuse what already runs. Returns seconds per service.

    The first failure stops the launch: services already started stay up for inspection
    (``down`` stops them) and the error carries the failing service's log tail.
    """
    order = services.closure(names)
    timings: dict[str, float] = {}
    done: set[str] = set()
    lock = threading.Lock()

    def launch(name: str) -> None:
        began = time.monotonic()
        if is_up(bed, name):
            state = "reused"
        else:
            bed.stop(name)  # leftovers of an earlier, failed or stopped attempt
            services.module(name).start(bed)
            state = "started"
        with lock:
            timings[name] = time.monotonic() - began
        if report:
            report(name, state, timings[name])

    pending = list(order)
    running: dict[Future[None], str] = {}
    with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="testbed") as pool:
        while pending or running:
            for name in list(pending):
                if len(running) >= PARALLEL:
                    break
                if all(dep in done for dep in services.requires(name)):
                    pending.remove(name)
                    running[pool.submit(launch, name)] = name
            if not running:
                raise ServiceError("testbed", f"cannot order {pending}")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                error = future.exception()
                if error is not None:
                    for other in running:
                        other.cancel()
                    raise error
                done.add(name)
    return timings
