"""No credential reaches a log line or a metric: the real process on the testbed at debug level
(keystoneauth's request logs included), and with a password Keystone refuses."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml

from tests.support.exporter import ExporterProcess, run_exporter
from tests.support.testbed import Testbed

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

# keystoneauth logs X-Auth-Token and X-Subject-Token as "{SHA256}<hash>"; anything else
# after them is a token in clear. Fernet tokens (Keystone's default) start with gAAAAA.
TOKEN_HEADER = re.compile(r"(X-Auth-Token|X-Subject-Token)[\"']?\s*[:=]\s*[\"']?([^\s\"',]+)", re.I)
FERNET = re.compile(r"gAAAAA[A-Za-z0-9_-]{20,}")
WRONG_PASSWORD = "Wr0ng-pa55-4c1e9d"  # noqa: S105 - a made-up password, refused by design


def _passwords(clouds_yaml: Path) -> list[str]:
    clouds = yaml.safe_load(clouds_yaml.read_text())["clouds"]
    return [str(c["auth"]["password"]) for c in clouds.values() if c["auth"].get("password")]


def _config(tmp_path: Path) -> Path:
    """Short cycles, so a few run (and a token gets reused) while the test watches."""
    path = tmp_path / "exporter.yml"
    path.write_text(
        "collectors:\n"
        "  libvirt: {enabled: false}\n"
        "  openstack:\n"
        "    enabled: true\n"
        "    cloud: testbed\n"
        "    health: {interval: 3s}\n"
        "    inventory: {interval: 6s}\n"
    )
    return path


def _assert_no_secret(exporter: ExporterProcess, secrets: list[str], where: str) -> str:
    """Scrape, then check the log so far and the scrape; returns the log."""
    body = exporter.metrics()
    logs = exporter.logs()
    for name, text in (("log", logs), ("/metrics", body)):
        for secret in secrets:
            assert secret not in text, f"{where}: a password from clouds.yaml is in the {name}"
        assert not FERNET.search(text), f"{where}: a Keystone token is in the {name}"
        for header, value in TOKEN_HEADER.findall(text):
            assert value.startswith("{SHA256}"), f"{where}: {header} in clear in the {name}"
    return logs


def test_debug_logs_and_metrics_carry_no_credential(bed: Testbed, tmp_path: Path) -> None:
    env = {"OS_CLIENT_CONFIG_FILE": str(bed.clouds_yaml)}
    args = ["--config.file", str(_config(tmp_path)), "--log.level", "debug"]
    with run_exporter(args, env=env, start_timeout=60) as exporter:
        time.sleep(4)  # a second health cycle, on the same token
        logs = _assert_no_secret(exporter, _passwords(bed.clouds_yaml), "debug")
    # The check means something: keystoneauth did log authenticated requests, hashed.
    assert "X-Auth-Token: {SHA256}" in logs
    assert "level=debug" in logs


def test_a_refused_password_is_not_fatal_and_not_echoed(bed: Testbed, tmp_path: Path) -> None:
    clouds = yaml.safe_load(bed.clouds_yaml.read_text())
    clouds["clouds"]["testbed"]["auth"]["password"] = WRONG_PASSWORD
    wrong = tmp_path / "clouds.yaml"
    wrong.write_text(yaml.safe_dump(clouds))
    env = {"OS_CLIENT_CONFIG_FILE": str(wrong)}
    args = ["--config.file", str(_config(tmp_path)), "--log.level", "debug"]
    with run_exporter(args, ready=False, env=env) as exporter:
        exporter.wait_for(
            'openstack_exporter_collector_success{collector="openstack:testbed:health"} 0.0'
        )
        body = exporter.wait_for('openstack_identity_up{cloud="testbed",region="RegionOne"} 0.0')
        assert (
            'openstack_exporter_collector_success{collector="openstack:testbed:inventory"} 0.0'
            in body
        )
        assert exporter.proc.poll() is None, "the exporter exited on a refused password"
        assert exporter.get("/healthz").status == 200
        logs = _assert_no_secret(exporter, [WRONG_PASSWORD, *_passwords(wrong)], "refused")
    assert "401 unauthorized: credentials refused" in logs
    assert "Traceback" not in logs


@pytest.fixture(scope="module")
def bed(testbed: Testbed) -> Testbed:
    return testbed.need("keystone", "nova", "neutron", "cinder", "glance", "placement", "heat")
