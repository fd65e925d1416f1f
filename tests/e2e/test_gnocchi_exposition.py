"""The gnocchi collector end to end on the testbed: the acceptance command's exposition (golden
shapes, promtool clean with no exception), and its series joining the libvirt collector's in a
real Prometheus with a plain ``on(instance_id)``."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from demo.stack import node_xml
from tests.e2e.golden import GNOCCHI_GOLDEN, differences, scrape_gnocchi, shapes
from tests.support.exporter import run_exporter
from tests.support.metrics import parse_samples
from tests.support.prometheus import private_prometheus, scraping
from tests.support.promtool import promtool_complaints
from tests.support.testbed import Testbed

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

# What the acceptance names: CPU time, memory, disk and network counters, Gnocchi's backlog.
WANTED = (
    "gnocchi_cpu_seconds_total",
    "gnocchi_memory_usage_bytes",
    "gnocchi_disk_device_read_bytes_total",
    "gnocchi_network_incoming_bytes_total",
    "openstack_gnocchi_status_measures_to_process",
)


@pytest.fixture(scope="module")
def bed(testbed: Testbed) -> Testbed:
    return testbed.need("gnocchi", "measures")


def test_gnocchi_exposition_matches_golden_and_passes_promtool(bed: Testbed) -> None:
    raw = scrape_gnocchi(bed.clouds_yaml)
    diff = differences(GNOCCHI_GOLDEN, shapes(raw))
    assert not diff, "exposition changed (make golden to accept):\n" + diff[:5000]
    assert promtool_complaints(raw) == []
    names = {name for name, _ in parse_samples(raw)}
    assert set(WANTED) <= names, set(WANTED) - names
    server_id = bed.info("measures")["server_id"]
    for name, labels in parse_samples(raw):
        if name.startswith("gnocchi_") and not name.startswith(
            ("gnocchi_exporter", "gnocchi_newest")
        ):
            assert ("instance_id", server_id) in labels, (name, dict(labels))


def test_gnocchi_series_join_libvirt_domains_on_instance_id(bed: Testbed) -> None:
    """A hypervisor holding the testbed's servers as Nova defines them (the libvirt domain's
    uuid is the server id) and demo domains: one Prometheus query joins Gnocchi's CPU time to
    the domain's Nova name."""
    server_id = bed.info("measures")["server_id"]
    base = Path(tempfile.mkdtemp(prefix="gnocchi-join-"))
    node = base / "node.xml"
    node.write_text(node_xml(bed.connect()))
    args = [
        "--libvirt.uri",
        f"test://{node}",
        "--collector.gnocchi",
        "--os-cloud",
        "testbed",
    ]
    env = {"OS_CLIENT_CONFIG_FILE": str(bed.clouds_yaml)}
    with (
        run_exporter(args, env=env) as exporter,
        private_prometheus(
            base / "prometheus", scraping(exporter, job="join", interval="1s", rule_files=[])
        ) as prometheus,
    ):
        expr = (
            "gnocchi_cpu_seconds_total * on(instance_id) group_left(instance_name) "
            "libvirt_domain_openstack_info"
        )
        deadline = time.monotonic() + 60
        result: list[dict[str, object]] = []
        while time.monotonic() < deadline and not result:
            result = prometheus.query(expr)
            time.sleep(1)
        assert len(result) == 1, result
        metric = result[0]["metric"]
        assert isinstance(metric, dict)
        assert metric["instance_id"] == server_id
        assert metric["instance_name"] == bed.info("nova")["server_name"]
