"""A fake Gnocchi for the gnocchi collector's unit tests: it replays answers recorded from a
real one (``tests/fixtures/gnocchi``, written by ``tests.support.record_gnocchi``).

The collector's own ``GnocchiClient`` runs unchanged on top of it, so its parsing (archive
policies, timespans, the aggregates JSON) meets real payloads. The fake only routes requests
to the recorded answers: it narrows an aggregates answer to the resources the search matches
and the points at or after ``start``, as Gnocchi does, and raises Gnocchi's recorded
refusals through gnocchiclient's own ``from_response``. What was never recorded is an
``AssertionError``, never an invented answer.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from exporter.collectors.gnocchi.client import GnocchiClient
from exporter.collectors.openstack.catalog import Endpoint
from exporter.collectors.openstack.config import CloudConfig
from exporter.collectors.openstack.session import CloudSession

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gnocchi"
_REF = re.compile(r"\(([^\s()]+) ([^\s()]+)\)")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def refusal(name: str, method: str = "POST") -> Exception:
    """A recorded refusal (``error_*.json``) as gnocchiclient raises it for that answer."""
    raw = load(name)
    response = requests.Response()
    response.status_code = raw["status"]
    response.headers["Content-Type"] = raw["content_type"]
    response._content = raw["body"].encode()
    response.url = "http://gnocchi.invalid/"
    from gnocchiclient import exceptions  # noqa: PLC0415 - as the collector imports it

    exc: Exception = exceptions.from_response(response, method)
    return exc


def _stamp(text: str) -> float:
    return datetime.datetime.fromisoformat(text).timestamp()


class FakeClock:
    """Wall-clock stand-in: starts at the recording's time, moves only when a test says."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeGnocchiBackend:
    """Stands in for gnocchiclient's ``Client``: ``api`` (the HTTP adapter), and the
    ``resource_type``, ``resource`` and ``status`` managers the client uses."""

    def __init__(self) -> None:
        self.meta: dict[str, Any] = load("meta.json")
        self.types: list[dict[str, Any]] = load("resource_types.json")
        self.resources: dict[str, list[dict[str, Any]]] = load("resources.json")
        self.metrics: dict[str, list[dict[str, Any]]] = load("metrics.json")
        self.status_answer: dict[str, Any] = load("status.json")
        self.measures_answer: dict[str, Any] = load("measures.json")
        self.references: dict[str, dict[str, dict[str, Any]]] = {}
        self.points: dict[tuple[str, str, str, str, float], list[list[Any]]] = {}
        for answer in load("aggregates.json"):
            kind, granularity = answer["resource_type"], float(answer["granularity"])
            for ref in answer["response"]["references"]:
                self.references.setdefault(kind, {})[ref["id"]] = ref
            for rid, by_metric in answer["response"]["measures"].items():
                for metric, by_agg in by_metric.items():
                    for agg, points in by_agg.items():
                        self.points[(kind, rid, metric, agg, granularity)] = points
        self.searches: list[dict[str, Any]] = []
        """Every ``resource.search`` query, as sent."""
        self.aggregate_requests: list[dict[str, Any]] = []
        """Every aggregates request: resource_type, operations, search, granularity, start."""
        self.measure_requests: list[dict[str, Any]] = []
        self.refuse: Callable[[dict[str, Any]], str | None] = lambda _request: None
        """Given an aggregates request, the ``error_*.json`` to answer with, or None."""
        self.status_refusal: str | None = None
        self.status_requests: list[bool] = []
        self.api = _Api(self)
        self.resource_type = _Listing(self.types)
        self.resource = _Search(self)
        self.status = _Status(self)

    # -- HTTP adapter --------------------------------------------------------------------

    def get_endpoint(self) -> str:
        return "http://gnocchi.invalid"

    def http_get(self, path: str) -> Any:
        parts = urlsplit(path)
        segments = parts.path.split("/")
        if segments[:2] == ["v1", "resource"] and segments[-1] == "metric":
            key = f"{segments[2]}/{segments[3]}"
            assert key in self.metrics, f"no metric listing recorded for {key}"
            return copy.deepcopy(self.metrics[key])
        if segments[:2] == ["v1", "metric"] and segments[-1] == "measures":
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            self.measure_requests.append({"metric_id": segments[2], **query})
            recorded = self.measures_answer
            assert segments[2] == recorded["metric_id"], f"no measures recorded for {path}"
            assert query["aggregation"] == recorded["aggregation"]
            assert float(query["granularity"]) == recorded["granularity"]
            start = _stamp(query["start"])
            return [p for p in recorded["response"] if _stamp(p[0]) >= start]
        raise AssertionError(f"GET {path} was not recorded")

    def http_post(self, path: str, json: dict[str, Any]) -> Any:
        parts = urlsplit(path)
        assert parts.path == "v1/aggregates", path
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["details"] == "true"
        request = {
            "resource_type": json["resource_type"],
            "operations": json["operations"],
            "search": json["search"],
            "granularity": float(query["granularity"]),
            "start": query["start"],
        }
        self.aggregate_requests.append(request)
        refused = self.refuse(request)
        if refused is not None:
            raise refusal(refused)
        return self._aggregates(request)

    def _aggregates(self, request: dict[str, Any]) -> dict[str, Any]:
        kind, granularity = request["resource_type"], request["granularity"]
        refs = _REF.findall(request["operations"].removeprefix("(metric "))
        matched = [
            r for r in self.references.get(kind, {}).values() if matches(r, request["search"])
        ]
        for metric, _ in refs:
            if not any(metric in (r.get("metrics") or {}) for r in matched):
                raise refusal("error_no_match.json")  # what Gnocchi answered to such a search
        start = _stamp(request["start"])
        measures: dict[str, Any] = {}
        carrying = []
        for resource in matched:
            carried = resource.get("metrics") or {}
            if not any(metric in carried for metric, _ in refs):
                continue
            carrying.append(copy.deepcopy(resource))
            for metric, agg in refs:
                if metric not in carried:
                    continue
                key = (kind, resource["id"], metric, agg, granularity)
                assert key in self.points, f"no aggregates recorded for {key}"
                points = [p for p in self.points[key] if _stamp(p[0]) >= start]
                measures.setdefault(resource["id"], {}).setdefault(metric, {})[agg] = points
        return {"measures": measures, "references": carrying}


class _Api:
    """gnocchiclient's HTTP adapter: ``get``, ``post``, ``get_endpoint``."""

    def __init__(self, backend: FakeGnocchiBackend) -> None:
        self._backend = backend

    def get_endpoint(self) -> str:
        return self._backend.get_endpoint()

    def get(self, path: str) -> _Answer:
        return _Answer(self._backend.http_get(path))

    def post(self, path: str, json: dict[str, Any]) -> _Answer:
        return _Answer(self._backend.http_post(path, json))


class _Listing:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self._items = items

    def list(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._items)


class _Search:
    def __init__(self, backend: FakeGnocchiBackend) -> None:
        self._backend = backend

    def search(
        self, resource_type: str, query: dict[str, Any], limit: int, sorts: list[str]
    ) -> list[dict[str, Any]]:
        backend = self._backend
        backend.searches.append({"resource_type": resource_type, "query": query, "sorts": sorts})
        found = [r for r in backend.resources.get(resource_type, []) if matches(r, query)]
        return copy.deepcopy(found[:limit])


class _Status:
    def __init__(self, backend: FakeGnocchiBackend) -> None:
        self._backend = backend

    def get(self, details: bool = True) -> dict[str, Any]:
        backend = self._backend
        backend.status_requests.append(details)
        if backend.status_refusal is not None:
            raise refusal(backend.status_refusal, "GET")
        return copy.deepcopy(backend.status_answer)


class _Answer:
    """What the adapter hands back: only ``.json()`` is read."""

    def __init__(self, data: Any) -> None:
        self._data = data

    def json(self) -> Any:
        return self._data


def matches(resource: dict[str, Any], query: dict[str, Any]) -> bool:
    """Gnocchi's search filter for the operators the collector sends."""
    ((op, arg),) = query.items()
    if op == "and":
        return all(matches(resource, q) for q in arg)
    ((attribute, value),) = arg.items()
    have = resource.get(attribute)
    if op == "=":
        return bool(have == value)
    if op == ">=":
        return have is not None and str(have) >= str(value)
    if op == "<":
        return have is not None and str(have) < str(value)
    raise AssertionError(f"the fake does not know the search operator {op!r}")


class FakeGnocchiClient(GnocchiClient):
    """The collector's ``GnocchiClient`` over ``FakeGnocchiBackend`` instead of gnocchiclient."""

    def __init__(self, backend: FakeGnocchiBackend | None = None) -> None:
        super().__init__(FakeSession())
        self.backend = backend or FakeGnocchiBackend()

    def _gnocchi(self) -> Any:
        return self.backend


class FakeSession(CloudSession):
    """A session that never connects: region and interface fixed, requests not counted."""

    def __init__(self) -> None:
        super().__init__(CloudConfig(cloud="testbed"), connector=self._no_connection)
        self.routes: list[Endpoint] = []
        self.closed = False

    @staticmethod
    def _no_connection(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the fake session never connects")

    @property
    def region(self) -> str:
        return "RegionOne"

    @property
    def interface(self) -> str:
        return "public"

    def route(self, endpoints: Any) -> None:
        self.routes.extend(endpoints)

    def close(self) -> None:
        self.closed = True
