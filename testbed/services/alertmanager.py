"""Two Alertmanager replicas (Debian 0.25) clustered over loopback, as an HA pair runs.

Clients post to every replica (never through a balancer); the replicas gossip to
deduplicate notifications. ``launch`` starts one more replica for tests that need their own.
"""

from __future__ import annotations

import os
from typing import Any

from testbed.bed import Bed, Proc, ServiceError, http_json

REQUIRES: tuple[str, ...] = ()
BINARY = "/usr/bin/prometheus-alertmanager"
REPLICAS = 2
CONFIG = """\
# Testbed Alertmanager: every alert goes to a receiver that notifies nobody.
route:
  receiver: blackhole
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: blackhole
"""


def launch(
    bed: Bed,
    name: str,
    *,
    peers: list[str] | None = None,
    config: str = CONFIG,
    resolve_timeout: str | None = None,
) -> tuple[Proc, str, str]:
    """Start replica ``name``; returns its process, API URL and cluster address."""
    if not os.access(BINARY, os.X_OK):
        raise ServiceError("alertmanager", f"{BINARY} missing (Debian prometheus-alertmanager)")
    base = bed.service_dir("alertmanager") / name
    base.mkdir(parents=True, exist_ok=True)
    text = config
    if resolve_timeout is not None:
        text = f"global:\n  resolve_timeout: {resolve_timeout}\n{config}"
    (base / "alertmanager.yml").write_text(text)
    web, cluster = bed.port(f"{name}-web"), bed.port(f"{name}-cluster")
    argv = [
        BINARY,
        f"--config.file={base / 'alertmanager.yml'}",
        f"--storage.path={base / 'data'}",
        f"--web.listen-address=127.0.0.1:{web}",
        f"--cluster.listen-address=127.0.0.1:{cluster}",
        f"--cluster.advertise-address=127.0.0.1:{cluster}",
        "--cluster.gossip-interval=200ms",
        "--cluster.pushpull-interval=5s",
        "--log.level=warn",
    ]
    argv += [f"--cluster.peer={peer}" for peer in peers or []]
    proc = bed.spawn("alertmanager", name, argv)
    url = f"http://127.0.0.1:{web}"
    bed.wait_http(proc, f"{url}/-/ready", timeout=30)
    return proc, url, f"127.0.0.1:{cluster}"


def _peers(url: str) -> int:
    status, body, _ = http_json("GET", f"{url}/api/v2/status", timeout=5)
    if status != 200 or not isinstance(body, dict):
        return 0
    cluster: dict[str, Any] = body.get("cluster") or {}
    return len(cluster.get("peers") or [])


def start(bed: Bed) -> None:
    urls: list[str] = []
    addresses: list[str] = []
    procs: list[Proc] = []
    for index in range(REPLICAS):
        proc, url, address = launch(bed, f"alertmanager-{index + 1}", peers=addresses[:1])
        procs.append(proc)
        urls.append(url)
        addresses.append(address)
    for proc, url in zip(procs, urls, strict=True):

        def clustered(url: str = url) -> bool:
            return _peers(url) == REPLICAS

        bed.wait(proc, f"{url} sees {REPLICAS} cluster peers", clustered)
    bed.record("alertmanager", {"url": urls[0], "urls": urls, "cluster": addresses})


def healthy(bed: Bed) -> bool:
    urls: list[str] = bed.info("alertmanager")["urls"]
    try:
        return all(_peers(url) == REPLICAS for url in urls)
    except OSError:
        return False
