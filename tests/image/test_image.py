"""The container image, built by ``make image`` and run by Podman in the three roles it ships
for, with the options of the Quadlet units in deploy/quadlet/ (see test_quadlet.py): the
hypervisor exporter reading real QEMU guests through the host's read-only libvirt socket,
the central exporter reading the testbed through a mounted clouds.yaml, and the bridge whose
state volume survives a crash."""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import quadlet
from tests.support.alertmanager_process import alertmanagers, free_port
from tests.support.bridge import aodh_payload
from tests.support.image import IMAGE, PODMAN, containers, get, podman, readable_copy, wait_http
from tests.support.libvirtd import PrivateLibvirtd
from tests.support.metrics import parse_samples, sample
from tests.support.testbed import Testbed

pytestmark = [pytest.mark.image, pytest.mark.slow]

SIZE_LIMIT_MB = 200


def unit(name: str, sources: dict[str, str]) -> tuple[list[str], list[str]]:
    """The options and command of a deploy/quadlet unit, which must run this image."""
    image, options, command = quadlet.run_options(name, sources)
    assert image == IMAGE
    return options, command


def test_the_image_is_small_non_root_and_labelled(image: str) -> None:
    info = json.loads(podman("image", "inspect", IMAGE))[0]
    size_mb = info["Size"] / 1e6
    assert size_mb < SIZE_LIMIT_MB, f"{size_mb:.1f} MB"
    config = info["Config"]
    assert config["User"] == "10198:10198"
    assert "/var/lib/aodh-alertmanager-bridge" in config["Volumes"]
    assert info["Healthcheck"]["Test"] == ["CMD", "openstack-telemetry-healthcheck"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] in image
    assert labels["org.opencontainers.image.title"] == "openstack-telemetry-bridge"
    # No shell: a command line cannot run in it.
    shell = subprocess.run(
        ["podman", "run", "--rm", *PODMAN, "--health-interval=disable", IMAGE, "sh", "-c", "true"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shell.returncode != 0
    assert "executable file not found" in shell.stderr, shell.stderr


def test_the_hypervisor_exporter_reads_real_guests_through_the_read_only_socket(
    image: str, libvirtd: PrivateLibvirtd
) -> None:
    """As beside kolla's nova_libvirt: the socket mounted read-only, the default user."""
    port = free_port()
    with containers() as pool:
        options, command = unit(
            "openstack-telemetry-exporter.container", {"/run/libvirt": str(libvirtd.sock_dir)}
        )
        exporter = pool.run("hypervisor", options, [*command, f"--web.listen-address=:{port}"])
        deadline = time.monotonic() + 90
        while True:
            samples = parse_samples(wait_http(exporter, port, "/metrics"))
            if samples.get(("libvirt_up", frozenset())) == 1.0:
                break
            assert time.monotonic() < deadline, exporter.logs()
            time.sleep(0.5)
        names = {
            dict(labels)["domain"]
            for (name, labels) in samples
            if name == "libvirt_domain_info_cpu_time_seconds_total"
        }
        assert names == {d.name for d in libvirtd.domains}, exporter.logs()
        health = exporter.healthcheck()
        assert health.returncode == 0, health.stdout + health.stderr + exporter.logs()


def test_the_central_exporter_reads_the_testbed_through_a_mounted_clouds_yaml(
    image: str, testbed: Testbed, tmp_path: Path
) -> None:
    testbed.need("keystone", "nova", "gnocchi")
    clouds = readable_copy(testbed.clouds_yaml, tmp_path / "clouds.yaml")
    port = free_port()
    with containers() as pool:
        options, command = unit(
            "openstack-telemetry-central.container",
            {"/etc/openstack-telemetry-bridge/clouds.yaml": str(clouds)},
        )
        extra = ["--os-cloud=testbed", f"--web.listen-address=:{port}"]
        central = pool.run("central", options, [*command, *extra])
        deadline = time.monotonic() + 120
        while True:
            samples = parse_samples(wait_http(central, port, "/metrics"))
            done = [
                samples.get(("openstack_exporter_collector_success", frozenset({c})))
                for c in (
                    ("collector", "openstack:testbed:health"),
                    ("collector", "openstack:testbed:inventory"),
                    ("collector", "gnocchi:testbed"),
                )
            ]
            if done == [1.0, 1.0, 1.0]:  # 0 until the first cycle ends
                break
            assert time.monotonic() < deadline, f"{done}\n{central.logs()}"
            time.sleep(1)
        assert central.user() == "10198"
        base = {"cloud": "testbed", "region": region_of(samples)}
        assert sample(samples, "openstack_identity_up", **base) == 1.0
        assert sample(samples, "openstack_nova_up", **base) == 1.0
        status, ready = get(port, "/readyz")
        assert status == 200, ready


def region_of(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> str:
    return next(
        dict(labels)["region"] for name, labels in samples if name == "openstack_identity_up"
    )


def test_the_bridge_keeps_a_webhook_in_its_volume_across_a_crash(
    image: str, tmp_path: Path
) -> None:
    """Accepted while Alertmanager is down, the container killed, a new one started on the
    same volume: the alert reaches Alertmanager once it is up."""
    port = free_port()
    with alertmanagers(tmp_path / "am") as pool, containers() as boxes:
        am = pool.new("one", start=False)
        config = tmp_path / "bridge.yml"
        config.write_text(f"alertmanager:\n  urls:\n    - {am.url}\n")
        config.chmod(0o644)
        options, command = unit(
            "aodh-alertmanager-bridge.container",
            {
                "/etc/openstack-telemetry-bridge/bridge.yml": str(config),
                "aodh-alertmanager-bridge-state": boxes.volume("bridge-state"),
            },
        )
        command = [*command, f"--web.listen-address=:{port}"]
        first = boxes.run("bridge", options, command)
        wait_http(first, port, "/healthz")
        body = json.dumps(aodh_payload("contained")).encode()
        accepted = post(port, body)
        assert accepted == 202, first.logs()
        first.kill()
        assert not first.running()
        second = boxes.run("bridge", options, command)
        wait_http(second, port, "/healthz")
        am.start()
        deadline = time.monotonic() + 60
        while "contained" not in am.firing_ids():
            assert time.monotonic() < deadline, second.logs()
            time.sleep(0.5)
        assert second.user() == "10198"
        health = second.healthcheck()
        assert health.returncode == 0, health.stdout + health.stderr


def post(port: int, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/v1/aodh", body, {"Content-Type": "application/json"})
        return conn.getresponse().status
    finally:
        conn.close()
