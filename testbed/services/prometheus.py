"""Prometheus (Debian 2.42) that scrapes itself, sends alerts to the testbed's Alertmanagers
and loads the project's rule pack, so a demo shows the whole path."""

from __future__ import annotations

import os
from pathlib import Path

from testbed.bed import Bed, Proc, ServiceError, answers

REQUIRES = ("alertmanager",)
BINARY = "/usr/bin/prometheus"
# The whole rule pack; rule_files takes a glob.
RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules" / "*.rules"


def launch(bed: Bed, name: str, config: str) -> tuple[Proc, str]:
    """Start a Prometheus with ``config`` (YAML text); returns the process and its URL."""
    if not os.access(BINARY, os.X_OK):
        raise ServiceError("prometheus", f"{BINARY} missing (Debian package prometheus)")
    base = bed.service_dir("prometheus") / name
    base.mkdir(parents=True, exist_ok=True)
    (base / "prometheus.yml").write_text(config)
    port = bed.port(f"{name}-web")
    argv = [
        BINARY,
        f"--config.file={base / 'prometheus.yml'}",
        f"--storage.tsdb.path={base / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
        "--log.level=warn",
    ]
    proc = bed.spawn("prometheus", name, argv)
    url = f"http://127.0.0.1:{port}"
    bed.wait_http(proc, f"{url}/-/ready", timeout=30)
    return proc, url


def start(bed: Bed) -> None:
    port = bed.port("prometheus-web")
    managers = ", ".join(
        f"'{url.removeprefix('http://')}'" for url in bed.info("alertmanager")["urls"]
    )
    config = (
        "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n"
        f"rule_files:\n  - {RULES}\n"
        f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [{managers}]\n"
        "scrape_configs:\n  - job_name: prometheus\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
    _, url = launch(bed, "prometheus", config)
    bed.record("prometheus", {"url": url})


def healthy(bed: Bed) -> bool:
    return answers(f"{bed.info('prometheus')['url']}/-/ready")
