"""Faults for tests: stop, kill, freeze, thaw and restart processes that a testbed started.

Only recorded processes are touched, chosen by service name and optionally process name
(``nova`` is every Nova process, ``nova nova-compute`` just the compute), and each with its
whole session (a gunicorn master and its worker, a daemon and its forks).

* ``stop``: SIGTERM then SIGKILL, as ``down`` does; the record stays, so ``restart`` can
  start it again and ``down`` still knows it.
* ``kill``: SIGKILL at once, a crash: nothing runs its shutdown (a Heat engine killed so
  leaves its service record behind, unlike a stopped one).
* ``freeze`` / ``thaw``: SIGSTOP / SIGCONT. A frozen API accepts connections (the kernel
  queues them) and answers none: clients time out, as with a hung server.
* ``restart``: stop if running, then the recorded command again with the environment the
  launcher gave it and in the same directory, so it listens on the same port; waits until
  the service's probe (``healthy``) answers again.
"""

from __future__ import annotations

import signal
import time

from testbed import services
from testbed.bed import Bed, Proc, ServiceError, signal_session, stop_session

SIGNAL_WAIT = 5.0


def select(bed: Bed, service: str, process: str | None = None) -> list[Proc]:
    """The recorded processes of ``service`` (only ``process`` when given)."""
    found = [p for p in bed.procs(service) if process is None or p.name == process]
    if not found:
        known = sorted({p.name for p in bed.procs(service)})
        what = service if process is None else f"{service}/{process}"
        raise KeyError(
            f"no recorded process {what} in {bed.root}"
            + (f"; {service} has {', '.join(known)}" if known else "")
        )
    return found


def stop(
    bed: Bed, service: str, process: str | None = None, *, timeout: float = 15.0
) -> list[Proc]:
    """Stop the selected processes (and their sessions); returns those that were running."""
    running = [p for p in select(bed, service, process) if p.running]
    for proc in running:
        stop_session(proc, timeout)
    return running


def kill(bed: Bed, service: str, process: str | None = None) -> list[Proc]:
    """SIGKILL the selected processes (and their sessions); returns those that were running."""
    running = [p for p in select(bed, service, process) if p.running]
    for proc in running:
        stop_session(proc, 0.0, graceful=False)
    return running


def freeze(bed: Bed, service: str, process: str | None = None) -> list[Proc]:
    """SIGSTOP every process of the selected sessions; returns when all are stopped."""
    return _signal(bed, service, process, signal.SIGSTOP, frozen=True)


def thaw(bed: Bed, service: str, process: str | None = None) -> list[Proc]:
    """SIGCONT every process of the selected sessions; returns when all run again."""
    return _signal(bed, service, process, signal.SIGCONT, frozen=False)


def restart(
    bed: Bed, service: str, process: str | None = None, *, timeout: float = 120.0
) -> list[Proc]:
    """Stop (if running) and start again the selected processes; the new records.

    Waits until each new process runs and the service's probe answers; a process that exits
    meanwhile fails it with its log tail.
    """
    new = []
    for proc in select(bed, service, process):
        if proc.running:
            stop_session(proc, 15.0)
        new.append(bed.respawn(proc))
    # A process of no known service (tests of this module) has no probe: running is enough.
    known = service in services.ALL
    for proc in new:
        bed.wait(
            proc,
            f"{service} answering after restarting {proc.name}",
            lambda: not known or bool(services.module(service).healthy(bed)),
            timeout=timeout,
        )
    return new


def _signal(
    bed: Bed, service: str, process: str | None, sig: signal.Signals, *, frozen: bool
) -> list[Proc]:
    running = [p for p in select(bed, service, process) if p.running]
    if not running:
        what = service if process is None else f"{service}/{process}"
        raise ServiceError(service, f"no process of {what} is running to send {sig.name} to")
    for proc in running:
        signal_session(proc, sig)
    deadline = time.monotonic() + SIGNAL_WAIT
    while any(p.frozen != frozen for p in running if p.running):
        if time.monotonic() > deadline:
            raise ServiceError(service, f"{sig.name} not in effect after {SIGNAL_WAIT:.0f}s")
        time.sleep(0.02)
    return running
