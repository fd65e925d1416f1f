"""The gnocchi collector's requests per cycle do not grow with the resources it reads.

Counted where they reach Gnocchi (a reverse proxy in front of its address, the collector's
clouds.yaml pointing the metric service at it), for one steady cycle on the testbed as it is
and again after a thousand more servers (three thousand resources, 24,000 metrics) were
pushed through Gnocchi's batch measures API. Whether their measures are processed yet does
not change what is asked, so the test does not wait for metricd.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.collectors.gnocchi.collector import GnocchiCollector
from exporter.collectors.gnocchi.config import read_config
from exporter.collectors.gnocchi.plugin import session_for
from exporter.exposition import render
from otb_common.section import Section
from testbed import gnocchi_scale
from tests.support.gnocchi import proxied_clouds
from tests.support.metrics import parse_samples
from tests.support.proxy import Proxy, http_proxy
from tests.support.testbed import Testbed

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

SERVERS = 1000


@pytest.fixture
def proxy(testbed: Testbed) -> Iterator[Proxy]:
    bed = testbed.need("gnocchi", "measures")
    with http_proxy(upstream=bed.info("gnocchi")["url"], timeout=200.0) as counting:
        yield counting


def steady_cycle(collector: GnocchiCollector, proxy: Proxy) -> tuple[Counter[str], float]:
    """Requests of one cycle after discovery, by method and path; instances read."""
    mark = len(proxy.seen)
    collection = collector.collect()
    assert collection.error is None, collection.error
    asked = Counter(f"{s.method} {s.path}" for s in proxy.seen[mark:])
    samples = parse_samples(render(collection.families).decode())
    instances = samples.get(
        (
            "gnocchi_exporter_resources",
            frozenset(
                {("cloud", "proxied"), ("region", "RegionOne"), ("resource_type", "instance")}
            ),
        )
    )
    assert instances is not None, collection.error
    return asked, instances


def test_requests_per_cycle_do_not_grow_with_resources(
    testbed: Testbed, proxy: Proxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clouds = proxied_clouds(testbed.clouds_yaml, proxy.url, tmp_path / "clouds.yaml")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    # Deadlines far above what a loaded machine needs: an answer cut short is not asked again
    # within the cycle, so a slow Gnocchi would look like fewer requests, not more.
    patient = {"interval": "300s", "timeout": "240s", "api_timeout": "180s"}
    config = read_config(Section(patient, "collectors.gnocchi"), "proxied", None, True)
    collector = GnocchiCollector(config, session_for(config))
    record = None
    try:
        collector.collect()  # discovery
        before, few = steady_cycle(collector, proxy)
        assert before["POST /v1/aggregates"] >= 3, before  # instance, disk, NIC at least
        assert before["GET /v1/status"] == 1, before
        record = gnocchi_scale.seed(testbed.bed, SERVERS, f"req{uuid.uuid4().hex[:8]}", wait=False)
        after, many = steady_cycle(collector, proxy)
        assert many >= few + SERVERS
        # The newest-point fallback is one GET when no fresh point exists; not at issue here.
        for counts in (before, after):
            for key in [k for k in counts if k.startswith("GET /v1/metric/")]:
                del counts[key]
        assert after == before
    finally:
        collector.close()
        if record is not None:
            gnocchi_scale.remove(testbed.bed, record)
