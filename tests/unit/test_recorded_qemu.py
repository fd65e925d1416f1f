"""Stats recorded from a real QEMU domain (tests/unit/fixtures, made by
``python -m tests.support.record_qemu_stats``): bulk parsing and the per-domain path agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from exporter.collectors.libvirt.domainxml import parse_domain_xml
from exporter.collectors.libvirt.families import domain_families
from exporter.collectors.libvirt.records import per_domain_record
from exporter.exposition import render
from tests.support.metrics import Samples, parse_samples

FIXTURES = Path(__file__).parent / "fixtures"
BULK = json.loads((FIXTURES / "qemu_domstats.json").read_text())
PER_DOMAIN = json.loads((FIXTURES / "qemu_perdomain.json").read_text())
XML = (FIXTURES / "qemu_domain.xml").read_text()


def _samples(rec: dict[str, Any]) -> Samples:
    return parse_samples(render(domain_families([(parse_domain_xml(XML), rec)])).decode())


def test_recorded_bulk_record_to_metrics() -> None:
    stats = BULK["stats"]
    name = BULK["name"]
    got = _samples(stats)
    d = frozenset({("domain", name)})
    vda = d | {("target_device", "vda")}
    tap = d | {("target_device", stats["net.0.name"])}
    assert got[("libvirt_domain_info_cpu_time_seconds_total", d)] == pytest.approx(
        stats["cpu.time"] / 1e9, rel=1e-12
    )
    assert got[("libvirt_domain_info_memory_usage_bytes", d)] == stats["balloon.current"] * 1024
    assert got[("libvirt_domain_memory_stats_rss_bytes", d)] == stats["balloon.rss"] * 1024
    assert got[("libvirt_domain_block_stats_read_requests_total", vda)] == stats["block.0.rd.reqs"]
    assert got[("libvirt_domain_block_stats_read_time_seconds_total", vda)] == pytest.approx(
        stats["block.0.rd.times"] / 1e9, rel=1e-12
    )
    assert got[("libvirt_domain_block_stats_physical_bytes", vda)] == stats["block.0.physical"]
    assert (
        got[("libvirt_domain_interface_stats_transmit_bytes_total", tap)] == stats["net.0.tx.bytes"]
    )
    vcpu0 = d | {("vcpu", "0")}
    assert got[("libvirt_domain_vcpu_delay_seconds_total", vcpu0)] == pytest.approx(
        stats["vcpu.0.delay"] / 1e9, rel=1e-12
    )
    # No guest agent in the recorded domain: no used_percent, and last-update 0 is left out.
    names = {k[0] for k in got}
    assert "libvirt_domain_memory_stats_used_percent" not in names
    assert "libvirt_domain_memory_stats_last_update_timestamp_seconds" not in names


class RecordedDomain:
    """Fake virDomain answering with the payloads recorded from the real QEMU domain."""

    def __init__(self, calls: dict[str, Any]) -> None:
        self._calls = calls

    def memoryStats(self) -> dict[str, int]:  # noqa: N802 - libvirt's name
        return dict(self._calls["memoryStats"])

    def vcpus(self) -> Any:
        return self._calls["vcpus"]

    def blockStats(self, _dev: str) -> list[int]:  # noqa: N802 - libvirt's name
        return list(self._calls["blockStats"])

    def blockInfo(self, _dev: str) -> list[int]:  # noqa: N802 - libvirt's name
        return list(self._calls["blockInfo"])

    def interfaceStats(self, _dev: str) -> list[int]:  # noqa: N802 - libvirt's name
        return list(self._calls["interfaceStats"])


def test_per_domain_path_agrees_with_bulk_on_the_same_domain() -> None:
    calls = PER_DOMAIN["calls"]
    bulk = PER_DOMAIN["bulk_stats_after"]
    rec = per_domain_record(RecordedDomain(calls), parse_domain_xml(XML), calls["info"])
    stable = [
        "state.state",
        "balloon.current",
        "balloon.maximum",
        "balloon.rss",
        "vcpu.current",
        "vcpu.maximum",
        "vcpu.0.state",
        "block.count",
        "block.0.name",
        "block.0.rd.reqs",
        "block.0.rd.bytes",
        "block.0.wr.reqs",
        "block.0.wr.bytes",
        "block.0.capacity",
        "net.count",
        "net.0.name",
        "net.0.rx.bytes",
        "net.0.rx.pkts",
        "net.0.tx.bytes",
        "net.0.tx.pkts",
        "net.0.rx.drop",
        "net.0.tx.errs",
    ]
    assert {k: rec[k] for k in stable} == {k: bulk[k] for k in stable}
    # Times move between the two reads of a running domain; they stay within a second.
    for key in ("cpu.time", "vcpu.0.time"):
        assert abs(rec[key] - bulk[key]) < 1e9, key
