"""The collector against a real libvirtd + QEMU: values match ``virsh domstats``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from exporter.collectors.libvirt.collector import LibvirtCollector
from exporter.exposition import render
from tests.support.callcount import child_env
from tests.support.libvirtd import PrivateLibvirtd
from tests.support.metrics import parse_samples, sample
from tests.support.servers import require

pytestmark = pytest.mark.real_libvirt


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
    """Read virsh, then the collector, then virsh again: every exported value must lie
    between the two virsh readings (equal to both when nothing moved, which is the case
    for all but QEMU's own CPU time on a paused domain)."""
    before = virsh_domstats(paused.ro_uri)
    collector = LibvirtCollector(paused.ro_uri)
    result = collector.collect()
    after = virsh_domstats(paused.ro_uri)
    assert result.success, result.error
    assert collector.mode == "bulk"
    got = parse_samples(render(result.families).decode())
    assert sample(got, "libvirt_up") == 1
    assert sample(got, "libvirt_domains") == len(before) == len(paused.domains)

    for tiny in paused.domains:
        d = tiny.name
        lo, hi = before[d], after[d]

        def between(metric: str, key: str, scale: float = 1.0, **labels: str) -> None:
            value = sample(got, metric, domain=d, **labels)  # noqa: B023 - used at once
            low = int(lo[key]) * scale  # noqa: B023
            high = int(hi[key]) * scale  # noqa: B023
            assert low - abs(low) * 1e-12 <= value <= high + abs(high) * 1e-12, (metric, key)

        assert lo["state.state"] == "3"
        assert (
            sample(
                got,
                "libvirt_domain_info_state",
                domain=d,
                state_desc="the domain is paused by user",
            )
            == 3
        )
        between("libvirt_domain_info_cpu_time_seconds_total", "cpu.time", 1e-9)
        between("libvirt_domain_info_memory_usage_bytes", "balloon.current", 1024)
        between("libvirt_domain_info_maximum_memory_bytes", "balloon.maximum", 1024)
        # QEMU's RSS moves both ways, so it cannot be bracketed; it must be there and real.
        assert sample(got, "libvirt_domain_memory_stats_rss_bytes", domain=d) > 1024 * 1024
        between("libvirt_domain_info_virtual_cpus", "vcpu.current")
        between("libvirt_domain_vcpu_maximum", "vcpu.maximum")
        between("libvirt_domain_vcpu_state", "vcpu.0.state", vcpu="0")
        between("libvirt_domain_vcpu_time_seconds_total", "vcpu.0.time", 1e-9, vcpu="0")
        between("libvirt_domain_vcpu_wait_seconds_total", "vcpu.0.wait", 1e-9, vcpu="0")
        between("libvirt_domain_vcpu_delay_seconds_total", "vcpu.0.delay", 1e-9, vcpu="0")

        assert lo["block.0.name"] == "vda"
        assert int(lo["block.0.rd.reqs"]) > 0  # SeaBIOS read the boot sector: real I/O
        for key, metric, scale in [
            ("rd.reqs", "libvirt_domain_block_stats_read_requests_total", 1.0),
            ("rd.bytes", "libvirt_domain_block_stats_read_bytes_total", 1.0),
            ("rd.times", "libvirt_domain_block_stats_read_time_seconds_total", 1e-9),
            ("wr.reqs", "libvirt_domain_block_stats_write_requests_total", 1.0),
            ("wr.bytes", "libvirt_domain_block_stats_write_bytes_total", 1.0),
            ("wr.times", "libvirt_domain_block_stats_write_time_seconds_total", 1e-9),
            ("fl.reqs", "libvirt_domain_block_stats_flush_requests_total", 1.0),
            ("fl.times", "libvirt_domain_block_stats_flush_time_seconds_total", 1e-9),
            ("capacity", "libvirt_domain_block_stats_capacity_bytes", 1.0),
            ("allocation", "libvirt_domain_block_stats_allocation_bytes", 1.0),
            ("physical", "libvirt_domain_block_stats_physical_bytes", 1.0),
        ]:
            between(metric, f"block.0.{key}", scale, target_device="vda")

        assert lo["net.0.name"] == tiny.tap
        for key, direction, what in [
            (k, dr, w)
            for dr, prefix in (("receive", "rx"), ("transmit", "tx"))
            for k, w in (
                (f"{prefix}.bytes", "bytes"),
                (f"{prefix}.pkts", "packets"),
                (f"{prefix}.errs", "errors"),
                (f"{prefix}.drop", "drops"),
            )
        ]:
            between(
                f"libvirt_domain_interface_stats_{direction}_{what}_total",
                f"net.0.{key}",
                target_device=tiny.tap,
            )

        assert (
            sample(
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
            sample(
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


def test_bulk_path_is_one_libvirt_rpc_per_cycle(libvirtd: PrivateLibvirtd, tmp_path: Path) -> None:
    """Counted from libvirt's own client log of the RPCs it sends, in a separate process
    (libvirt reads its log settings once per process)."""
    log = tmp_path / "rpc.log"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.callcount", libvirtd.ro_uri, str(log)],
        env=child_env(log),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    counts = json.loads(proc.stdout)
    assert counts["mode"] == "bulk"
    first, steady = counts["first"], counts["steady"]
    # The first cycle also reads each domain's XML once, for its Nova metadata.
    assert first["by_method"]["XMLDesc"]["rpcs"] == len(libvirtd.domains)
    assert first["by_method"]["getAllDomainStats"]["rpcs"] == 1
    # Then one call, one RPC, per cycle.
    assert steady["rpcs"] == 1
    assert steady["by_method"]["getAllDomainStats"] == {"calls": 1, "rpcs": 1}
