"""libvirtd frozen (SIGSTOP), killed and restarted, under the real exporter process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.exporter import ExporterProcess, run_exporter, write_config
from tests.support.libvirtd import PrivateLibvirtd

pytestmark = pytest.mark.real_libvirt

SUCCESS = 'openstack_exporter_collector_success{collector="libvirt"}'
SCRAPE_BOUND = 1.0  # the acceptance bound for a scrape while libvirtd is frozen


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def _fast_metrics(exporter: ExporterProcess) -> str:
    """A scrape that must be answered within the bound, whatever libvirtd is doing."""
    return exporter.metrics(timeout=SCRAPE_BOUND)


def _wait(exporter: ExporterProcess, needle: str) -> str:
    return exporter.wait_for(needle, scrape_timeout=SCRAPE_BOUND)


def test_sigstop_then_sigcont(libvirtd: PrivateLibvirtd, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yml", interval="1s", timeout="1s")
    name = libvirtd.domains[0].name
    series = f'libvirt_domain_info_virtual_cpus{{domain="{name}"}}'
    with run_exporter(["--libvirt.uri", libvirtd.ro_uri, "--config.file", str(config)]) as exp:
        _wait(exp, f"{SUCCESS} 1.0")
        threads_before = _threads(exp.proc.pid)
        libvirtd.stop()
        try:
            body = _wait(exp, f"{SUCCESS} 0.0")
            assert series in body  # last good values are still served
            assert "libvirt_up 1.0" in body  # the connection itself was never lost
            # Five intervals while frozen: every scrape answers, no thread piles up (a new
            # collection thread per interval would add five; allow two for HTTP handlers).
            for _ in range(50):
                body = _fast_metrics(exp)
                assert series in body
                time.sleep(0.1)
            assert f"{SUCCESS} 0.0" in body
            assert _threads(exp.proc.pid) <= threads_before + 2
            assert 'openstack_exporter_collector_timeouts_total{collector="libvirt"} 1.0' in body
        finally:
            libvirtd.cont()
        body = _wait(exp, f"{SUCCESS} 1.0")
        assert series in body


def test_killed_and_restarted_libvirtd_is_reconnected(
    libvirtd: PrivateLibvirtd, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "c.yml", interval="1s", timeout="1s")
    count = f"libvirt_domains {float(len(libvirtd.domains))}"
    with run_exporter(["--libvirt.uri", libvirtd.ro_uri, "--config.file", str(config)]) as exp:
        _wait(exp, count)
        libvirtd.kill()
        try:
            body = _wait(exp, "libvirt_up 0.0")
            assert f"{SUCCESS} 0.0" in body
            assert "libvirt_domain_info_state{" not in body  # nothing is known without libvirt
        finally:
            libvirtd.start()
            libvirtd.wait_for_domains()
        body = _wait(exp, "libvirt_up 1.0")
        body = _wait(exp, f"{SUCCESS} 1.0")
        body = _wait(exp, count)
        assert "connection lost" in exp.logs() or "reconnecting" in exp.logs()
