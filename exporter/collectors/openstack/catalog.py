"""The Keystone catalog as the collector reads it: which endpoints to watch, and their names.

openstack-exporter names a service's families after its own internal name (``nova``, not
``compute``); the table keeps those names so that its dashboards and alert rules still match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# Catalog type -> the internal name in ``openstack_<name>_up`` and the other families.
INTERNAL_NAMES: Mapping[str, str] = {
    "compute": "nova",
    "network": "neutron",
    "block-storage": "cinder",
    "volume": "cinder",
    "volumev2": "cinder",
    "volumev3": "cinder",
    "image": "glance",
    "identity": "identity",
    "placement": "placement",
    "orchestration": "heat",
    "load-balancer": "loadbalancer",
    "metric": "gnocchi",
    "gnocchi": "gnocchi",
    "dns": "designate",
    "baremetal": "ironic",
    "database": "trove",
    "shared-file-system": "sharev2",
    "sharev2": "sharev2",
    "container-infrastructure-management": "container_infra",
    "container-infra": "container_infra",
    "object-store": "object_store",
}

# A path segment that starts an API version (``v3``, ``v2.1``, ``v1.0``): the probe stops
# before it, at the service's root, where every OpenStack API answers its version document
# without a token.
_VERSION = re.compile(r"v\d+(\.\d+)?")


@dataclass(frozen=True, slots=True)
class Endpoint:
    service_type: str
    service_name: str
    interface: str
    region: str
    url: str

    @property
    def internal_name(self) -> str | None:
        return INTERNAL_NAMES.get(self.service_type)

    @property
    def probe_url(self) -> str:
        return root_url(self.url)


def root_url(url: str) -> str:
    """The endpoint's root: the path up to its version segment (``http://h:8774/v2.1/x`` ->
    ``http://h:8774/``; ``https://h/compute/v2.1`` -> ``https://h/compute/``)."""
    parts = urlsplit(url)
    kept: list[str] = []
    for segment in parts.path.split("/"):
        if _VERSION.fullmatch(segment) or "%(" in segment:
            break
        if segment:
            kept.append(segment)
    path = "/" + "".join(f"{s}/" for s in kept)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def normalise_interface(interface: str) -> str:
    """clouds.yaml accepts ``publicURL`` as well as ``public``; the catalog says ``public``."""
    return interface[: -len("URL")] if interface.endswith("URL") else interface


def endpoints(
    catalog: Iterable[Mapping[str, Any]],
    region: str | None,
    interface: str,
    skip: Iterable[str] = (),
) -> list[Endpoint]:
    """The catalog's endpoints of one region and interface, one per service, sorted by type."""
    wanted = normalise_interface(interface)
    skipped = set(skip)
    out: dict[str, Endpoint] = {}
    for service in catalog:
        kind = str(service.get("type") or "")
        if not kind or kind in skipped or kind in out:
            continue
        for ep in service.get("endpoints") or ():
            ep_region = str(ep.get("region_id") or ep.get("region") or "")
            if ep.get("interface") != wanted or (region and ep_region != region):
                continue
            out[kind] = Endpoint(
                service_type=kind,
                service_name=str(service.get("name") or ""),
                interface=wanted,
                region=ep_region,
                url=str(ep.get("url") or ""),
            )
            break
    return [out[k] for k in sorted(out)]
