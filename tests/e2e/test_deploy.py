"""What ships in deploy/ works: example configs load, alert rules pass promtool and their tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from exporter.config import Flags, build_config
from exporter.errors import ConfigError
from tests.support.exporter import REPO
from tests.support.servers import require

DEPLOY = REPO / "deploy"


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool (Debian package prometheus) is not installed")
    assert promtool is not None
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_example_config_file_loads() -> None:
    config = build_config(Flags(config_file=str(DEPLOY / "config" / "config.yml")))
    assert config.enabled == ("libvirt",)


def test_example_web_config_is_valid_apart_from_its_certificate_paths() -> None:
    # The example names certificate files that are not shipped; everything before loading the
    # files must pass, and the error must be about the files.
    with pytest.raises(ConfigError, match="cannot load TLS files"):
        build_config(Flags(web_config_file=str(DEPLOY / "config" / "web.yml")))


def test_alert_rules_check_and_unit_tests() -> None:
    prom = DEPLOY / "prometheus"
    checked = _promtool("check", "rules", "alerts.yml", cwd=prom)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", "alerts_test.yml", cwd=prom)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_scrape_job_is_a_valid_prometheus_config(tmp_path: Path) -> None:
    shutil.copy(DEPLOY / "prometheus" / "openstack-telemetry-exporter.yml", tmp_path / "p.yml")
    checked = _promtool("check", "config", "p.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
