"""The collector against a real libvirtd + QEMU: values match ``virsh domstats``."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.collectors.libvirt.collector import LibvirtCollector
from exporter.collectors.libvirt.connection import LibvirtConnection
from exporter.snapshot import render
from tests.support.libvirtd import PrivateLibvirtd
from tests.support.servers import require

pytestmark = pytest.mark.real_libvirt

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def _get(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def virsh_domstats(uri: str) -> dict[str, dict[str, str]]:
    """``virsh domstats`` for the same groups the collector asks for, parsed per domain."""
    virsh = shutil.which("virsh")
    require(virsh is not None, "virsh (Debian package libvirt-clients) is not installed")
    assert virsh is not None
    out = subprocess.run(
        [
            virsh,
            "-c",
            uri,
            "domstats",
            "--state",
            "--cpu-total",
            "--balloon",
            "--vcpu",
            "--interface",
            "--block",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    stats: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for raw in out.splitlines():
        line = raw.strip()
        if line.startswith("Domain:"):
            current = stats.setdefault(line.split("'")[1], {})
        elif "=" in line:
            key, _, value = line.partition("=")
            current[key] = value
    return stats


@pytest.fixture
def paused(libvirtd: PrivateLibvirtd) -> Iterator[PrivateLibvirtd]:
    """Pause every domain so that counters stand still while both sides read them."""
    conn = libvirtd.connect()
    doms = [conn.lookupByName(d.name) for d in libvirtd.domains]
    for dom in doms:
        dom.suspend()
    try:
        yield libvirtd
    finally:
        for dom in doms:
            if dom.info()[0] == libvirt.VIR_DOMAIN_PAUSED:
                dom.resume()
        conn.close()


def test_values_match_virsh_domstats(paused: PrivateLibvirtd) -> None:
    collector = LibvirtCollector(paused.ro_uri)
    result = collector.collect()
    assert result.success, result.error
    assert collector.mode == "bulk"
    got = _samples(render(result.families).decode())
    virsh = virsh_domstats(paused.ro_uri)
    assert _get(got, "libvirt_up") == 1
    assert _get(got, "libvirt_domains") == len(virsh) == len(paused.domains)

    for tiny in paused.domains:
        v = virsh[tiny.name]
        d = tiny.name
        assert (
            _get(
                got,
                "libvirt_domain_info_state",
                domain=d,
                state_desc="the domain is paused by user",
            )
            == int(v["state.state"])
            == 3
        )
        assert (
            _get(got, "libvirt_domain_info_cpu_time_seconds_total", domain=d)
            == int(v["cpu.time"]) / 1e9
        )
        assert (
            _get(got, "libvirt_domain_info_memory_usage_bytes", domain=d)
            == int(v["balloon.current"]) * 1024
        )
        assert (
            _get(got, "libvirt_domain_info_maximum_memory_bytes", domain=d)
            == int(v["balloon.maximum"]) * 1024
        )
        assert _get(got, "libvirt_domain_info_virtual_cpus", domain=d) == int(v["vcpu.current"])
        assert _get(got, "libvirt_domain_vcpu_maximum", domain=d) == int(v["vcpu.maximum"])
        assert (
            _get(got, "libvirt_domain_vcpu_time_seconds_total", domain=d, vcpu="0")
            == int(v["vcpu.0.time"]) / 1e9
        )
        assert _get(got, "libvirt_domain_vcpu_state", domain=d, vcpu="0") == int(v["vcpu.0.state"])

        assert v["block.0.name"] == "vda"
        blk = {"domain": d, "target_device": "vda"}
        for key, metric, scale in [
            ("rd.reqs", "libvirt_domain_block_stats_read_requests_total", 1.0),
            ("rd.bytes", "libvirt_domain_block_stats_read_bytes_total", 1.0),
            ("rd.times", "libvirt_domain_block_stats_read_time_seconds_total", 1e-9),
            ("wr.reqs", "libvirt_domain_block_stats_write_requests_total", 1.0),
            ("wr.bytes", "libvirt_domain_block_stats_write_bytes_total", 1.0),
            ("fl.reqs", "libvirt_domain_block_stats_flush_requests_total", 1.0),
            ("capacity", "libvirt_domain_block_stats_capacity_bytes", 1.0),
            ("allocation", "libvirt_domain_block_stats_allocation_bytes", 1.0),
            ("physical", "libvirt_domain_block_stats_physical_bytes", 1.0),
        ]:
            assert _get(got, metric, **blk) == int(v[f"block.0.{key}"]) * scale, key
        assert int(v["block.0.rd.reqs"]) > 0  # SeaBIOS read the boot sector: real I/O

        assert v["net.0.name"] == tiny.tap
        nic = {"domain": d, "target_device": tiny.tap}
        for key, metric in [
            ("rx.bytes", "libvirt_domain_interface_stats_receive_bytes_total"),
            ("rx.pkts", "libvirt_domain_interface_stats_receive_packets_total"),
            ("tx.bytes", "libvirt_domain_interface_stats_transmit_bytes_total"),
            ("tx.pkts", "libvirt_domain_interface_stats_transmit_packets_total"),
            ("rx.drop", "libvirt_domain_interface_stats_receive_drops_total"),
            ("tx.errs", "libvirt_domain_interface_stats_transmit_errors_total"),
        ]:
            assert _get(got, metric, **nic) == int(v[f"net.0.{key}"]), key

        assert (
            _get(
                got,
                "libvirt_domain_openstack_info",
                domain=d,
                instance_name=tiny.display_name,
                instance_id=tiny.uuid,
                flavor_name=tiny.flavor_name,
                user_name=tiny.user_name,
                user_id=tiny.user_id,
                project_name=tiny.project_name,
                project_id=tiny.project_id,
            )
            == 1
        )
        assert (
            _get(
                got,
                "libvirt_domain_interface_stats_info",
                domain=d,
                interface_type="ethernet",
                source_bridge="",
                target_device=tiny.tap,
                mac_address=tiny.mac,
                model_type="virtio",
                mtu_size="1450",
            )
            == 1
        )
    collector.close()


class _Counting:
    """Wraps a libvirt object and counts the calls that travel to libvirtd."""

    LOCAL = frozenset({"isAlive", "UUIDString", "name", "close"})  # answered by the client library

    def __init__(self, target: Any, calls: list[str]) -> None:
        self._target = target
        self._calls = calls

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._target, attr)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            if attr not in self.LOCAL:
                self._calls.append(attr)
            result = value(*args, **kwargs)
            if attr == "getAllDomainStats":
                return [(_Counting(dom, self._calls), rec) for dom, rec in result]
            return result

        return call


class _CountingConnection(LibvirtConnection):
    calls: list[str]

    def get(self) -> Any:
        return _Counting(super().get(), self.calls)


def test_bulk_path_is_one_libvirt_call_per_cycle(libvirtd: PrivateLibvirtd) -> None:
    calls: list[str] = []

    def connect(uri: str) -> LibvirtConnection:
        conn = _CountingConnection(uri)
        conn.calls = calls
        return conn

    collector = LibvirtCollector(libvirtd.ro_uri, connect=connect)
    assert collector.collect().success
    # The first cycle also reads each domain's XML once, for its Nova metadata.
    assert sorted(calls) == sorted(["getAllDomainStats"] + ["XMLDesc"] * len(libvirtd.domains))
    for _ in range(3):
        calls.clear()
        assert collector.collect().success
        assert calls == ["getAllDomainStats"]
    collector.close()
