"""What ships in deploy/ works: example configs load, scrape jobs pass promtool, the
Alertmanager route passes amtool and routes each severity where it says, and the rule pack
(deploy/prometheus/rules/*.rules) passes promtool and its unit tests, with a case that fires
each alert and one that does not, PromQL that parses and metric names that we export, and
openstack-api.rules equal to openstack-mixin's rules but for the annotations."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from alerts import config as bridge_config
from exporter.config import Flags, build_config
from otb_common.errors import ConfigError
from tests.support.exporter import REPO
from tests.support.grafana import metric_names
from tests.support.servers import require

DEPLOY = REPO / "deploy"
RULES = DEPLOY / "prometheus" / "rules"
RULE_FILES = sorted(RULES.glob("*.rules"))
MIXIN = REPO / "tests" / "fixtures" / "openstack_mixin_alerts.yml"


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


def _alerts(path: Path) -> list[dict[str, Any]]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _unit_tests(path: Path) -> Path:
    return RULES / "tests" / f"{path.stem}.test.yml"


def _exported_names() -> set[str]:
    """Every metric name our programs expose: the golden expositions' families, the names
    docs/metrics.md lists (the bridge has no golden file, and the testbed lacks some
    services), and Prometheus's own ``up``."""
    names = {"up"}
    for golden in (REPO / "tests" / "e2e").glob("*.prom"):
        for line in golden.read_text().splitlines():
            found = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
            if found and not line.startswith("#"):
                names.add(found.group())
    for line in (REPO / "docs" / "metrics.md").read_text().splitlines():
        service = ""
        for code in re.findall(r"`([a-z_][^`]*)`", line):
            # A brace after "_" holds name parts (a_{b,c}_d); after anything else, labels.
            name = re.split(r"(?<!_)\{", code, maxsplit=1)[0]
            if not re.fullmatch(r"[a-z0-9_{},]+", name):
                continue
            if re.match(r"(openstack|libvirt|gnocchi|aodh)_", name):
                service = "_".join(name.split("_")[:2])
            elif name.startswith("_") and service:
                # "`openstack_neutron_routers`, `_routers_not_active`" in one table row.
                name = service + name
            else:
                continue
            names.update(_expand(name))
    return names


def _expand(token: str) -> list[str]:
    """``a_{b,c}_d`` as ``a_b_d`` and ``a_c_d``, every brace group in turn."""
    group = re.search(r"\{([^{}]*)\}", token)
    if group is None:
        return [token]
    return [
        name
        for choice in group.group(1).split(",")
        for name in _expand(token[: group.start()] + choice + token[group.end() :])
    ]


def test_rule_pack_is_named_for_kolla_with_a_test_file_for_each_rule_file() -> None:
    assert [p.name for p in RULE_FILES] == [
        "aodh-alertmanager-bridge.rules",
        "gnocchi.rules",
        "openstack-api.rules",
        "openstack-capacity.rules",
        "openstack-telemetry-exporter.rules",
    ]
    tests = sorted((RULES / "tests").iterdir())
    assert [p.name for p in tests] == [_unit_tests(p).name for p in RULE_FILES]
    for path in RULE_FILES:
        loads = yaml.safe_load(_unit_tests(path).read_text())["rule_files"]
        assert loads == [f"../{path.name}"], f"{_unit_tests(path).name} tests {loads}"


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.stem for p in RULE_FILES])
def test_rule_file_passes_promtool_check_and_its_unit_tests(path: Path) -> None:
    checked = _promtool("check", "rules", path.name, cwd=RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", str(_unit_tests(path).relative_to(RULES)), cwd=RULES)
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.stem for p in RULE_FILES])
def test_every_alert_has_a_case_that_fires_it_and_one_that_does_not(path: Path) -> None:
    # Firing: per alert name and severity (the mixin has two rules per name at two
    # thresholds), with the labels and the annotations it must have.
    fired: set[tuple[str, str]] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(_unit_tests(path).read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            expected = check.get("exp_alerts")
            if not expected:
                quiet.add(check["alertname"])
            for alert in expected or []:
                where = f"{case['name']}, {check['alertname']} at {check['eval_time']}"
                assert alert.get("exp_labels", {}).get("severity"), f"{where}: no labels"
                annotations = alert.get("exp_annotations", {})
                assert annotations.get("summary"), f"{where}: no summary"
                assert annotations.get("description"), f"{where}: no description"
                fired.add((check["alertname"], alert["exp_labels"]["severity"]))
    for rule in _alerts(path):
        name, severity = rule["alert"], rule["labels"]["severity"]
        assert (name, severity) in fired, f"{name} ({severity}): no case fires it"
        assert name in quiet, f"{name}: no case where it stays quiet"


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.stem for p in RULE_FILES])
def test_every_alert_parses_reads_our_names_and_says_what_it_means(path: Path) -> None:
    exported = _exported_names()
    for rule in _alerts(path):
        name = rule["alert"]
        promql_parser.parse(rule["expr"])
        read = metric_names(rule["expr"])
        assert not read.patterns, f"{name}: selects names by regex"
        assert read.literal <= exported, f"{name}: {sorted(read.literal - exported)} not ours"
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, name
        assert rule["annotations"]["summary"], name
        assert rule["annotations"]["description"], name


def test_no_alert_name_is_in_two_rule_files() -> None:
    owners = Counter(name for path in RULE_FILES for name in {r["alert"] for r in _alerts(path)})
    assert [name for name, files in owners.items() if files > 1] == []


def _without_annotations(path: Path) -> list[tuple[str, list[tuple[Any, ...]]]]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [
        (
            group["name"],
            [
                (
                    rule["alert"],
                    str(promql_parser.parse(rule["expr"])),
                    rule.get("for"),
                    rule.get("keep_firing_for"),
                    rule.get("labels"),
                )
                for rule in group["rules"]
            ],
        )
        for group in groups
    ]


def test_openstack_api_rules_are_openstack_mixins_but_for_their_annotations() -> None:
    # Same groups in the same order, same alert names, expressions (compared parsed, so
    # line breaks do not count), for, keep_firing_for and labels: an operator's routes and
    # silences for the mixin's alerts work on ours.
    ours = _without_annotations(RULES / "openstack-api.rules")
    assert ours == _without_annotations(MIXIN)


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
