"""Record what a real Gnocchi answers, for unit tests of the gnocchi collector without a cloud.

    OS_CLIENT_CONFIG_FILE=.testbed/clouds.yaml python -m tests.support.record_gnocchi OUTDIR

Reads only (GETs, and aggregates POSTs, which read): it never creates, changes or faults
anything, so it is safe against a testbed that other tests share. It goes through the
collector's own ``GnocchiClient`` on a ``CloudSession`` (``plugin.session_for``) and writes
the JSON that ``tests.support.gnocchi_fake.FakeGnocchiClient`` replays:

* ``meta.json``: when it was recorded (the fake's clock starts there) and what was asked;
* ``resource_types.json``, ``resources.json`` (live resources by type), ``metrics.json``
  (each sampled resource's metric listing), as Gnocchi sent them;
* ``aggregates.json``: one ``details=true`` answer per group of the plan discovery makes
  and one of ``instance/cpu`` as ``rate:mean``
  (an hour of points, so tests can move the clock past some of them), and
  ``aggregates_empty_window.json``: the first group's answer for a window with no point yet;
* ``measures.json``: a day of the reference meter;
* ``status.json`` (admin), and the refusals Gnocchi really sends, as raw HTTP answers
  (status, content type, body): ``error_*.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from exporter.collectors.gnocchi.client import GnocchiClient
from exporter.collectors.gnocchi.config import GnocchiConfig, default_types
from exporter.collectors.gnocchi.plan import SAMPLE_RESOURCES, discover
from exporter.collectors.gnocchi.plugin import session_for
from exporter.collectors.gnocchi.reader import LIVE

WINDOW = 3600.0
NOBODY = "00000000-0000-0000-0000-000000000000"


def _iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC).replace(microsecond=0)
    return moment.isoformat()


def _raw(send: Callable[[], Any]) -> dict[str, Any]:
    """An HTTP answer as the wire carried it, for a refusal the fake raises again."""
    response = send()
    return {
        "status": response.status_code,
        "content_type": response.headers.get("Content-Type", ""),
        "body": response.text,
    }


def record(out: Path, cloud: str, demo_cloud: str) -> None:
    config = GnocchiConfig(cloud=cloud, types=tuple(default_types().values()))
    session = session_for(config)
    client = GnocchiClient(session)
    api = client._gnocchi().api
    now = time.time()
    files: dict[str, Any] = {}
    files["resource_types.json"] = list(client._gnocchi().resource_type.list())
    present = {t["name"] for t in files["resource_types.json"]}
    resources: dict[str, list[dict[str, Any]]] = {}
    metrics: dict[str, list[dict[str, Any]]] = {}
    for name in default_types():
        if name not in present:
            continue
        resources[name] = client.live_resources(name, SAMPLE_RESOURCES)
        for resource in resources[name]:
            path = f"v1/resource/{name}/{resource['id']}/metric"
            metrics[f"{name}/{resource['id']}"] = api.get(path).json()
    files["resources.json"] = resources
    files["metrics.json"] = metrics
    plan = discover(client, config)
    start = _iso(now - WINDOW)
    files["aggregates.json"] = [
        {
            "resource_type": group.resource_type,
            "operations": group.operations,
            "granularity": group.granularity,
            "response": client.aggregates(
                group.resource_type, group.operations, LIVE, group.granularity, start, reduce=kept
            ),
        }
        for group in plan.groups
    ]
    rate = "(metric (cpu rate:mean))"  # a rate aggregate, for the per-second families
    files["aggregates.json"].append(
        {
            "resource_type": "instance",
            "operations": rate,
            "granularity": 60.0,
            "response": client.aggregates("instance", rate, LIVE, 60.0, start, reduce=kept),
        }
    )
    first = plan.groups[0]
    files["aggregates_empty_window.json"] = {
        "resource_type": first.resource_type,
        "operations": first.operations,
        "granularity": first.granularity,
        "response": client.aggregates(
            first.resource_type,
            first.operations,
            LIVE,
            first.granularity,
            _iso(now + WINDOW),
            reduce=kept,
        ),
    }
    ref = plan.reference
    if ref is None:
        raise SystemExit("no reference meter: is there a live instance with cpu?")
    files["measures.json"] = {
        "metric_id": ref.metric_id,
        "aggregation": ref.aggregation,
        "granularity": ref.granularity,
        "response": client.measures(
            ref.metric_id, ref.aggregation, ref.granularity, _iso(now - 86400)
        ),
    }
    files["status.json"] = client.status()

    def aggregates(operations: str, search: dict[str, Any], granularity: str) -> Any:
        query = urlencode({"granularity": granularity, "start": start, "details": "true"})
        body = {"resource_type": "instance", "search": search, "operations": operations}
        return api.post(f"v1/aggregates?{query}", json=body, raise_exc=False)

    nobody = {"and": [LIVE, {"=": {"id": NOBODY}}]}
    files["error_no_match.json"] = _raw(lambda: aggregates("(metric (cpu mean))", nobody, "60"))
    files["error_granularity.json"] = _raw(lambda: aggregates("(metric (cpu mean))", LIVE, "7"))
    files["error_aggregation.json"] = _raw(lambda: aggregates("(metric (cpu max))", LIVE, "60"))
    demo = GnocchiClient(session_for(GnocchiConfig(cloud=demo_cloud)))
    files["error_status_forbidden.json"] = _raw(
        lambda: demo._gnocchi().api.get("v1/status?details=false", raise_exc=False)
    )
    files["meta.json"] = {
        "recorded_at": now,
        "window": WINDOW,
        "cloud": cloud,
        "reference": [ref.resource_type, ref.metric],
        "groups": [g.key for g in plan.groups],
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    session.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--cloud", default="testbed")
    parser.add_argument("--demo-cloud", default="testbed-demo", help="a cloud without admin")
    args = parser.parse_args(argv)
    record(args.outdir, args.cloud, args.demo_cloud)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def kept(answer: Any) -> Any:
    """The answer as Gnocchi sent it: recorded whole."""
    return answer
