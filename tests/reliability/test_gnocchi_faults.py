"""The gnocchi collector while Gnocchi fails on the testbed, and after.

The real exporter runs the openstack collector's health cycle and the gnocchi collector, both
on a 3 s cycle. Gnocchi frozen (connections accepted, never answered) or killed fails the
gnocchi collector alone: its measures leave the exposition (nothing stale is served as
current), the health cycle still succeeds, every scrape answers (each is bounded by a client
timeout: liveness, not a timed assertion), and the measures come back without a restart.
metricd stopped shows as a growing backlog.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gnocchiclient import client as gnocchi_client

from testbed import faults
from tests.support.central import Watch, central_exporter, running_again
from tests.support.metrics import Samples
from tests.support.testbed import Testbed

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

INTERVAL = 3.0
CONFIG = (
    "collectors:\n"
    "  openstack:\n"
    "    health: {interval: 3s, timeout: 2500ms}\n"
    "    api_timeout: 2s\n"
    "    inventory: {enabled: false}\n"
    "  gnocchi:\n"
    "    interval: 3s\n"
    "    timeout: 2500ms\n"
    "    api_timeout: 2s\n"
)
SOON = 8 * INTERVAL
BACK = 15 * INTERVAL
GNOCCHI = "gnocchi:testbed"
HEALTH = "openstack:testbed:health"
MEASURE = "gnocchi_cpu_seconds_total"


def success(samples: Samples, collector: str) -> float | None:
    return samples.get(
        ("openstack_exporter_collector_success", frozenset({("collector", collector)}))
    )


def measured(samples: Samples) -> bool:
    return any(name == MEASURE for name, _ in samples)


@pytest.fixture
def watch(testbed: Testbed, tmp_path: Path) -> Iterator[Watch]:
    testbed.need("gnocchi", "measures", "glance", "nova")
    with central_exporter(
        tmp_path, testbed.clouds_yaml, CONFIG, extra=["--collector.gnocchi"]
    ) as watching:
        watching.until("gnocchi measures", measured, timeout=BACK)
        yield watching


def gnocchi_alone_fails(watch: Watch) -> None:
    watch.until("gnocchi collector failing", lambda s: success(s, GNOCCHI) == 0, SOON)
    for _ in range(3):
        samples = watch.scrape()
        assert success(samples, GNOCCHI) == 0
        assert success(samples, HEALTH) == 1, watch.failures()
        assert not measured(samples), "measures served while Gnocchi does not answer"


def gnocchi_back(watch: Watch) -> None:
    watch.until(
        "gnocchi measures again",
        lambda s: success(s, GNOCCHI) == 1 and measured(s),
        BACK,
    )


def test_frozen_then_killed_gnocchi_fails_only_the_gnocchi_collector(
    testbed: Testbed, watch: Watch
) -> None:
    bed = testbed.bed
    try:
        faults.freeze(bed, "gnocchi", "gnocchi-api")
        gnocchi_alone_fails(watch)
        faults.thaw(bed, "gnocchi", "gnocchi-api")
        gnocchi_back(watch)

        faults.kill(bed, "gnocchi", "gnocchi-api")
        gnocchi_alone_fails(watch)
        faults.restart(bed, "gnocchi", "gnocchi-api")
        gnocchi_back(watch)
    finally:
        running_again(bed, "gnocchi")


def _backlog(watch: Watch, samples: Samples) -> float:
    value = watch.value(samples, "openstack_gnocchi_status_measures_to_process")
    return -1.0 if value is None else value


def test_stopped_metricd_shows_as_backlog(testbed: Testbed, watch: Watch) -> None:
    bed = testbed.bed
    conn = testbed.connect("testbed")
    gnocchi: Any = gnocchi_client.Client(
        "1", session=conn.session, adapter_options={"interface": "public"}
    )
    resource = gnocchi.resource.create(
        "generic",
        {"id": str(uuid.uuid4()), "metrics": {"backlog.probe": {"archive_policy_name": "low"}}},
    )
    try:
        faults.stop(bed, "gnocchi", "gnocchi-metricd")
        now = datetime.datetime.now(datetime.UTC)
        points = [
            {"timestamp": (now - datetime.timedelta(seconds=i)).isoformat(), "value": float(i)}
            for i in range(50)
        ]
        gnocchi.metric.batch_resources_metrics_measures({resource["id"]: {"backlog.probe": points}})
        # The file incoming driver counts pushed batches, not points: one here.
        samples = watch.until("measures waiting", lambda s: _backlog(watch, s) >= 1, SOON)
        waiting = watch.value(samples, "openstack_gnocchi_status_metric_having_measures_to_process")
        assert waiting is not None
        assert waiting >= 1
        assert success(samples, GNOCCHI) == 1
        faults.restart(bed, "gnocchi", "gnocchi-metricd")
        watch.until("backlog processed", lambda s: _backlog(watch, s) == 0, BACK * 2)
    finally:
        running_again(bed, "gnocchi")
        gnocchi.resource.delete(resource["id"])
        conn.close()
