"""What ships in deploy/ works: example configs load, scrape jobs pass promtool, the
Alertmanager route passes amtool and routes each severity where it says. The rule pack:
test_rule_pack.py."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from alerts import config as bridge_config
from exporter.config import Flags, build_config
from otb_common.errors import ConfigError
from tests.support.exporter import REPO
from tests.support.servers import require

DEPLOY = REPO / "deploy"


def _tool(name: str, package: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which(name)
    require(binary is not None, f"{name} (Debian package {package}) is not installed")
    assert binary is not None
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _tool("promtool", "prometheus", *args, cwd=cwd)


def _amtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _tool("amtool", "prometheus-alertmanager", *args, cwd=cwd)


def test_example_config_file_loads() -> None:
    config = build_config(Flags(config_file=str(DEPLOY / "config" / "config.yml")))
    assert config.enabled == ("libvirt",)


def test_example_web_config_is_valid_apart_from_its_certificate_paths() -> None:
    # The example names certificate files that are not shipped; everything before loading the
    # files must pass, and the error must be about the files.
    with pytest.raises(ConfigError, match="cannot load TLS files"):
        build_config(Flags(web_config_file=str(DEPLOY / "config" / "web.yml")))


@pytest.mark.parametrize("job", ["openstack-telemetry-exporter", "aodh-alertmanager-bridge"])
def test_scrape_job_is_a_valid_prometheus_config(tmp_path: Path, job: str) -> None:
    shutil.copy(DEPLOY / "prometheus" / f"{job}.yml", tmp_path / "p.yml")
    checked = _promtool("check", "config", "p.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"job_name: {job}" in (tmp_path / "p.yml").read_text()


# A commented example key: "#key: value" or, inside a mapping, "#  key: value"; prose
# comments have one space after "#".
_EXAMPLE_KEY = re.compile(r"^(\s*)#((?:  )?[a-z_]+: .*)$", re.MULTILINE)


def test_example_bridge_config_loads_with_and_without_its_commented_keys(
    tmp_path: Path,
) -> None:
    example = DEPLOY / "config" / "bridge.yml"
    config = bridge_config.build_config(bridge_config.Flags(config_file=str(example)))
    assert config.state_path == Path(bridge_config.DEFAULT_STATE_PATH)
    assert config.resend_interval == 60.0
    assert config.insufficient_data == "keep"
    assert len(config.alertmanagers) == 2
    uncommented = _EXAMPLE_KEY.sub(r"\1\2", example.read_text())
    assert uncommented != example.read_text()
    (tmp_path / "bridge.yml").write_text(uncommented)
    full = bridge_config.build_config(bridge_config.Flags(config_file=str(tmp_path / "bridge.yml")))
    assert full.os_cloud == "aodh-bridge"
    assert full.static_labels == {"region": "RegionOne", "cloud": "production"}
    assert full.generator_url is not None
    assert "{alarm_id}" in full.generator_url


ALERTMANAGER = DEPLOY / "alertmanager"


def test_alertmanager_route_is_a_valid_config() -> None:
    checked = _amtool("check-config", "aodh-route.yml", cwd=ALERTMANAGER)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["source=aodh", "alertname=cpu-high", "severity=critical"], "openstack-alarms-page"),
        (["source=aodh", "alertname=cpu-high", "severity=warning"], "openstack-alarms"),
        (["source=aodh", "alertname=cpu-high", "severity=info"], "blackhole"),
        (["alertname=LibvirtDown", "severity=critical"], "default"),
    ],
)
def test_alertmanager_route_sends_each_severity_to_its_receiver(
    labels: list[str], receiver: str
) -> None:
    routed = _amtool(
        "config", "routes", "test", "--config.file=aodh-route.yml", *labels, cwd=ALERTMANAGER
    )
    assert routed.returncode == 0, routed.stdout + routed.stderr
    assert routed.stdout.split() == [receiver]


def _directives(unit: Path) -> list[str]:
    return [
        line
        for line in unit.read_text().splitlines()
        if line and not line.startswith(("#", "[", " ")) and "=" in line
    ]


def test_bridge_unit_keeps_the_exporter_hardening_and_the_default_state_path() -> None:
    systemd = DEPLOY / "systemd"
    bridge = _directives(systemd / "aodh-alertmanager-bridge.service")
    exporter = _directives(systemd / "openstack-telemetry-exporter.service")
    hardening = exporter[exporter.index("NoNewPrivileges=yes") :]
    missing = [line for line in hardening if line not in bridge]
    assert missing == []
    state = Path(bridge_config.DEFAULT_STATE_PATH)
    assert f"StateDirectory={state.parent.name}" in bridge
    assert state.parent.parent == Path("/var/lib")
    unit_text = (systemd / "aodh-alertmanager-bridge.service").read_text()
    assert f"--state.path={state}" in unit_text
