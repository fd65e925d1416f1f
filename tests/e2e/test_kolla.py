"""deploy/kolla/ as kolla-ansible uses it: our prometheus.yml.d file rendered with kolla's
inventory variables and merged into kolla's own prometheus.yml as its merge_yaml action does
(dictionaries merged, lists extended), with our rule files beside it; Prometheus' promtool
loads the result. The rule files and dashboards are links into the project's own copies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from tests.support.exporter import REPO
from tests.support.promtool import promtool

KOLLA = REPO / "deploy" / "kolla"
CONFIG = KOLLA / "config"
FIXTURE = REPO / "tests" / "fixtures" / "kolla_prometheus_aio.yml"


def merge(conf: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """kolla-ansible's merge_yaml with extend_lists (its Utils.update_nested_conf)."""
    for key, value in update.items():
        if isinstance(value, dict):
            conf[key] = merge(conf.get(key, {}), value)
        elif key in conf and isinstance(conf[key], list):
            assert isinstance(value, list), key
            conf[key].extend(value)
        else:
            conf[key] = value
    return conf


def render(groups: dict[str, list[str]], addresses: dict[str, str]) -> dict[str, Any]:
    """Our prometheus.yml.d file through Jinja with kolla's filters for these hosts."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - YAML, not HTML
    env.filters["kolla_address"] = lambda _kind, host: addresses[host]
    env.filters["put_address_in_context"] = lambda addr, _ctx: f"[{addr}]" if ":" in addr else addr
    merged: dict[str, Any] = {}
    for source in sorted((CONFIG / "prometheus" / "prometheus.yml.d").glob("*.yml")):
        text = env.from_string(source.read_text()).render(groups=groups)
        merge(merged, yaml.safe_load(text))
    return merged


def jobs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in config["scrape_configs"]}


def targets(job: dict[str, Any]) -> list[str]:
    return [t for group in job["static_configs"] for t in group["targets"]]


def test_an_all_in_one_prometheus_yml_with_our_jobs_and_rules_loads(tmp_path: Path) -> None:
    kolla = yaml.safe_load(FIXTURE.read_text())
    ours = render({"compute": ["aio"], "control": ["aio"]}, {"aio": "192.0.2.10"})
    merged = merge(kolla, ours)
    for rule in sorted((CONFIG / "prometheus").glob("*.rules")):
        shutil.copyfile(rule, tmp_path / rule.name)  # kolla copies the content
    merged["rule_files"] = [
        str(tmp_path / Path(r).name) for r in merged["rule_files"]
    ]  # /etc/prometheus/ in kolla's container
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(merged))
    checked = promtool("check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr
    found = jobs(merged)
    assert {"prometheus", "node", "openstack_exporter", "libvirt_exporter"} <= set(found)
    assert targets(found["openstack-telemetry-exporter"]) == ["192.0.2.10:10198"]
    assert targets(found["openstack-telemetry-central"]) == ["192.0.2.10:10197"]
    assert targets(found["aodh-alertmanager-bridge"]) == ["192.0.2.10:10199"]


def test_our_jobs_match_the_plain_scrape_files() -> None:
    """Same names, intervals, timeouts and honor_labels as deploy/prometheus/*.yml: the rule
    pack and the dashboards select on the job names."""
    plain: dict[str, dict[str, Any]] = {}
    for path in (REPO / "deploy" / "prometheus").glob("*.yml"):
        plain.update(jobs(yaml.safe_load(path.read_text())))
    ours = jobs(render({"compute": ["c1"], "control": ["k1"]}, {"c1": "a", "k1": "b"}))
    assert set(ours) == set(plain)
    for name, job in ours.items():
        for key in ("scrape_interval", "scrape_timeout", "honor_labels"):
            assert job.get(key) == plain[name].get(key), (name, key)


def test_a_multinode_inventory_gives_every_compute_a_target() -> None:
    groups = {"compute": ["c1", "c2", "c3"], "control": ["k1", "k2", "k3"]}
    addresses = {"c1": "10.0.0.11", "c2": "10.0.0.12", "c3": "fd00::13", "k1": "10.0.0.1"}
    addresses |= {"k2": "10.0.0.2", "k3": "10.0.0.3"}
    found = jobs(render(groups, addresses))
    assert targets(found["openstack-telemetry-exporter"]) == [
        "10.0.0.11:10198",
        "10.0.0.12:10198",
        "[fd00::13]:10198",
    ]
    assert targets(found["openstack-telemetry-central"]) == ["10.0.0.1:10197"]


@pytest.mark.parametrize(
    ("link", "target"),
    [
        *[(p, REPO / "deploy" / "prometheus" / "rules" / p.name)
          for p in sorted((CONFIG / "prometheus").glob("*.rules"))],
        *[(p, REPO / "dashboards" / "json" / "OpenStack" / p.name)
          for p in sorted((CONFIG / "grafana" / "dashboards" / "OpenStack").glob("*.json"))],
        (CONFIG / "grafana" / "provisioning.yaml", REPO / "dashboards" / "provisioning.yaml"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else str(v),
)  # fmt: skip
def test_rules_and_dashboards_are_links_to_the_project_copies(link: Path, target: Path) -> None:
    assert link.is_symlink()
    assert link.resolve() == target.resolve()


def test_every_rule_file_and_dashboard_is_there() -> None:
    rules = {p.name for p in (REPO / "deploy" / "prometheus" / "rules").glob("*.rules")}
    assert {p.name for p in (CONFIG / "prometheus").glob("*.rules")} == rules
    boards = sorted((CONFIG / "grafana" / "dashboards" / "OpenStack").glob("*.json"))
    source = sorted((REPO / "dashboards" / "json" / "OpenStack").glob("*.json"))
    assert [p.name for p in boards] == [p.name for p in source]
    uids = [json.loads(p.read_text())["uid"] for p in boards]
    assert len(set(uids)) == len(uids)


def test_globals_turn_off_kollas_own_exporters() -> None:
    settings = yaml.safe_load((KOLLA / "globals.yml").read_text())
    assert settings["enable_prometheus_openstack_exporter"] == "no"
    assert settings["enable_prometheus_libvirt_exporter"] == "no"
    clouds = yaml.safe_load((KOLLA / "clouds.yaml").read_text())["clouds"]["monitoring"]
    assert clouds["interface"] == "internal"
    assert clouds["api_timeout"] > 0
