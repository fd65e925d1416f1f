"""Gnocchi through gnocchiclient on the cloud's openstacksdk session.

Listings go through gnocchiclient's managers. The aggregates and measures reads take its
HTTP adapter directly and parse the JSON themselves: the managers turn every timestamp of a
response into a datetime (hundreds of thousands at scale) where only each series' last one
is wanted.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from exporter.collectors.openstack.session import CloudSession

T = TypeVar("T")

_TIMESPAN = re.compile(r"(?:(\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)")


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    granularities: tuple[float, ...]
    methods: frozenset[str]


@dataclass(frozen=True, slots=True)
class StoredMetric:
    """A metric as Gnocchi holds it on one resource."""

    id: str
    name: str
    unit: str | None
    policy: Policy


def seconds(timespan: str | float) -> float:
    """Gnocchi's ``0:01:00`` / ``1 day, 0:00:00`` (or a number) in seconds."""
    if isinstance(timespan, (int, float)):
        return float(timespan)
    match = _TIMESPAN.fullmatch(timespan.strip())
    if match is None:
        return float(timespan)
    days, hours, minutes, secs = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(secs)


def policy(data: dict[str, Any]) -> Policy:
    return Policy(
        str(data["name"]),
        tuple(sorted(seconds(d["granularity"]) for d in data.get("definition", []))),
        frozenset(str(m) for m in data.get("aggregation_methods", [])),
    )


IN_FLIGHT = 4
"""Aggregates answers alive at a time per collector, from the request until the answer is
reduced to rows: each is parsed whole, so this bounds the memory of a cycle (shards bound each
answer) and what one cycle asks of Gnocchi at once."""


class GnocchiClient:
    """The few calls the collector makes, each one HTTP request."""

    def __init__(self, session: CloudSession, in_flight: int = IN_FLIGHT) -> None:
        self.session = session
        self._client: Any = None
        self._in_flight = threading.BoundedSemaphore(in_flight)

    def _gnocchi(self) -> Any:
        if self._client is None:
            from gnocchiclient import client  # noqa: PLC0415 - gnocchiclient loads only where this collector runs

            conn = self.session.connection()
            # One retry of a failed connection: an API server may close an idle kept-alive
            # connection just as a cycle reuses it. JSON errors carry Gnocchi's reason.
            options: dict[str, Any] = {
                "interface": self.session.interface,
                "connect_retries": 1,
                "additional_headers": {"Accept": "application/json"},
            }
            if self.session.region:
                options["region_name"] = self.session.region
            # clouds.yaml's metric_endpoint_override, as openstacksdk honours it for its own
            # proxies: a Gnocchi reached at another address than the catalog says.
            override = conn.config.get_endpoint("metric")
            if override:
                options["endpoint_override"] = override
            self._client = client.Client("1", session=conn.session, adapter_options=options)
        return self._client

    def endpoint(self) -> str:
        return str(self._gnocchi().api.get_endpoint())

    def resource_types(self) -> set[str]:
        return {str(t["name"]) for t in self._gnocchi().resource_type.list()}

    def live_resources(self, resource_type: str, limit: int) -> list[dict[str, Any]]:
        """The newest live resources of a type, with their metric ids by name."""
        found = self._gnocchi().resource.search(
            resource_type=resource_type,
            query={"=": {"ended_at": None}},
            limit=limit,
            sorts=["started_at:desc"],
        )
        return list(found)

    def metrics(self, resource_type: str, resource_id: str) -> list[StoredMetric]:
        """One resource's metrics with their archive policies and units."""
        path = f"v1/resource/{quote(resource_type)}/{quote(resource_id)}/metric"
        out = []
        for item in self._gnocchi().api.get(path).json():
            ap = item.get("archive_policy")
            if not isinstance(ap, dict):
                continue
            out.append(
                StoredMetric(str(item["id"]), str(item["name"]), item.get("unit"), policy(ap))
            )
        return out

    def aggregates(
        self,
        resource_type: str,
        operations: str,
        search: dict[str, Any],
        granularity: float,
        start: str,
        *,
        reduce: Callable[[Any], T],
    ) -> T:
        """``POST /v1/aggregates`` with the resources' details, its parsed JSON handed to
        ``reduce`` before the slot is given up: the parsed answer is many times its JSON, and
        what the slots bound is how many such answers exist at once."""
        query = urlencode({"granularity": f"{granularity:g}", "start": start, "details": "true"})
        body = {"resource_type": resource_type, "search": search, "operations": operations}
        with self._in_flight:
            return reduce(self._gnocchi().api.post(f"v1/aggregates?{query}", json=body).json())

    def measures(self, metric_id: str, aggregation: str, granularity: float, start: str) -> Any:
        query = urlencode(
            {"aggregation": aggregation, "granularity": f"{granularity:g}", "start": start}
        )
        return self._gnocchi().api.get(f"v1/metric/{quote(metric_id)}/measures?{query}").json()

    def status(self) -> dict[str, Any]:
        return dict(self._gnocchi().status.get(details=False))
