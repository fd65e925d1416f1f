"""From stats records to families: names, labels, units, and the fixes to the older exporters."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from exporter.collectors.libvirt.domainxml import DomainDescription, parse_domain_xml
from exporter.collectors.libvirt.families import connection_families, domain_families
from exporter.exposition import render
from tests.support.metrics import Samples, parse_samples, sample
from tests.unit.test_domainxml import NOVA_XML


def samples(records: list[tuple[Any, dict[str, Any]]]) -> Samples:
    return parse_samples(render(domain_families(records)).decode())


value = sample


RUNNING = {
    "state.state": 1,
    "state.reason": 1,
    "cpu.time": 2_500_000_000,
    "balloon.current": 1048576,
    "balloon.maximum": 2097152,
    "balloon.available": 1000000,
    "balloon.usable": 250000,
    "balloon.major_fault": 7,
    "balloon.hugetlb_pgalloc": 3,
    "balloon.last-update": 1700000000,
    "vcpu.current": 1,
    "vcpu.maximum": 2,
    "vcpu.0.state": 1,
    "vcpu.0.time": 1_000_000_000,
    "vcpu.0.wait": 5_000_000,
    "vcpu.0.delay": 2_000_000,
    "block.count": 3,
    "block.0.name": "vda",
    "block.0.rd.bytes": 4096,
    "block.0.rd.reqs": 2,
    "block.0.rd.times": 1_500_000_000,
    "block.0.capacity": 1073741824,
    "block.1.name": "vdb",
    "block.1.wr.bytes": 512,
    "block.2.name": "sda",
    "block.2.rd.reqs": 99,
    "net.count": 1,
    "net.0.name": "tap81332876-37",
    "net.0.rx.bytes": 1234,
    "net.0.tx.pkts": 10,
    "net.0.rx.drop": 1,
}


def test_running_domain_units_and_labels() -> None:
    desc = parse_domain_xml(NOVA_XML)
    got = samples([(desc, RUNNING)])
    d = "instance-0000002a"
    assert (
        value(got, "libvirt_domain_info_state", domain=d, state_desc="the domain is running") == 1
    )
    assert value(got, "libvirt_domain_info_cpu_time_seconds_total", domain=d) == 2.5
    assert value(got, "libvirt_domain_info_memory_usage_bytes", domain=d) == 1073741824
    assert value(got, "libvirt_domain_info_maximum_memory_bytes", domain=d) == 2147483648
    assert value(got, "libvirt_domain_info_virtual_cpus", domain=d) == 1
    assert (
        value(
            got,
            "libvirt_domain_openstack_info",
            domain=d,
            instance_name="web-03",
            instance_id=desc.uuid,
            flavor_name="m1.small",
            user_name="alice",
            user_id="9f1c",
            project_name="web-shop",
            project_id="77ab",
        )
        == 1
    )
    assert (
        value(got, "libvirt_domain_block_stats_read_bytes_total", domain=d, target_device="vda")
        == 4096
    )
    assert (
        value(
            got, "libvirt_domain_block_stats_read_time_seconds_total", domain=d, target_device="vda"
        )
        == 1.5
    )
    assert (
        value(got, "libvirt_domain_block_stats_write_bytes_total", domain=d, target_device="vdb")
        == 512
    )
    assert (
        value(
            got,
            "libvirt_domain_interface_stats_receive_bytes_total",
            domain=d,
            target_device="tap81332876-37",
        )
        == 1234
    )
    assert value(got, "libvirt_domain_vcpu_wait_seconds_total", domain=d, vcpu="0") == 0.005
    assert value(got, "libvirt_domain_vcpu_delay_seconds_total", domain=d, vcpu="0") == 0.002
    assert value(got, "libvirt_domain_memory_stats_major_fault_total", domain=d) == 7
    assert value(got, "libvirt_domain_memory_stats_used_percent", domain=d) == 75.0
    assert (
        value(got, "libvirt_domain_memory_stats_last_update_timestamp_seconds", domain=d)
        == 1700000000
    )
    # The cdrom (sda) is skipped even though libvirt reports stats for it.
    assert not [k for k in got if ("target_device", "sda") in k[1]]
    info = [k for k in got if k[0] == "libvirt_domain_block_stats_info"]
    assert {dict(k[1])["target_device"] for k in info} == {"vda", "vdb"}


def test_types_fix_the_older_exporters_mistakes() -> None:
    text = render(domain_families([(parse_domain_xml(NOVA_XML), RUNNING)])).decode()
    types = {f.name: f.type for f in text_string_to_metric_families(text)}
    # hugetlb counts are counters here (a gauge with _total in the older exporter).
    assert types["libvirt_domain_memory_stats_hugetlb_pgalloc"] == "counter"
    assert types["libvirt_domain_info_cpu_time_seconds"] == "counter"
    assert types["libvirt_domain_info_state"] == "gauge"


def test_no_nan_when_guest_memory_stats_are_missing() -> None:
    rec = {k: v for k, v in RUNNING.items() if k not in ("balloon.available", "balloon.usable")}
    got = samples([(parse_domain_xml(NOVA_XML), rec)])
    assert all(not math.isnan(v) for v in got.values())
    assert not [k for k in got if k[0] == "libvirt_domain_memory_stats_used_percent"]


def test_shut_off_domain_has_info_but_no_runtime_stats() -> None:
    desc = parse_domain_xml(NOVA_XML)
    got = samples([(desc, {"state.state": 5, "state.reason": 1})])
    d = "instance-0000002a"
    assert (
        value(got, "libvirt_domain_info_state", domain=d, state_desc="the domain is shut off") == 5
    )
    # Values come from the XML when the driver has no stats for an inactive domain.
    assert value(got, "libvirt_domain_info_maximum_memory_bytes", domain=d) == 2147483648
    assert value(got, "libvirt_domain_info_virtual_cpus", domain=d) == 1
    assert value(got, "libvirt_domain_info_cpu_time_seconds_total", domain=d) == 0
    assert not [k for k in got if "block_stats" in k[0] or "vcpu_" in k[0]]


def test_connection_families() -> None:
    text = render(connection_families(False, None)).decode()
    assert "libvirt_up 0.0" in text
    assert "libvirt_domains" not in text
    assert "libvirt_domains 3.0" in render(connection_families(True, 3)).decode()
    skipped = render(connection_families(True, 3, {"stats": 2})).decode()
    assert 'libvirt_domains_skipped{reason="stats"} 2.0' in skipped
    assert 'libvirt_domains_skipped{reason="domain_xml"} 0.0' in skipped


def test_a_record_that_does_not_convert_costs_only_its_domain() -> None:
    shut_off = parse_domain_xml(NOVA_XML)
    broken = replace(shut_off, name="instance-0000002b", uuid="other-uuid")
    bad = {**RUNNING, "vcpu.0.delay": "n/a"}  # fails late: block, net, memory rows are made
    told: list[tuple[str, str]] = []

    def on_error(desc: DomainDescription, exc: Exception) -> None:
        told.append((desc.name, type(exc).__name__))

    families = domain_families([(shut_off, {"state.state": 5}), (broken, bad)], on_error)
    assert told == [("instance-0000002b", "ValueError")]
    got = parse_samples(render(families).decode())
    assert {dict(labels)["domain"] for _, labels in got} == {"instance-0000002a"}
    # Families only the broken domain had are gone, not left behind empty.
    assert not [f.name for f in families if "block_stats" in f.name or "vcpu_" in f.name]
    assert all(f.rows for f in families)
