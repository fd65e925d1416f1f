"""One group's read: an aggregates request per shard, the latest fresh point per series.

The search holds only live resources (``ended_at`` null: the resource search inside
aggregates is not paginated and, since Gnocchi 4.7, ``start`` no longer narrows it) and, for
a sharded type, one slice of the id space: resource ids are UUIDs, so equal slices hold about
equal numbers of resources whatever the projects. ``start`` is the staleness limit, so the
response holds at most ``stale_after`` points per series and never a stale one.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from exporter.collectors.gnocchi.client import GnocchiClient
from exporter.collectors.gnocchi.plan import Group

SHARD_WORKERS = 4
LIVE: dict[str, Any] = {"=": {"ended_at": None}}
Labels = tuple[str, ...]


@dataclass(slots=True)
class Read:
    """What one group's read found."""

    rows: dict[str, list[tuple[Labels, float]]] = field(default_factory=dict)
    """Family name -> (label values, value)."""
    resources: int = 0
    fresh: dict[str, int] = field(default_factory=dict)
    stale: dict[str, int] = field(default_factory=dict)
    newest: dict[str, tuple[float, str]] = field(default_factory=dict)
    """Metric -> (newest point's timestamp, the metric id holding it)."""


def shard_search(index: int, shards: int) -> dict[str, Any]:
    """Live resources whose id falls in slice ``index`` of ``shards`` equal slices."""
    if shards == 1:
        return LIVE
    span = 2**128
    low, high = span * index // shards, span * (index + 1) // shards
    bounds: list[dict[str, Any]] = [LIVE]
    if index > 0:
        bounds.append({">=": {"id": str(UUID(int=low))}})
    if index < shards - 1:
        bounds.append({"<": {"id": str(UUID(int=high))}})
    return {"and": bounds}


def timestamp(text: str) -> float:
    return datetime.datetime.fromisoformat(text).timestamp()


def iso(seconds: float) -> str:
    """A ``start`` for Gnocchi: UTC, whole seconds."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.replace(microsecond=0).isoformat()


def is_no_match(exc: Exception) -> bool:
    """Gnocchi answers 404 "Metric [...] does not exist" when the search matched no resource
    that carries the metrics: an empty shard, not a failure."""
    text = str(getattr(exc, "message", "") or exc)
    return getattr(exc, "code", None) == 404 and "does not exist" in text


def read_group(
    client: GnocchiClient,
    group: Group,
    base: tuple[str, str],
    stale_after: float,
    now: Callable[[], float],
    *,
    no_match: Callable[[Exception], bool] = is_no_match,
) -> Read:
    """Every shard of ``group``; the first failing shard fails the group (its families are
    then absent for this cycle rather than partly missing)."""
    limit = group.granularity * stale_after
    start_text = iso(now() - limit)

    oldest = now() - limit

    def one(index: int) -> Read:
        """One shard, fetched and reduced to rows while it holds its slot: only the rows
        outlive the parsed answer, so the memory of a cycle follows the slots."""
        read = Read()
        try:
            client.aggregates(
                group.resource_type,
                group.operations,
                shard_search(index, group.shards),
                group.granularity,
                start_text,
                reduce=lambda answer: _collect(read, answer, group, base, oldest),
            )
        except Exception as exc:
            if no_match(exc):
                return Read()
            raise
        return read

    if group.shards == 1:
        return one(0)
    workers = min(group.shards, SHARD_WORKERS)
    with ThreadPoolExecutor(workers, thread_name_prefix="gnocchi-shard") as pool:
        return _merge(list(pool.map(one, range(group.shards))))


def _merge(reads: list[Read]) -> Read:
    out = Read()
    for read in reads:
        for family, rows in read.rows.items():
            out.rows.setdefault(family, []).extend(rows)
        out.resources += read.resources
        for mine, theirs in ((out.fresh, read.fresh), (out.stale, read.stale)):
            for metric, count in theirs.items():
                mine[metric] = mine.get(metric, 0) + count
        for metric, found in read.newest.items():
            known = out.newest.get(metric)
            if known is None or found[0] > known[0]:
                out.newest[metric] = found
    return out


def _collect(read: Read, answer: Any, group: Group, base: tuple[str, str], oldest: float) -> None:
    measures = answer.get("measures") or {}
    for resource in answer.get("references") or []:
        rid = str(resource["id"])
        read.resources += 1
        labels = (
            *base,
            group.resource_type,
            str(resource.get("original_resource_id") or rid),
            str(resource.get("project_id") or ""),
            str(resource.get("user_id") or ""),
            *(_text(resource.get(attribute)) for _, attribute in group.labels),
        )
        carried = resource.get("metrics") or {}
        series_of = measures.get(rid) or {}
        for series in group.series:
            if series.metric not in carried:
                continue
            points = (series_of.get(series.metric) or {}).get(series.aggregation) or []
            last = points[-1] if points else None
            stamp = timestamp(last[0]) if last is not None else None
            if last is None or stamp is None or stamp < oldest or last[2] is None:
                read.stale[series.metric] = read.stale.get(series.metric, 0) + 1
                continue
            read.fresh[series.metric] = read.fresh.get(series.metric, 0) + 1
            read.rows.setdefault(series.family, []).append((labels, float(last[2]) * series.factor))
            known = read.newest.get(series.metric)
            if known is None or stamp > known[0]:
                read.newest[series.metric] = (stamp, str(carried[series.metric]))


def _text(value: object) -> str:
    return "" if value is None else str(value)
