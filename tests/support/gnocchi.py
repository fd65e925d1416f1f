"""Gnocchi reached through a counting reverse proxy: a copy of the testbed's clouds.yaml whose
cloud sends the metric service to the proxy (``metric_endpoint_override``), so every request
a Gnocchi reader makes is seen where it reaches the server's address, with its size and
Gnocchi's time to answer (``tests/support/proxy.py``)."""

from __future__ import annotations

from pathlib import Path

import yaml


def proxied_clouds(clouds_yaml: Path, proxy_url: str, out: Path, name: str = "proxied") -> Path:
    """``out``: the clouds of ``clouds_yaml`` plus ``name``, the admin cloud ``testbed`` whose
    metric endpoint is ``proxy_url``."""
    clouds = yaml.safe_load(clouds_yaml.read_text())
    cloud = dict(clouds["clouds"]["testbed"])
    cloud["metric_endpoint_override"] = proxy_url
    clouds["clouds"][name] = cloud
    out.write_text(yaml.safe_dump(clouds))
    return out
