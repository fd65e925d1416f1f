"""What kolla-ansible does with the files of ``/etc/kolla/config/prometheus/``, redone small for
tests: its ``merge_yaml`` action (every source rendered as a template with the inventory's
variables, then merged: mappings key by key, lists extended, anything else replaced) and the
two address filters its prometheus.yml.j2 uses, over a fake inventory."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.runtime import Context


def merge_yaml(conf: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``update`` into ``conf`` as kolla's merge_yaml with ``extend_lists: true``: a mapping is
    merged into the one it meets, a list extends a list, anything else replaces; a list key
    meeting a non-list is an error, as in kolla."""
    for key, value in update.items():
        if isinstance(value, dict):
            conf[key] = merge_yaml(conf.get(key, {}), value)
        elif isinstance(conf.get(key), list):
            if not isinstance(value, list):
                raise ValueError(f"merging {key!r}: expected a list, got {value!r}")
            conf[key].extend(value)
        else:
            conf[key] = value
    return conf


@dataclass
class Inventory:
    """Hosts by group, each host's api address and any other host variables, and the
    deployment's variables (globals.yml)."""

    groups: dict[str, list[str]]
    api: dict[str, str]
    hostvars: dict[str, dict[str, str]] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)


@jinja2.pass_context
def _kolla_address(
    context: Context,
    network: str,
    hostname: str | None = None,
    override_var: str | None = None,
) -> str:
    # kolla's filter: the host's override_var when set (an IP address), else the address of
    # its interface on that network. The fake inventory gives the api address directly.
    host = context["hostvars"][hostname if hostname is not None else context["inventory_hostname"]]
    if override_var is not None and override_var in host:
        return str(ipaddress.ip_address(host[override_var]))
    address = host[f"{network}_address"]
    assert isinstance(address, str)
    return address


def _put_address_in_context(address: str, context: str) -> str:
    # Only the "url" context kolla's prometheus.yml.j2 uses: an IPv6 address in brackets.
    assert context == "url", context
    return f"[{address}]" if ":" in address else address


def render_sources(sources: Iterable[Path], inventory: Inventory) -> dict[str, Any]:
    """Each source rendered with the inventory, then merged in order into one document."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - YAML, not HTML
    env.filters["kolla_address"] = _kolla_address
    env.filters["put_address_in_context"] = _put_address_in_context
    hostvars = {
        host: {"api_address": address, **inventory.hostvars.get(host, {})}
        for host, address in inventory.api.items()
    }
    variables = {"groups": inventory.groups, "hostvars": hostvars, **inventory.variables}
    merged: dict[str, Any] = {}
    for source in sources:
        text = env.from_string(source.read_text()).render(variables)
        merge_yaml(merged, yaml.safe_load(text) or {})
    return merged


def has_template_markup(text: str) -> bool:
    """Whether Ansible's template module would read ``text`` as Jinja rather than copy it."""
    return any(mark in text for mark in ("{{", "{%", "{#"))
