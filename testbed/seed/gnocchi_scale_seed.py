"""Many Ceilometer-like servers in Gnocchi, through its REST API, for scale tests.

Argument: one operation as JSON, ``{"op": ..., "tag": ..., ...}``; the second argument is the
file the result is written to as JSON (it can hold 15,000 ids: kept out of the log).

- ``seed`` (``count``, ``projects``, ``threads``, ``chunk``, ``timeout``): ``count``
  ``instance`` resources, each with an ``instance_disk`` and an ``instance_network_interface``,
  Ceilometer's metrics on each (measures_series.py), then one sample per metric at the
  current minute; waits until metricd has processed every measure.
- ``push`` (``count``, ``projects``, ``first``, ``last``, ``chunk``, ``timeout``): one more
  sample per metric, the minute after ``last`` (or the current one if later).
- ``end`` (``instances``): ``ended_at`` set on those instances, their disks and NICs.
- ``remove``: every resource of the tag, in one ``DELETE /v1/resource/generic`` with a
  search on its user id; the rows of each type go with it (foreign keys ``ON DELETE
  CASCADE``). Not per type: in Gnocchi 4.7 a search delete on a typed resource
  (``/v1/resource/instance``) that filters on a common attribute (``user_id``, ``id``,
  ``project_id``) deletes every resource of that type, whoever owns it.

Everything is named from the tag: instance ``n`` is ``uuid5("scale/<tag>/<n>")``, its disk
``<id>-vda``, its NIC ``instance-<n>-<id>-tap<...>``; projects and the one user id too, so
that ``remove`` needs only the tag. Counters grow from their start at the profile's rate
since the first sample (every tenth server busy, the others idle): no state is kept.
"""

from __future__ import annotations

import datetime
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from measures_series import Series, series_by_type  # type: ignore[import-not-found,unused-ignore]
from os_session import adapter_options, session  # type: ignore[import-not-found,unused-ignore]

FLAVOR = {"vcpus": 1, "ram": 128, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 0, "name": "scale"}
SERIES = series_by_type(FLAVOR)
RETRIES = 3

_local = threading.local()


def ident(tag: str, what: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"scale/{tag}/{what}"))


class Api:
    """Gnocchi's REST API with a keystoneauth session per thread (shared ones serialize)."""

    def __init__(self) -> None:
        self.url = session().get_endpoint(service_type="metric", **adapter_options())

    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = ()) -> Any:
        if not hasattr(_local, "session"):
            _local.session = session()
        for attempt in range(RETRIES):
            response = _local.session.request(
                f"{self.url}{path}", method, json=body, raise_exc=False
            )
            if response.status_code < 300 or response.status_code in ok:
                return response.json() if response.content else None
            if response.status_code < 500 or attempt == RETRIES - 1:
                raise SystemExit(f"{method} {path}: {response.status_code} {response.text[:300]}")
            time.sleep(1 + attempt)
        raise AssertionError("unreachable")


def plan(tag: str, count: int, projects: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """(type, resource body) for each of the ``count`` servers' three resources."""
    user = ident(tag, "user")
    owners = [ident(tag, f"project/{p}") for p in range(projects)]
    for n in range(count):
        server = ident(tag, str(n))
        owner = {"project_id": owners[n % projects], "user_id": user}
        yield (
            "instance",
            {
                "id": server,
                **owner,
                "display_name": f"scale-{tag}-{n}",
                "flavor_id": FLAVOR["name"],
                "flavor_name": FLAVOR["name"],
                "host": f"scale-compute-{n % 10 + 1}",
                "image_ref": ident(tag, "image"),
                "availability_zone": "nova",
            },
        )
        yield (
            "instance_disk",
            {"id": f"{server}-vda", **owner, "name": "vda", "instance_id": server},
        )
        tap = f"tap{ident(tag, f'port/{n}')[:11]}"
        yield (
            "instance_network_interface",
            {
                "id": f"instance-{n + 1:08x}-{server}-{tap}",
                **owner,
                "name": tap,
                "instance_id": server,
            },
        )


def value(serie: Series, busy: bool, seconds: float) -> float:
    """The sample ``seconds`` after the first: counters at their rate, gauges at their level."""
    rate = serie.profile[1] if busy else serie.profile[0]
    return float(round(serie.start + rate * seconds)) if serie.cumulative else round(rate, 2)


def parallel(threads: int, work: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="scale") as pool:
        return list(pool.map(work, items))


def create(api: Api, spec: dict[str, Any]) -> dict[str, Any]:
    resources = list(plan(spec["tag"], spec["count"], spec["projects"]))

    def one(item: tuple[str, dict[str, Any]]) -> bool:
        kind, body = item
        metrics = {name: serie.spec() for name, serie in SERIES[kind].items()}
        found = api.call("POST", f"/v1/resource/{kind}", {**body, "metrics": metrics}, ok=(409,))
        return found is not None and "id" in found and found.get("type") == kind

    created = parallel(spec["threads"], one, resources)
    return {"created": sum(created), "existing": len(created) - sum(created)}


def push(api: Api, spec: dict[str, Any], stamp: datetime.datetime) -> int:
    """One sample per metric at ``stamp``, ``chunk`` resources a batch request."""
    first = datetime.datetime.fromisoformat(spec.get("first") or stamp.isoformat())
    seconds = (stamp - first).total_seconds()
    batch: list[dict[str, Any]] = []
    for index, (kind, body) in enumerate(plan(spec["tag"], spec["count"], spec["projects"])):
        busy = (index // 3) % 10 == 0
        batch.append(
            {
                body["id"]: {
                    name: [{"timestamp": stamp.isoformat(), "value": value(s, busy, seconds)}]
                    for name, s in SERIES[kind].items()
                }
            }
        )
    chunk = spec["chunk"]
    bodies = [
        {k: v for part in batch[i : i + chunk] for k, v in part.items()}
        for i in range(0, len(batch), chunk)
    ]
    parallel(
        spec["threads"],
        lambda b: api.call("POST", "/v1/batch/resources/metrics/measures", b),
        bodies,
    )
    return sum(len(SERIES[kind]) for kind, _ in plan(spec["tag"], spec["count"], spec["projects"]))


def processed(api: Api, timeout: float) -> float:
    """Wait until metricd has no measure left to process; returns the seconds waited."""
    began = time.monotonic()
    while True:
        status = api.call("GET", "/v1/status?details=false")
        if status["storage"]["summary"]["measures"] == 0:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise SystemExit(f"metricd still has {status['storage']['summary']} after {timeout}s")
        time.sleep(1)


def note(text: str) -> None:
    """Progress, to the command's log (stdout is its result)."""
    print(f"{datetime.datetime.now(datetime.UTC):%H:%M:%S} {text}", file=sys.stderr, flush=True)


def minute(at: datetime.datetime) -> datetime.datetime:
    return at.replace(second=0, microsecond=0)


def seed_or_push(api: Api, spec: dict[str, Any]) -> dict[str, Any]:
    timings: dict[str, float] = {}
    result: dict[str, Any] = {}
    began = time.monotonic()
    now = minute(datetime.datetime.now(datetime.UTC))
    if spec["op"] == "seed":
        result.update(create(api, spec))
        timings["create_s"] = time.monotonic() - began
        note(f"{result} resources in {timings['create_s']:.1f}s")
        stamp = now
    else:
        stamp = max(
            now, datetime.datetime.fromisoformat(spec["last"]) + datetime.timedelta(minutes=1)
        )
    mark = time.monotonic()
    result["samples"] = push(api, spec, stamp)
    timings["push_s"] = time.monotonic() - mark
    note(f"{result['samples']} samples at {stamp.isoformat()} in {timings['push_s']:.1f}s")
    if spec.get("wait", True):
        timings["process_s"] = processed(api, spec["timeout"])
    timings["total_s"] = time.monotonic() - began
    resources = list(plan(spec["tag"], spec["count"], spec["projects"]))
    return {
        **result,
        "tag": spec["tag"],
        "count": spec["count"],
        "projects": sorted({body["project_id"] for _, body in resources}),
        "user_id": ident(spec["tag"], "user"),
        "instances": [b["id"] for k, b in resources if k == "instance"],
        "disks": [b["id"] for k, b in resources if k == "instance_disk"],
        "nics": [b["id"] for k, b in resources if k == "instance_network_interface"],
        "first": spec.get("first") or stamp.isoformat(),
        "timestamp": stamp.isoformat(),
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }


def end(api: Api, spec: dict[str, Any]) -> dict[str, Any]:
    at = datetime.datetime.now(datetime.UTC).isoformat()
    targets = [
        *(("instance", i) for i in spec["instances"]),
        *(("instance_disk", d) for d in spec["disks"]),
        *(("instance_network_interface", n) for n in spec["nics"]),
    ]
    parallel(
        8, lambda t: api.call("PATCH", f"/v1/resource/{t[0]}/{t[1]}", {"ended_at": at}), targets
    )
    return {"ended_at": at, "instances": spec["instances"]}


def remove(api: Api, spec: dict[str, Any]) -> dict[str, Any]:
    search = {"=": {"user_id": ident(spec["tag"], "user")}}
    return {"deleted": api.call("DELETE", "/v1/resource/generic", search)["deleted"]}


def main() -> None:
    spec: dict[str, Any] = json.loads(sys.argv[1])
    api = Api()
    operations = {"seed": seed_or_push, "push": seed_or_push, "end": end, "remove": remove}
    result = operations[spec["op"]](api, spec)
    Path(sys.argv[2]).write_text(json.dumps(result))
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, list)}))


if __name__ == "__main__":
    main()
