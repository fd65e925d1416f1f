"""The command line as an operator meets it: --once, a dead libvirt, readiness."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

from tests.support.exporter import DEMO_NODE, REPO, run_command, run_exporter

DEAD_URI = "qemu+unix:///system?socket=/nonexistent/libvirt-sock-ro"


def _exporter(*args: str) -> subprocess.CompletedProcess[str]:
    return run_command(args)


def _once(uri: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return _exporter("--once", "--libvirt.uri", uri, *extra)


def test_once_prints_exposition_and_succeeds() -> None:
    proc = _once(f"test://{DEMO_NODE}")
    assert proc.returncode == 0, proc.stderr
    assert "libvirt_domains 20.0" in proc.stdout
    assert 'openstack_exporter_collector_success{collector="libvirt"} 1.0' in proc.stdout


def test_once_with_dead_libvirt_exits_1_and_says_why() -> None:
    proc = _once(DEAD_URI)
    assert proc.returncode == 1
    assert "libvirt_up 0.0" in proc.stdout
    assert 'openstack_exporter_collector_success{collector="libvirt"} 0.0' in proc.stdout
    assert "cannot connect" in proc.stderr
    assert "Traceback" not in proc.stderr
    # libvirt's own stderr printing is silenced: every line is one of our log lines.
    lines = proc.stderr.splitlines()
    assert lines
    assert all(line.startswith("ts=") for line in lines), proc.stderr


def test_json_logs_are_one_object_per_line() -> None:
    proc = _once(DEAD_URI, "--log.format", "json")
    assert proc.returncode == 1
    records = [json.loads(line) for line in proc.stderr.splitlines()]
    assert any(r["msg"] == "cycle failed" and r["collector"] == "libvirt" for r in records)


def test_dead_libvirt_is_alive_but_not_ready() -> None:
    with run_exporter(["--libvirt.uri", DEAD_URI], ready=False) as exp:
        exp.wait_for("libvirt_up 0.0")
        assert exp.get("/healthz").status == 200
        assert exp.get("/readyz").status == 503
        body = exp.metrics()
        assert 'openstack_exporter_collector_success{collector="libvirt"} 0.0' in body


def test_disabled_collector_serves_self_metrics_only() -> None:
    with run_exporter(["--no-collector.libvirt"]) as exp:
        body = exp.metrics()
        assert "libvirt_" not in body
        assert "openstack_exporter_build_info" in body


def test_version_is_the_installed_distribution_version() -> None:
    version = importlib.metadata.version("openstack-telemetry-bridge")
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", "--version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"openstack-telemetry-exporter {version}"
    once = _once(f"test://{DEMO_NODE}")
    assert f'openstack_exporter_build_info{{version="{version}",' in once.stdout


def _check(uri: str) -> subprocess.CompletedProcess[str]:
    return _exporter("check", "--collector.libvirt", "--libvirt.uri", uri)


def test_check_reports_the_domains_of_a_working_libvirt() -> None:
    proc = _check("test:///default")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "libvirt  test:///default  ok  1 domain, 1 running",
        "1 check, all ok",
    ]


def test_check_of_a_missing_socket_fails_with_libvirt_s_reason() -> None:
    proc = _check(DEAD_URI)
    assert proc.returncode == 1
    line, summary = proc.stdout.splitlines()
    assert line.startswith(f"libvirt  {DEAD_URI}  FAIL  ")
    assert "/nonexistent/libvirt-sock-ro" in line
    assert "No such file or directory" in line
    assert summary == "1 of 1 check failed"
    assert "Traceback" not in proc.stderr
