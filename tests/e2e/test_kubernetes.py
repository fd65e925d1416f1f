"""deploy/kubernetes/ rendered by ``kubectl kustomize`` (no cluster here) and checked for what a
cluster would only find out at run time: references between objects, probes, selectors, the
security context, and the programs' own flags and configuration, read by their own parsers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts import cli as bridge_cli
from alerts.config import build_config as bridge_config
from exporter import cli as exporter_cli
from tests.support.exporter import REPO
from tests.support.servers import require

KUSTOMIZE = REPO / "deploy" / "kubernetes"
IMAGE = "localhost/openstack-telemetry-bridge:latest"
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    require(kubectl is not None, "kubectl (Debian package kubernetes-client) is not installed")
    assert kubectl is not None
    done = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZE / "example")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def of_kind(docs: list[dict[str, Any]], *kinds: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in kinds]


def named(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in of_kind(docs, kind)}


def test_every_object_is_there_in_the_namespace(rendered: list[dict[str, Any]]) -> None:
    kinds = sorted(d["kind"] for d in rendered)
    assert kinds.count("Service") == 3
    for kind in (*WORKLOADS, "ConfigMap", "Secret", "PodMonitor", "PodDisruptionBudget"):
        assert kind in kinds
    assert kinds.count("ServiceMonitor") == 2
    assert {d["metadata"].get("namespace") for d in rendered} == {"openstack-telemetry"}


def test_the_central_exporter_is_one_replica_never_two(rendered: list[dict[str, Any]]) -> None:
    """A second central exporter, even during a rollout, would export every series twice."""
    (central,) = of_kind(rendered, "Deployment")
    assert central["spec"]["replicas"] == 1
    assert central["spec"]["strategy"]["type"] == "Recreate"


def test_the_bridge_is_two_replicas_each_with_its_state_volume(
    rendered: list[dict[str, Any]],
) -> None:
    (bridge,) = of_kind(rendered, "StatefulSet")
    assert bridge["spec"]["replicas"] == 2
    (claim,) = bridge["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    (container,) = bridge["spec"]["template"]["spec"]["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/var/lib/aodh-alertmanager-bridge"
    assert "--state.path=/var/lib/aodh-alertmanager-bridge/state.db" in container["args"]
    assert bridge["spec"]["serviceName"] in named(rendered, "Service")


def test_pods_reference_only_what_is_rendered(rendered: list[dict[str, Any]]) -> None:
    maps, secrets = named(rendered, "ConfigMap"), named(rendered, "Secret")
    for workload in of_kind(rendered, *WORKLOADS):
        spec = workload["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        claims = {c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates", [])}
        for volume in volumes.values():
            if "configMap" in volume:
                assert volume["configMap"]["name"] in maps
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets
        for container in spec["containers"]:
            assert container["image"] == IMAGE
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            for probe in ("livenessProbe", "readinessProbe"):
                get = container[probe]["httpGet"]
                assert get["port"] in ports
                assert get["path"] in ("/healthz", "/readyz")
            for mount in container["volumeMounts"]:
                assert mount["name"] in volumes or mount["name"] in claims


def test_every_container_is_locked_down(rendered: list[dict[str, Any]]) -> None:
    for workload in of_kind(rendered, *WORKLOADS):
        spec = workload["spec"]["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        if workload["kind"] != "DaemonSet":  # libvirtd needs a uid it knows: root, no caps
            assert spec["securityContext"]["runAsNonRoot"] is True
            assert spec["securityContext"]["runAsUser"] == 10198
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]


def test_services_and_monitors_select_what_exists(rendered: list[dict[str, Any]]) -> None:
    pods = {
        w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"]
        for w in of_kind(rendered, *WORKLOADS)
    }
    ports = {
        w["metadata"]["name"]: {p["name"] for c in w["spec"]["template"]["spec"]["containers"]
                                for p in c["ports"]}
        for w in of_kind(rendered, *WORKLOADS)
    }  # fmt: skip
    services = named(rendered, "Service")
    for service in services.values():
        selector = service["spec"]["selector"]
        owners = [n for n, labels in pods.items() if selector.items() <= labels.items()]
        assert len(owners) == 1, service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports[owners[0]]
    for monitor in of_kind(rendered, "ServiceMonitor"):
        wanted = monitor["spec"]["selector"]["matchLabels"]
        chosen = [s for s in services.values() if wanted.items() <= s["metadata"]["labels"].items()]
        assert len(chosen) == 1, monitor["metadata"]["name"]
        names = {p["name"] for p in chosen[0]["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= names
    for monitor in of_kind(rendered, "PodMonitor"):
        wanted = monitor["spec"]["selector"]["matchLabels"]
        assert [n for n, labels in pods.items() if wanted.items() <= labels.items()]


def test_job_names_are_those_of_the_scrape_files(rendered: list[dict[str, Any]]) -> None:
    """A ServiceMonitor's job is its jobLabel's value on the Service, or a relabeling."""
    services = named(rendered, "Service")
    jobs = set()
    for monitor in of_kind(rendered, "ServiceMonitor", "PodMonitor"):
        spec = monitor["spec"]
        endpoints = spec.get("endpoints", spec.get("podMetricsEndpoints"))
        relabeled = [r["replacement"] for e in endpoints for r in e.get("relabelings", [])
                     if r.get("targetLabel") == "job"]  # fmt: skip
        if relabeled:
            jobs.update(relabeled)
        else:
            jobs.add(spec["selector"]["matchLabels"][spec["jobLabel"]])
    assert "openstack-telemetry-central" in {
        s["metadata"]["labels"]["app.kubernetes.io/name"] for s in services.values()
    }
    plain = set()
    for path in (REPO / "deploy" / "prometheus").glob("*.yml"):
        plain |= {j["job_name"] for j in yaml.safe_load(path.read_text())["scrape_configs"]}
    assert jobs == plain


def test_the_programs_accept_their_flags_and_configuration(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    (config_map,) = of_kind(rendered, "ConfigMap")
    for name, text in config_map["data"].items():
        (tmp_path / name).write_text(text)
    for workload in of_kind(rendered, *WORKLOADS):
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        (program,) = container["command"]
        args = [
            a.replace("/etc/openstack-telemetry-bridge", str(tmp_path)) for a in container["args"]
        ]
        if program == "aodh-alertmanager-bridge":
            config = bridge_config(bridge_cli.parse_flags(args))
            assert len(config.alertmanagers) == 2
        else:
            assert program == "openstack-telemetry-exporter"
            exporter_cli.parse_flags(args)
