"""One domain whose XML the parser cannot read, on libvirt's test driver, the real exporter.

libvirt accepts Nova metadata carrying an attribute with an undeclared namespace prefix and
hands it back verbatim in the domain XML, which then no longer parses. That domain must cost
its own series only: ``libvirt_up`` and every healthy domain stay, the skip is counted and
logged once.
"""

from __future__ import annotations

import time
from pathlib import Path

from demo.nodegen import render_node
from tests.support.exporter import ExporterProcess, run_exporter, write_config
from tests.support.metrics import parse_samples, sample

BAD_NAME = "instance-bad"
BAD_UUID = "5b1e0d8a-7c2f-4e69-9a13-2d4c6b8f0e71"
BAD_DOMAIN = f"""  <domain type='test'>
    <name>{BAD_NAME}</name>
    <uuid>{BAD_UUID}</uuid>
    <metadata>
      <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
        <nova:name>odd-metadata</nova:name>
        <nova:flavor name="m1.small" extra:tier="gold"/>
      </nova:instance>
    </metadata>
    <memory unit='KiB'>1048576</memory>
    <vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
  </domain>
"""
HEALTHY = 6


def _wait_for_cycles(exp: ExporterProcess, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while sum("cycle " in line for line in exp.log_lines) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {count} cycles in {timeout}s:\n{exp.logs()}")
        time.sleep(0.1)


def test_a_domain_the_parser_cannot_read_costs_only_its_own_series(tmp_path: Path) -> None:
    node = tmp_path / "node.xml"
    node.write_text(render_node(HEALTHY, seed=5).replace("</node>", BAD_DOMAIN + "</node>"))
    config = write_config(tmp_path / "config.yml", interval="1s", timeout="1s")
    args = ["--libvirt.uri", f"test://{node}", "--config.file", str(config)]
    with run_exporter([*args, "--log.level", "debug"], ready=False) as exp:
        _wait_for_cycles(exp, 3)  # "cycle done" or "cycle failed", three times
        got = parse_samples(exp.metrics())
        logs = exp.logs()

    assert sample(got, "libvirt_up") == 1, logs
    assert sample(got, "libvirt_domains") == HEALTHY + 1
    assert sample(got, "libvirt_domains_skipped", reason="domain_xml") == 1
    assert sample(got, "libvirt_domains_skipped", reason="stats") == 0
    assert sample(got, "openstack_exporter_collector_success", collector="libvirt") == 1
    healthy = {
        dict(labels)["domain"] for name, labels in got if name == "libvirt_domain_info_state"
    }
    assert len(healthy) == HEALTHY
    assert BAD_NAME not in healthy
    assert BAD_NAME not in {v for _, labels in got for _, v in labels}
    assert {
        dict(labels)["domain"]
        for name, labels in got
        if name == "libvirt_domain_block_stats_read_bytes_total"
    }, "running domains keep their runtime series"

    warned = [
        line for line in logs.splitlines() if "level=warn" in line and "domain skipped" in line
    ]
    assert len(warned) == 1, logs  # once, not once per cycle
    assert f"uuid={BAD_UUID}" in warned[0]
    assert f"domain={BAD_NAME}" in warned[0]
    assert "reason=domain_xml" in warned[0]
    assert "Traceback" not in logs
