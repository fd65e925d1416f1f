"""The private libvirtd harness itself: real stats, isolation, freeze, restart, cleanup."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import libvirt
import pytest

from exporter.collectors.libvirt.collector import STATS_GROUPS as STATS
from tests.support.libvirtd import NOVA_NS, PrivateLibvirtd, process_alive

pytestmark = pytest.mark.real_libvirt


def _stats(daemon: PrivateLibvirtd) -> dict[str, dict[str, Any]]:
    with daemon.connection(readonly=True) as conn:
        return {dom.UUIDString(): rec for dom, rec in conn.getAllDomainStats(STATS, 0)}


def test_three_nova_domains_are_running(libvirtd: PrivateLibvirtd) -> None:
    assert len(libvirtd.domains) == 3
    with libvirtd.connection(readonly=True) as conn:
        active = conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
        assert {d.UUIDString() for d in active} == {d.uuid for d in libvirtd.domains}
        for tiny in libvirtd.domains:
            dom = conn.lookupByUUIDString(tiny.uuid)
            assert dom.name() == tiny.name
            assert tiny.name.startswith("instance-0000000")
            meta = ET.fromstring(dom.XMLDesc(0)).find(f"metadata/{{{NOVA_NS}}}instance")  # noqa: S314
            assert meta is not None
            assert meta.findtext(f"{{{NOVA_NS}}}name") == tiny.display_name
            owner = meta.find(f"{{{NOVA_NS}}}owner/{{{NOVA_NS}}}user")
            assert owner is not None
            assert (owner.text, owner.get("uuid")) == ("alice", tiny.user_id)
            flavor = meta.find(f"{{{NOVA_NS}}}flavor")
            assert flavor is not None
            assert flavor.get("name") == "m1.tiny"
            assert tiny.memory_mib == 128
            assert tiny.vcpus == 1


def test_bulk_stats_of_a_real_qemu(libvirtd: PrivateLibvirtd) -> None:
    stats = _stats(libvirtd)
    for tiny in libvirtd.domains:
        rec = stats[tiny.uuid]
        assert rec["state.state"] == libvirt.VIR_DOMAIN_RUNNING
        assert rec["cpu.time"] > 0
        assert rec["balloon.current"] == rec["balloon.maximum"] == 128 * 1024
        assert rec["balloon.rss"] > 0
        assert rec["vcpu.current"] == 1
        assert "vcpu.0.time" in rec
        assert rec["net.count"] == 1
        assert rec["net.0.name"] == tiny.tap
        assert {"net.0.rx.bytes", "net.0.tx.bytes", "net.0.rx.pkts", "net.0.tx.drop"} <= set(rec)
        assert rec["block.count"] == 1
        assert rec["block.0.name"] == "vda"
        assert rec["block.0.path"] == str(tiny.disk_path)
        assert rec["block.0.rd.reqs"] > 0  # SeaBIOS read the boot sector
        assert rec["block.0.capacity"] == 1 << 30


def test_private_state_stays_private(libvirtd: PrivateLibvirtd) -> None:
    for tiny in libvirtd.domains:
        # libvirt's pid file is in our temp dir, under the name libvirt gives it...
        assert libvirtd.qemu_pid(tiny.name) == tiny.qemu_pid
        assert process_alive(tiny.qemu_pid)
        # ...not in the host's /run/libvirt, and the tap lives in the private netns.
        host_pid_file = Path(f"/run/libvirt/qemu/{tiny.name}.pid")
        assert not host_pid_file.exists() or host_pid_file.read_text() != str(tiny.qemu_pid)
        assert not Path(f"/sys/class/net/{tiny.tap}").exists()
    assert Path(f"/proc/{libvirtd.pid}/exe").resolve() == Path("/usr/sbin/libvirtd")


def test_sigstop_freezes_calls_until_sigcont(libvirtd: PrivateLibvirtd) -> None:
    conn = libvirtd.connect(readonly=True)
    result: list[int] = []
    caller = threading.Thread(
        target=lambda: result.append(len(conn.getAllDomainStats(STATS, 0))), daemon=True
    )
    libvirtd.stop()
    try:
        caller.start()
        caller.join(1.0)
        assert caller.is_alive(), "a call returned although libvirtd was stopped"
        assert not result
    finally:
        libvirtd.cont()
    caller.join(10.0)
    assert result == [3]
    conn.close()


@pytest.mark.parametrize("graceful", [True, False], ids=["sigterm", "sigkill"])
def test_restart_keeps_the_domains(libvirtd: PrivateLibvirtd, graceful: bool) -> None:
    old_pid = libvirtd.pid
    qemu_pids = {tiny.name: libvirtd.qemu_pid(tiny.name) for tiny in libvirtd.domains}
    before = _stats(libvirtd)
    libvirtd.restart(graceful=graceful)
    assert libvirtd.pid != old_pid
    assert not process_alive(old_pid)
    assert {t.name: libvirtd.qemu_pid(t.name) for t in libvirtd.domains} == qemu_pids
    after = _stats(libvirtd)
    assert set(after) == set(before)
    for uuid, rec in after.items():
        assert rec["state.state"] == libvirt.VIR_DOMAIN_RUNNING
        assert rec["cpu.time"] >= before[uuid]["cpu.time"]
        assert rec["net.0.name"] == before[uuid]["net.0.name"]


def test_close_leaves_no_process_behind(tmp_path: Path, libvirtd_session: PrivateLibvirtd) -> None:
    # A second daemon next to the session one; it shares only the capabilities cache.
    daemon = PrivateLibvirtd(tmp_path, cache_dir=libvirtd_session.cache_dir)
    try:
        daemon.start()
        (tiny,) = daemon.define_tiny_domains(1, wait_boot=False)
        pids = [daemon.pid, daemon.holder_pid, tiny.qemu_pid]
        assert all(process_alive(pid) for pid in pids)
        daemon.stop()  # close() must cope with a frozen daemon, too
    finally:
        daemon.close()
    deadline = time.monotonic() + 5.0
    while any(process_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids if process_alive(pid)]
    assert not daemon.running
