"""The committed dashboard JSON is what dashboards/ generates, and has what Grafana needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import build
from dashboards.faults import FAULT_PANELS

FILES = sorted(build.OUT.glob("*.json"))


def _panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in model["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def test_committed_json_is_what_the_code_generates() -> None:
    assert build.differences() == [], "run `python -m dashboards` and commit the result"


def test_every_module_has_its_own_file_and_uid() -> None:
    models = build.dashboards()
    assert sorted(models) == [p.name for p in FILES]
    uids = [m["uid"] for m in models.values()]
    assert len(set(uids)) == len(uids) == len(build.MODULES)
    assert {m.UID for m in build.MODULES} == set(uids)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_dashboard_has_datasource_variable_uid_units_and_ids(path: Path) -> None:
    model = json.loads(path.read_text())
    assert model["uid"]
    assert len(model["uid"]) <= 40
    assert model["id"] is None
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for var in variables.values():
        if var["type"] == "query":
            assert var["refresh"] == 2, var["name"]
            assert var["datasource"]["uid"] == "${datasource}", var["name"]
    panels = _panels(model)
    ids = [p["id"] for p in panels]
    assert len(set(ids)) == len(ids)
    assert 0 not in ids
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["description"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs, panel["title"]
        assert len(set(refs)) == len(refs), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_dashboards_link_to_each_other_by_tag() -> None:
    for path in FILES:
        model = json.loads(path.read_text())
        tags = [link["tags"] for link in model["links"]]
        assert ["openstack-telemetry"] in tags, path.name
        assert "openstack-telemetry" in model["tags"]


def test_fault_panels_name_real_panels() -> None:
    titles = {(m["uid"], p["title"]) for m in build.dashboards().values() for p in _panels(m)}
    for key, fault in FAULT_PANELS.items():
        assert key in titles, key
        assert fault in {"agent_down", "collector_failing", "alertmanager_down"}


def test_provisioning_file_reads_the_folders() -> None:
    config = yaml.safe_load((build.ROOT / "provisioning.yaml").read_text())
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == ""
    assert provider["options"]["foldersFromFilesStructure"] is True
    assert build.OUT.parent.name == "json"
    assert build.OUT.name == "OpenStack"
