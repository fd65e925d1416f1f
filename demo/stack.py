"""The whole monitoring stack on a running testbed: what Grafana's dashboards read.

``Stack(bed, base_dir, fast=...)`` starts, next to a testbed (testbed/bed.py) that runs the
OpenStack set and both Alertmanagers:

- a hypervisor exporter on libvirt's test driver, with one domain per Nova server of the
  testbed (its uuid, names, owner and flavor, as Nova defines it) and a few demo domains;
- the central exporter (openstack and gnocchi collectors) on the testbed's admin cloud;
- the bridge, sending to both Alertmanagers, with an Aodh alarm of its own (a copy of the
  testbed's CPU alarm, in breach while the measures feeder runs) whose actions are its webhook;
- a Prometheus scraping the three, both Alertmanagers and itself, loading the project's alert
  rules and alerting to both Alertmanagers.

Its processes and their ports are recorded in ``base_dir/state.json`` (a ``Bed`` of its own,
not the testbed's), so ``down`` stops exactly them, by pid, from this process or a later one.
``fast`` is for tests: 5 s scrapes and cycles, and every ``for`` of the rules shortened.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from openstack import connection
from openstack.config import loader
from openstack.identity.v3 import _proxy as identity_v3

from demo import nodegen
from testbed.bed import Bed, ServiceError
from testbed.services import keystone
from testbed.services import prometheus as prometheus_service

REPO = Path(__file__).resolve().parent.parent
PROMETHEUS_RULES = REPO / "deploy" / "prometheus"
DASHBOARDS = REPO / "dashboards" / "json"
ALARMS_SEED = REPO / "testbed" / "seed" / "aodh_alarms.py"
CLOUD = "testbed"
DEMO_DOMAINS = 8
"""Generated domains beside the testbed's servers: four projects of demo/nodegen.py, one
shut off, one paused."""
SHORT_FOR = "5s"
"""Every ``for`` and ``keep_firing_for`` of the rules in fast mode: one evaluation."""

# Scrape job names, as in deploy/prometheus/ (the rules select on them).
HYPERVISOR_JOB = "openstack-telemetry-exporter"
CENTRAL_JOB = "openstack-telemetry-central"
BRIDGE_JOB = "aodh-alertmanager-bridge"

# Nova status -> libvirt state of the server's domain; servers in other states have none.
_RUNSTATES = {
    "ACTIVE": nodegen.RUNNING,
    "PAUSED": nodegen.PAUSED,
    "SHUTOFF": nodegen.SHUTOFF,
    "SUSPENDED": nodegen.SHUTOFF,
}


def rule_files() -> list[Path]:
    """The project's rule pack."""
    return sorted((PROMETHEUS_RULES / "rules").glob("*.rules"))


def shortened(source: Path, target: Path, duration: str) -> Path:
    """A copy of a rule file with every ``for`` and ``keep_firing_for`` set to ``duration``."""
    doc = yaml.safe_load(source.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = duration
    target.write_text(yaml.safe_dump(doc, sort_keys=False))
    return target


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("**/*.json"))


def connect(clouds_yaml: Path, cloud: str = CLOUD) -> connection.Connection:
    config = loader.OpenStackConfig(config_files=[str(clouds_yaml)])
    return connection.Connection(config=config.get_one(cloud=cloud))


def nova_servers(conn: connection.Connection) -> list[nodegen.Server]:
    """Every server of every project that has a domain on its host, as nodegen renders it."""
    keystone = conn.identity
    if not isinstance(keystone, identity_v3.Proxy):
        raise ServiceError("demo", "Keystone's v3 API is needed to name projects and users")
    projects = {p.id: p.name for p in keystone.projects()}
    users = {u.id: u.name for u in keystone.users()}
    found: list[nodegen.Server] = []
    for server in conn.compute.servers(details=True, all_projects=True):
        state = _RUNSTATES.get(server.status)
        if state is None:
            continue
        flavor = server.flavor
        fixed = [a for addrs in (server.addresses or {}).values() for a in addrs]
        address = fixed[0] if fixed else {}
        found.append(
            nodegen.Server(
                uuid=server.id,
                name=server.name,
                domain=server.instance_name or f"instance-{server.id}",
                project_id=server.project_id,
                project_name=projects.get(server.project_id, server.project_id),
                user_id=server.user_id,
                user_name=users.get(server.user_id, server.user_id),
                flavor=nodegen.Flavor(
                    flavor.original_name or flavor.name or "unknown",
                    int(flavor.ram or 0),
                    int(flavor.vcpus or 0),
                    int(flavor.disk or 0),
                ),
                created=dt.datetime.fromisoformat(server.created_at.replace("Z", "+00:00")),
                image_id=str(getattr(server.image, "id", None) or ""),
                mac=address.get("OS-EXT-IPS-MAC:mac_addr", "fa:16:3e:00:00:01"),
                ip=address.get("addr", "10.20.0.2"),
                runstate=state,
            )
        )
    return found


def node_xml(conn: connection.Connection, demo_domains: int = DEMO_DOMAINS) -> str:
    """A test-driver node holding the testbed's servers and ``demo_domains`` more."""
    return nodegen.render_node(demo_domains, seed=0, servers=nova_servers(conn))


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    what: str


class Stack:
    """The stack's processes, started next to the testbed ``bed`` and recorded in ``base_dir``."""

    def __init__(
        self, bed: Bed, base_dir: Path, *, fast: bool, libvirt_uris: Sequence[str] = ()
    ) -> None:
        """``libvirt_uris``: more hypervisors (a real libvirtd with QEMU guests, say), each
        read by an exporter of its own in the hypervisors' job, beside the test driver's."""
        self.testbed = bed
        self.base = base_dir.resolve()
        self.fast = fast
        self.libvirt_uris = tuple(libvirt_uris)
        self.own = Bed(self.base, bed.venv)

    # -- what it offers -------------------------------------------------------------------

    @property
    def interval(self) -> str:
        """Scrape and evaluation interval of its Prometheus (and the collectors' cycles)."""
        return "5s" if self.fast else "15s"

    @property
    def interval_seconds(self) -> float:
        return float(self.interval.removesuffix("s"))

    def _url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.own.port(name)}"

    @property
    def hypervisor_url(self) -> str:
        return self._url("hypervisor-exporter")

    @property
    def hypervisor_urls(self) -> list[str]:
        """Every hypervisor exporter: the test driver's, then one per ``libvirt_uris``."""
        extra = [
            self._url(f"hypervisor-exporter-{i}") for i in range(1, len(self.libvirt_uris) + 1)
        ]
        return [self.hypervisor_url, *extra]

    @property
    def central_url(self) -> str:
        return self._url("central-exporter")

    @property
    def bridge_url(self) -> str:
        return self._url("bridge")

    @property
    def prometheus_url(self) -> str:
        return self._url("prometheus-web")

    @property
    def alertmanagers(self) -> list[str]:
        urls: list[str] = self.testbed.info("alertmanager")["urls"]
        return urls

    @property
    def alarm(self) -> dict[str, Any]:
        """``id``, ``name`` and ``webhook`` of the stack's Aodh alarm."""
        return self.own.info("alarm")

    @property
    def token(self) -> str:
        """Marks the stack's alarm actions, so that its bridge watches those alarms only."""
        try:
            token: str = self.own.info("stack")["token"]
        except KeyError:
            token = secrets.token_hex(4)
            self.own.record("stack", {"token": token})
        return token

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("prometheus", self.prometheus_url, "Prometheus (the Grafana datasource)"),
            Endpoint(
                "hypervisor",
                f"{self.hypervisor_url}/metrics",
                f"hypervisor exporter: the testbed's servers and {DEMO_DOMAINS} demo domains",
            ),
            Endpoint("central", f"{self.central_url}/metrics", "central exporter"),
            Endpoint("bridge", f"{self.bridge_url}/metrics", "aodh-alertmanager-bridge"),
            *(
                Endpoint(f"alertmanager-{i}", url, "Alertmanager (testbed)")
                for i, url in enumerate(self.alertmanagers, start=1)
            ),
        ]

    # -- starting and stopping ------------------------------------------------------------

    def running(self) -> bool:
        procs = self.own.procs()
        return bool(procs) and all(p.running for p in procs)

    def up(self) -> None:
        """Start everything, or fail with the log tail of what did not come up (then nothing
        of it is left running)."""
        if self.own.procs():
            raise ServiceError("demo", f"already started in {self.base}: run down first")
        try:
            self._start()
        except BaseException:
            self.down()
            raise

    def _start(self) -> None:
        clouds = {"OS_CLIENT_CONFIG_FILE": str(self.testbed.root / "clouds.yaml")}
        hypervisor = self.own.spawn(
            "hypervisor", "hypervisor-exporter", self._hypervisor_argv(), cwd=REPO
        )
        more = [
            (
                self.own.spawn(
                    "hypervisor", f"hypervisor-exporter-{i}", self._libvirt_argv(uri, url), cwd=REPO
                ),
                url,
            )
            for i, (uri, url) in enumerate(
                zip(self.libvirt_uris, self.hypervisor_urls[1:], strict=True), start=1
            )
        ]
        central = self.own.spawn(
            "central", "central-exporter", self._central_argv(), env=clouds, cwd=REPO
        )
        bridge = self.own.spawn("bridge", "bridge", self._bridge_argv(), env=clouds, cwd=REPO)
        prometheus_service.launch(self.own, "prometheus", self._prometheus_config())
        self._create_alarm()
        for proc, url in (
            *more,
            (hypervisor, self.hypervisor_url),
            (central, self.central_url),
            (bridge, self.bridge_url),
        ):
            self.own.wait_http(proc, f"{url}/readyz", timeout=120)

    def down(self) -> list[str]:
        """Delete the alarm and stop every recorded process; the names of those stopped."""
        try:
            alarm = self.alarm
        except KeyError:
            alarm = None
        if alarm is not None:
            try:
                self._alarms({"op": "delete", "alarm_id": alarm["id"]})
            except (ServiceError, KeyError) as exc:  # the testbed went first
                print(f"demo: alarm {alarm['name']} not deleted: {exc}", file=sys.stderr)
        return self.own.stop()

    def status(self) -> list[tuple[str, str]]:
        """Each recorded process with its state."""
        return [(p.name, "running" if p.running else "STOPPED") for p in self.own.procs()]

    # -- the parts ------------------------------------------------------------------------

    def _python(self, module: str) -> list[str]:
        """``python -m MODULE`` of this checkout (started in it), as the programs run."""
        return [sys.executable, "-m", module]

    def _hypervisor_argv(self) -> list[str]:
        base = self.own.service_dir("hypervisor")
        node = base / "node.xml"
        conn = connect(self.testbed.root / "clouds.yaml")
        try:
            node.write_text(node_xml(conn))
        finally:
            conn.close()
        return self._libvirt_argv(f"test://{node}", self.hypervisor_url)

    def _libvirt_argv(self, uri: str, url: str) -> list[str]:
        argv = [
            *self._python("exporter"),
            "--collector.libvirt",
            "--libvirt.uri",
            uri,
            "--web.listen-address",
            url.removeprefix("http://"),
        ]
        if self.fast:
            config = self.own.service_dir("hypervisor") / "exporter.yml"
            config.write_text("collectors:\n  libvirt: {interval: 5s, timeout: 5s}\n")
            argv += ["--config.file", str(config)]
        return argv

    def _central_argv(self) -> list[str]:
        argv = [
            *self._python("exporter"),
            "--no-collector.libvirt",
            "--collector.openstack",
            "--collector.gnocchi",
            "--os-cloud",
            CLOUD,
            "--web.listen-address",
            self.central_url.removeprefix("http://"),
        ]
        if self.fast:
            config = self.own.service_dir("central") / "exporter.yml"
            config.write_text(
                "collectors:\n"
                "  openstack:\n"
                "    health: {interval: 5s}\n"
                "    inventory: {interval: 15s}\n"
                "  gnocchi: {interval: 5s}\n"
            )
            argv += ["--config.file", str(config)]
        return argv

    def _bridge_argv(self) -> list[str]:
        base = self.own.service_dir("bridge")
        every = "5s" if self.fast else "30s"
        config = {"aodh": {"reconcile_interval": every, "action_match": f"demo={self.token}"}}
        (base / "bridge.yml").write_text(json.dumps(config))
        argv = [
            *self._python("alerts"),
            "--web.listen-address",
            self.bridge_url.removeprefix("http://"),
            "--os-cloud",
            CLOUD,
            "--state.path",
            str(base / "state.db"),
            "--resend-interval",
            "2s" if self.fast else "15s",
            "--config.file",
            str(base / "bridge.yml"),
        ]
        for url in self.alertmanagers:
            argv += ["--alertmanager.url", url]
        return argv

    def _rule_paths(self) -> list[str]:
        if not self.fast:
            return [str(p) for p in rule_files()]
        directory = self.own.service_dir("prometheus") / "rules"
        directory.mkdir(parents=True, exist_ok=True)
        return [str(shortened(p, directory / p.name, SHORT_FOR)) for p in rule_files()]

    def _prometheus_config(self) -> str:
        def job(name: str, *urls: str, honor_labels: bool = False) -> dict[str, Any]:
            targets = [url.removeprefix("http://") for url in urls]
            config: dict[str, Any] = {"job_name": name, "static_configs": [{"targets": targets}]}
            if honor_labels:  # as deploy/prometheus/openstack-telemetry-exporter.yml
                config["honor_labels"] = True
            return config

        managers = [url.removeprefix("http://") for url in self.alertmanagers]
        config = {
            "global": {
                "scrape_interval": self.interval,
                "scrape_timeout": self.interval,
                "evaluation_interval": self.interval,
            },
            "rule_files": self._rule_paths(),
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": managers}]}]},
            "scrape_configs": [
                job(HYPERVISOR_JOB, *self.hypervisor_urls, honor_labels=True),
                job(CENTRAL_JOB, self.central_url, honor_labels=True),
                job(BRIDGE_JOB, self.bridge_url),
                job("alertmanager", *self.alertmanagers),
                job("prometheus", self.prometheus_url),
            ],
        }
        return yaml.safe_dump(config, sort_keys=False)

    def _alarms(self, *ops: dict[str, Any]) -> list[Any]:
        """Operations of testbed/seed/aodh_alarms.py, as the testbed's admin."""
        out = self.own.python(
            "aodh",
            "alarms",
            ALARMS_SEED,
            json.dumps(list(ops)),
            env=keystone.client_env(self.testbed),
            timeout=120,
        )
        results: list[Any] = json.loads(out.strip().splitlines()[-1])
        return results

    def _create_alarm(self) -> None:
        """A copy of the testbed's CPU alarm (in breach while the feeder runs), to the bridge."""
        webhook = f"{self.bridge_url}/v1/aodh?demo={self.token}"
        name = f"demo-cpu-high-{self.token}"
        [alarm] = self._alarms(
            {
                "op": "create",
                "alarm": {
                    "name": name,
                    "type": "gnocchi_resources_threshold",
                    "severity": "moderate",
                    "description": "CPU of the testbed server above 80 % (demo stack)",
                    "repeat_actions": False,
                    "alarm_actions": [webhook],
                    "ok_actions": [webhook],
                    "gnocchi_resources_threshold_rule": dict(self.testbed.info("aodh")["rule"]),
                },
            }
        )
        self.own.record("alarm", {"id": alarm["alarm_id"], "name": name, "webhook": webhook})

    def grafana_datasource(self) -> Path:
        """A Grafana provisioning file for the stack's Prometheus."""
        path = self.own.service_dir("grafana") / "datasource.yaml"
        source = {
            "name": "openstack-telemetry-demo",
            "type": "prometheus",
            "access": "proxy",
            "url": self.prometheus_url,
            # Grafana's $__rate_interval is four of these: the scrape interval.
            "jsonData": {"timeInterval": self.interval},
        }
        path.write_text(yaml.safe_dump({"apiVersion": 1, "datasources": [source]}))
        return path
