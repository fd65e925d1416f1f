"""The rule pack (deploy/prometheus/rules/*.rules): promtool finds every file valid, every
unit test passes, and every alert has a test that fires it and one that does not."""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.support.exporter import REPO
from tests.support.servers import require

RULES = REPO / "deploy" / "prometheus" / "rules"
FILES = sorted(RULES.glob("*.rules"))


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    require(binary is not None, "promtool (Debian package prometheus) is not installed")
    assert binary is not None
    return subprocess.run(
        [binary, *args], cwd=RULES, capture_output=True, text=True, timeout=120, check=False
    )


def _alerts(path: Path) -> list[dict[str, Any]]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _tests(path: Path) -> Path:
    return RULES / "tests" / f"{path.stem}.test.yml"


def test_the_pack_is_named_for_kolla_and_has_a_test_file_per_rule_file() -> None:
    assert [p.name for p in FILES] == [
        "aodh-alertmanager-bridge.rules",
        "gnocchi.rules",
        "openstack-api.rules",
        "openstack-capacity.rules",
        "openstack-telemetry-exporter.rules",
    ]
    assert sorted(p.name for p in (RULES / "tests").glob("*.yml")) == [
        f"{p.stem}.test.yml" for p in FILES
    ]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_promtool_checks_the_rules_and_passes_their_tests(path: Path) -> None:
    checked = _promtool("check", "rules", path.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", str(_tests(path).relative_to(RULES)))
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_alert_has_a_firing_and_a_quiet_case(path: Path) -> None:
    cases: dict[str, set[bool]] = defaultdict(set)
    for test in yaml.safe_load(_tests(path).read_text())["tests"]:
        for check in test.get("alert_rule_test", []):
            cases[check["alertname"]].add(bool(check.get("exp_alerts")))
    for rule in _alerts(path):
        assert cases[rule["alert"]] == {True, False}, (
            f"{rule['alert']}: needs a case that fires it and one that does not"
        )


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_expression_parses_and_every_alert_says_why(path: Path) -> None:
    for rule in _alerts(path):
        promql_parser.parse(rule["expr"])
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]
