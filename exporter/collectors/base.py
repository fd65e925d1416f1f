"""What every collector gives the scheduler."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from exporter.metric import MetricFamily


@dataclass(frozen=True, slots=True)
class Collection:
    """One cycle's outcome.

    A collector may fail yet still have something true to say (``libvirt_up 0``), so failure
    carries families too; ``error`` is a short, secret-free reason for the log.
    """

    families: list[MetricFamily] = field(default_factory=list)
    error: str | None = None

    @property
    def success(self) -> bool:
        return self.error is None


class Collector(Protocol):
    name: str

    def collect(self) -> Collection:
        """Run one cycle; may block on I/O, the scheduler enforces the deadline."""
        ...

    def fallback(self) -> list[MetricFamily]:
        """What is still true when ``collect`` raised (``libvirt_up``, say).

        Called by the scheduler on the cycle's thread after an unexpected exception, so the
        crash fails the cycle without blanking the collector's part. Must be cheap and must not
        block; an empty list is a valid answer.
        """
        ...

    def close(self) -> None:
        """Release connections at shutdown."""
        ...
