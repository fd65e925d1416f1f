"""The demo exposition, end to end: golden diff and promtool's lint."""

from __future__ import annotations

import difflib
import shutil
import subprocess

from tests.e2e.golden import GOLDEN, normalize, scrape_demo
from tests.support.servers import require


def test_demo_exposition_matches_golden_and_passes_promtool() -> None:
    raw = scrape_demo()
    got = normalize(raw)
    want = GOLDEN.read_text()
    diff = "".join(
        difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden", "live")
    )
    assert got == want, "exposition changed (make golden to accept):\n" + diff[:5000]

    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool (Debian package prometheus) is not installed")
    assert promtool is not None
    proc = subprocess.run(
        [promtool, "check", "metrics"],
        input=raw,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "", proc.stdout
    assert proc.stderr.strip() == "", proc.stderr


def test_normalize_blanks_only_volatile_values() -> None:
    text = (
        'libvirt_domain_info_cpu_time_seconds_total{domain="a"} 1.5\n'
        'libvirt_domain_info_virtual_cpus{domain="a"} 2.0\n'
        'openstack_exporter_build_info{pythonversion="3.11.7",version="0.1.0"} 1.0\n'
    )
    assert normalize(text).splitlines() == [
        'libvirt_domain_info_cpu_time_seconds_total{domain="a"} <volatile>',
        'libvirt_domain_info_virtual_cpus{domain="a"} 2.0',
        'openstack_exporter_build_info{pythonversion="X",version="0.1.0"} 1.0',
    ]
