"""deploy/kolla/ as kolla-ansible uses it. The config tree is copied as the docs say
(``cp -rL``), our prometheus.yml.d file is rendered with kolla's inventory variables and merged
into kolla's own prometheus.yml for an all-in-one host as its merge_yaml action does, the rule
files are laid out beside it as kolla's container has them, and promtool loads the result. The
rule files, dashboards, provisioning.yaml and Alertmanager route are links to the project's own
copies, so their content is tested where it lives (test_rule_pack.py, test_dashboards_*.py,
test_deploy.py); here, that the links resolve and that kolla takes them as they are."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.exporter import REPO
from tests.support.kolla import Inventory, has_template_markup, merge_yaml, render_sources
from tests.support.promtool import promtool
from tests.support.quadlet import run_options

KOLLA = REPO / "deploy" / "kolla"
CONFIG = KOLLA / "config"
SCRAPE_FILES = sorted((CONFIG / "prometheus" / "prometheus.yml.d").glob("*.yml"))
RULE_LINKS = sorted((CONFIG / "prometheus").glob("*.rules"))
DASHBOARD_LINKS = sorted((CONFIG / "grafana" / "dashboards" / "OpenStack").glob("*.json"))
# kolla-ansible's prometheus.yml.j2 rendered for an all-in-one host (see its header).
AIO_PROMETHEUS = REPO / "tests" / "fixtures" / "kolla_prometheus_aio.yml"
AIO = Inventory(groups={"compute": ["aio"], "control": ["aio"]}, api={"aio": "192.0.2.10"})

# Where kolla's containers find what it copies (its prometheus-server.json.j2 and
# grafana.json.j2): the rules beside prometheus.yml, the dashboards in one folder.
PROMETHEUS_DIR = "/etc/prometheus"
GRAFANA_DASHBOARDS = "/var/lib/grafana/dashboards"


def jobs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in config["scrape_configs"]}


def targets(job: dict[str, Any]) -> list[str]:
    return [target for group in job["static_configs"] for target in group["targets"]]


def test_an_all_in_one_prometheus_yml_with_our_jobs_and_rules_loads(tmp_path: Path) -> None:
    etc_kolla_config = tmp_path / "etc-kolla-config"
    shutil.copytree(CONFIG, etc_kolla_config)  # follows the links, as cp -rL does
    # kolla finds the *.rules files at the top of config/prometheus/, renders rule_files from
    # them, and copies each into the container's /etc/prometheus/.
    found = sorted(p.name for p in (etc_kolla_config / "prometheus").glob("*.rules"))
    kolla = yaml.safe_load(AIO_PROMETHEUS.read_text())
    assert kolla["rule_files"] == [f"{PROMETHEUS_DIR}/{name}" for name in found], (
        "the fixture's rule_files are kolla's for the shipped rule files: re-record it"
    )
    scrape_files = sorted((etc_kolla_config / "prometheus" / "prometheus.yml.d").glob("*.yml"))
    merged = merge_yaml(kolla, render_sources(scrape_files, AIO))

    container = tmp_path / "prometheus"
    container.mkdir()
    for name in found:
        shutil.copyfile(etc_kolla_config / "prometheus" / name, container / name)
    # The same layout under the test's directory instead of the container's /etc/prometheus.
    merged["rule_files"] = [str(container / Path(rule).name) for rule in merged["rule_files"]]
    (container / "prometheus.yml").write_text(yaml.safe_dump(merged))
    checked = promtool("check", "config", str(container / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(found)} rule files found" in checked.stdout + checked.stderr

    by_name = jobs(merged)
    # kolla's own jobs stay; ours come after them.
    assert list(by_name)[:4] == ["prometheus", "node", "openstack_exporter", "libvirt_exporter"]
    assert targets(by_name["openstack-telemetry-exporter"]) == ["192.0.2.10:10198"]
    assert targets(by_name["openstack-telemetry-central"]) == ["192.0.2.10:10197"]
    assert targets(by_name["aodh-alertmanager-bridge"]) == ["192.0.2.10:10199"]


def test_our_jobs_are_those_of_the_plain_scrape_files() -> None:
    """Same names, intervals, timeouts and honor_labels as deploy/prometheus/*.yml (the rule
    pack and the dashboards select on the job names), and the same ports."""
    plain: dict[str, dict[str, Any]] = {}
    for path in sorted((REPO / "deploy" / "prometheus").glob("*.yml")):
        plain.update(jobs(yaml.safe_load(path.read_text())))
    ours = jobs(render_sources(SCRAPE_FILES, AIO))
    assert sorted(ours) == sorted(plain)
    for name, job in ours.items():
        for key in ("scrape_interval", "scrape_timeout", "honor_labels"):
            assert job.get(key) == plain[name].get(key), (name, key)
        ports = {target.rsplit(":", 1)[1] for target in targets(job)}
        assert ports == {target.rsplit(":", 1)[1] for target in targets(plain[name])}, name


def test_a_multinode_inventory_gives_every_compute_host_a_target() -> None:
    inventory = Inventory(
        groups={"compute": ["c1", "c2", "c3"], "control": ["k1", "k2", "k3"]},
        api={"c1": "10.0.0.11", "c2": "10.0.0.12", "c3": "fd00::13"}
        | {"k1": "10.0.0.1", "k2": "10.0.0.2", "k3": "10.0.0.3"},
    )
    found = jobs(render_sources(SCRAPE_FILES, inventory))
    assert targets(found["openstack-telemetry-exporter"]) == [
        "10.0.0.11:10198",
        "10.0.0.12:10198",
        "[fd00::13]:10198",
    ]
    assert targets(found["openstack-telemetry-central"]) == ["10.0.0.1:10197"]
    assert targets(found["aodh-alertmanager-bridge"]) == ["10.0.0.1:10199"]


def test_globals_and_host_variables_move_the_targets() -> None:
    """openstack_telemetry_central_host and aodh_alertmanager_bridge_hosts (globals.yml) place
    ours; a host's prometheus_target_address replaces its api address, as in kolla's jobs."""
    inventory = Inventory(
        groups={"compute": ["c1"], "control": ["k1", "k2", "k3"]},
        api={"c1": "10.0.0.11", "k1": "10.0.0.1", "k2": "10.0.0.2", "k3": "10.0.0.3"},
        hostvars={"c1": {"prometheus_target_address": "172.16.0.11"}},
        variables={
            "openstack_telemetry_central_host": "k3",
            "aodh_alertmanager_bridge_hosts": ["k1", "k2"],
        },
    )
    found = jobs(render_sources(SCRAPE_FILES, inventory))
    assert targets(found["openstack-telemetry-exporter"]) == ["172.16.0.11:10198"]
    assert targets(found["openstack-telemetry-central"]) == ["10.0.0.3:10197"]
    assert targets(found["aodh-alertmanager-bridge"]) == ["10.0.0.1:10199", "10.0.0.2:10199"]
    # The variables in globals.yml are the ones the scrape file reads.
    uncommented = re.sub(r"^#(?=[a-z_]+: )", "", (KOLLA / "globals.yml").read_text(), flags=re.M)
    settings = yaml.safe_load(uncommented)
    assert set(inventory.variables) <= set(settings)


@pytest.mark.parametrize("link", RULE_LINKS, ids=[p.name for p in RULE_LINKS])
def test_every_rule_file_is_a_link_to_the_rule_pack_that_promtool_accepts(link: Path) -> None:
    assert link.is_symlink()
    assert link.resolve() == (REPO / "deploy" / "prometheus" / "rules" / link.name).resolve()
    checked = promtool("check", "rules", str(link))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_whole_rule_pack_is_linked() -> None:
    pack = sorted(p.name for p in (REPO / "deploy" / "prometheus" / "rules").glob("*.rules"))
    assert [p.name for p in RULE_LINKS] == pack


def test_every_dashboard_is_a_link_to_the_built_json_with_a_uid_of_its_own() -> None:
    built = sorted((REPO / "dashboards" / "json" / "OpenStack").glob("*.json"))
    assert [p.name for p in DASHBOARD_LINKS] == [p.name for p in built]
    uids = []
    for link in DASHBOARD_LINKS:
        assert link.is_symlink()
        assert link.resolve() == (REPO / "dashboards" / "json" / "OpenStack" / link.name).resolve()
        uids.append(json.loads(link.read_text())["uid"])
    assert len(set(uids)) == len(uids), uids


def test_grafana_provisioning_keeps_the_folder_where_kolla_mounts_the_dashboards() -> None:
    link = CONFIG / "grafana" / "provisioning.yaml"
    assert link.is_symlink()
    assert link.resolve() == (REPO / "dashboards" / "provisioning.yaml").resolve()
    (provider,) = yaml.safe_load(link.read_text())["providers"]
    assert provider["options"] == {"path": GRAFANA_DASHBOARDS, "foldersFromFilesStructure": True}
    assert provider["folder"] == ""


@pytest.mark.parametrize(
    "path",
    [CONFIG / "grafana" / "provisioning.yaml", KOLLA / "prometheus-alertmanager.yml"],
    ids=lambda p: p.name,
)
def test_files_kolla_templates_hold_no_template_markup(path: Path) -> None:
    """kolla passes provisioning.yaml and prometheus-alertmanager.yml through Ansible's
    template module: Jinja in them would be rendered, or fail."""
    assert path.resolve().is_file()
    assert not has_template_markup(path.read_text())


def test_the_alertmanager_file_is_the_projects_route() -> None:
    link = KOLLA / "prometheus-alertmanager.yml"
    assert link.is_symlink()
    assert link.resolve() == (REPO / "deploy" / "alertmanager" / "aodh-route.yml").resolve()
    # Outside config/: `cp -rL config/.` must not replace an Alertmanager configuration the
    # operator already keeps in /etc/kolla/config/prometheus/.
    assert not (CONFIG / "prometheus" / link.name).exists()


def test_globals_turn_off_kollas_own_exporters_and_clouds_yaml_is_internal() -> None:
    settings = yaml.safe_load((KOLLA / "globals.yml").read_text())
    assert settings == {
        "enable_prometheus_openstack_exporter": "no",
        "enable_prometheus_libvirt_exporter": "no",
    }
    clouds = yaml.safe_load((KOLLA / "clouds.yaml").read_text())["clouds"]["monitoring"]
    assert clouds["interface"] == "internal"
    assert clouds["region_name"]
    assert clouds["api_timeout"] > 0


# `docker run` options of the docs' commands: those that take a value, and switches. What only
# Docker needs (detaching, a name, a restart policy) has no part in the comparison.
_DOCKER_VALUED = {"--network", "--user", "--cap-drop", "--security-opt", "--volume"}
_DOCKER_IGNORED_VALUED = {"--name", "--restart"}
_DOCKER_SWITCHES = {"--read-only"}


def docker_runs(markdown: str) -> dict[str, tuple[str, list[str], list[str]]]:
    """The `docker run` commands of the kolla-ansible section: container name to (image,
    options as `podman run` takes them from a Quadlet unit, command)."""
    section = markdown.split("\n## kolla-ansible, step by step\n", 1)[1].split("\n## ", 1)[0]
    runs: dict[str, tuple[str, list[str], list[str]]] = {}
    for line in section.replace("\\\n", " ").splitlines():
        if not line.strip().startswith("docker run "):
            continue
        words = shlex.split(line.strip())
        name, options, rest = "", [], words[2:]
        while rest[0].startswith("-"):
            option = {"-v": "--volume"}.get(rest[0], rest[0])
            if option in _DOCKER_SWITCHES | {"-d"}:
                options += [option] if option != "-d" else []
                rest = rest[1:]
                continue
            assert option in _DOCKER_VALUED | _DOCKER_IGNORED_VALUED, option
            if option == "--name":
                name = rest[1]
            elif option in _DOCKER_VALUED:
                options.append(f"{option}={rest[1]}")
            rest = rest[2:]
        runs[name] = (rest[0], options, rest[1:])
    return runs


def test_the_docs_docker_commands_run_what_the_quadlet_units_run() -> None:
    runs = docker_runs((REPO / "docs" / "deployment.md").read_text())
    units = sorted(p.stem for p in (REPO / "deploy" / "quadlet").glob("*.container"))
    assert sorted(runs) == units
    for name, (image, options, command) in runs.items():
        unit_image, unit_options, unit_command = run_options(f"{name}.container")
        assert image == unit_image, name
        assert sorted(options) == sorted(unit_options), name
        assert command == unit_command, name
