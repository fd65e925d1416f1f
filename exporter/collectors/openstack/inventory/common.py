"""What the inventory parts share: per-project fan-out and the project list."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from exporter.collectors.openstack.session import CloudSession

T = TypeVar("T")
R = TypeVar("R")

PER_PROJECT_WORKERS = 4
"""Per-project calls in flight at once: fast enough at a few hundred projects, gentle on APIs."""

PAGE = 1000
"""Page size asked for; APIs cap it at their own ``max_limit`` (1,000 by default)."""


PROJECTS_MAX_AGE = 20.0
"""Seconds the project list is shared between parts: within one cycle, never across two."""


def projects(session: CloudSession) -> list[Any]:
    """Every project, paginated; fetched once for the parts of a cycle that need it."""
    return list(
        session.shared(
            "projects", PROJECTS_MAX_AGE, lambda: list(session.proxy("identity").projects())
        )
    )


def fan_out(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``fn`` on every item, a few at a time; the first error fails the part."""
    with ThreadPoolExecutor(PER_PROJECT_WORKERS, thread_name_prefix="openstack-project") as pool:
        return list(pool.map(fn, items))
