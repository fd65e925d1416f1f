"""A private Prometheus (Debian's 2.42) that a test owns: its own directory, 127.0.0.1, a free
port, stopped by PID at the end; and its HTTP API read back (rules, alerts, queries)."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from testbed.bed import free_port, http_json
from testbed.services.prometheus import BINARY
from tests.support import owned
from tests.support.exporter import ExporterProcess
from tests.support.metrics import parse_samples
from tests.support.servers import require


@dataclass
class Prometheus:
    base: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/PATH``: its ``data``, once Prometheus said ``success``."""
        query = f"?{urlencode(params)}" if params else ""
        status, body, _ = http_json("GET", f"{self.url}/api/v1/{path}{query}", timeout=10)
        assert status == 200, (path, status, body)
        assert isinstance(body, dict), body
        assert body.get("status") == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant vector: each item's ``metric`` (labels) and ``value`` ([time, "text"])."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        result: list[dict[str, Any]] = data["result"]
        return result

    def rules(self) -> list[dict[str, Any]]:
        """Every rule of every group, each with its ``group`` name added."""
        groups = self.api("rules")["groups"]
        return [{**rule, "group": g["name"]} for g in groups for rule in g["rules"]]

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (``state`` pending or firing) with their labels and annotations."""
        found: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return found

    def evaluations(self) -> dict[str, float]:
        """How often each rule group has been evaluated, by group name (Prometheus' own
        ``prometheus_rule_group_iterations_total``, whose label is ``FILE;GROUP``)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as resp:  # noqa: S310
            text = resp.read().decode()
        return {
            dict(labels)["rule_group"].rsplit(";", 1)[1]: value
            for (name, labels), value in parse_samples(text).items()
            if name == "prometheus_rule_group_iterations_total"
        }

    def log(self) -> str:
        return owned.log_tail(self.base / "prometheus.log")


def scraping(
    exporter: ExporterProcess, *, job: str, interval: str, rule_files: list[str]
) -> dict[str, Any]:
    """A configuration that scrapes ``exporter`` alone and evaluates ``rule_files`` (paths
    relative to the Prometheus directory) every ``interval``. ``honor_labels`` as in the
    scrape jobs of deploy/prometheus/."""
    return {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "evaluation_interval": interval,
        },
        "rule_files": rule_files,
        "scrape_configs": [
            {
                "job_name": job,
                "honor_labels": True,
                "static_configs": [{"targets": [f"{exporter.host}:{exporter.port}"]}],
            }
        ],
    }


@contextmanager
def private_prometheus(
    base: Path, config: Mapping[str, Any], timeout: float = 30.0
) -> Iterator[Prometheus]:
    """Prometheus with ``config`` in ``base`` (rule files named there go beside it)."""
    require(os.access(BINARY, os.X_OK), f"{BINARY} missing (Debian package prometheus)")
    base.mkdir(parents=True, exist_ok=True)
    (base / "prometheus.yml").write_text(yaml.safe_dump(dict(config), sort_keys=False))
    port = free_port()
    argv = [
        BINARY,
        f"--config.file={base / 'prometheus.yml'}",
        f"--storage.tsdb.path={base / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    proc = owned.start(argv, base / "prometheus.log", f"http://127.0.0.1:{port}/-/ready", timeout)
    try:
        yield Prometheus(base, port, proc)
    finally:
        owned.stop(proc)
