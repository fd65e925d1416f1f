"""The libvirt collector: one bulk stats call per cycle, per-domain calls where unsupported."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import libvirt

from exporter.collectors.base import Collection
from exporter.collectors.libvirt.connection import LibvirtConnection, error_text, redact_uri
from exporter.collectors.libvirt.domainxml import DomainDescription, parse_domain_xml
from exporter.collectors.libvirt.families import connection_families, domain_families
from exporter.collectors.libvirt.records import per_domain_record

log = logging.getLogger(__name__)

STATS_GROUPS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_VCPU
    | libvirt.VIR_DOMAIN_STATS_INTERFACE
    | libvirt.VIR_DOMAIN_STATS_BLOCK
)
# ENFORCE makes a driver that cannot give these groups say so instead of returning only the
# state; NOWAIT skips stats of a domain busy in a job (migration) instead of waiting on it.
BULK_FLAGS = (
    libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS
    | libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
)
UNSUPPORTED = {libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED, libvirt.VIR_ERR_NO_SUPPORT}


@dataclass(slots=True)
class _Cached:
    desc: DomainDescription
    state: int
    devices: frozenset[str]


def _stat_devices(rec: dict[str, Any]) -> frozenset[str]:
    names = [rec.get(f"block.{i}.name") for i in range(int(rec.get("block.count", 0)))]
    names += [rec.get(f"net.{i}.name") for i in range(int(rec.get("net.count", 0)))]
    return frozenset(str(n) for n in names if n)


class DescriptionCache:
    """Domain XML parsed once per UUID; re-read when the domain's state or devices change.

    A state change covers Nova's resize and rebuild (the domain is redefined while shut off);
    a device change covers volume and port hot-plug.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Cached] = {}

    def get(
        self, dom: libvirt.virDomain, state: int, devices: frozenset[str] | None
    ) -> DomainDescription:
        uuid = dom.UUIDString()
        entry = self._entries.get(uuid)
        if (
            entry is not None
            and entry.state == state
            and (devices is None or devices <= entry.devices)
        ):
            return entry.desc
        desc = parse_domain_xml(dom.XMLDesc(0))
        known = frozenset(d.target_device for d in desc.disks) | frozenset(
            i.target_device for i in desc.interfaces
        )
        self._entries[uuid] = _Cached(desc, state, known)
        return desc

    def keep_only(self, uuids: set[str]) -> None:
        for uuid in set(self._entries) - uuids:
            del self._entries[uuid]

    def __len__(self) -> int:
        return len(self._entries)


class LibvirtCollector:
    name = "libvirt"

    def __init__(
        self,
        uri: str,
        connect: Callable[[str], LibvirtConnection] = LibvirtConnection,
    ) -> None:
        self._conn = connect(uri)
        self._uri = uri
        self._cache = DescriptionCache()
        self._bulk: bool | None = None  # unknown until the driver has been asked once

    @property
    def mode(self) -> str:
        return {None: "unknown", True: "bulk", False: "per-domain"}[self._bulk]

    def collect(self) -> Collection:
        try:
            conn = self._conn.get()
        except libvirt.libvirtError as exc:
            return Collection(
                connection_families(False, None),
                error=f"cannot connect to {redact_uri(self._uri)}: {error_text(exc)}",
            )
        try:
            domains = self._read(conn)
        except libvirt.libvirtError as exc:
            if self._conn.alive():
                return Collection(connection_families(True, None), error=error_text(exc))
            self._conn.reset()
            self._bulk = None
            return Collection(
                connection_families(False, None),
                error=f"libvirt connection lost: {error_text(exc)}",
            )
        self._cache.keep_only({desc.uuid for desc, _ in domains})
        domains.sort(key=lambda item: item[0].name)  # stable output, whatever the driver's order
        return Collection(connection_families(True, len(domains)) + domain_families(domains))

    def _read(self, conn: libvirt.virConnect) -> list[tuple[DomainDescription, dict[str, Any]]]:
        if self._bulk is not False:
            try:
                records = conn.getAllDomainStats(STATS_GROUPS, BULK_FLAGS)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() not in UNSUPPORTED:
                    raise
                log.info(
                    "driver has no bulk domain stats; reading domains one by one",
                    extra={"uri": redact_uri(self._uri), "reason": error_text(exc)},
                )
                self._bulk = False
            else:
                self._bulk = True
                return self._describe_bulk(records)
        return self._per_domain(conn)

    def _describe_bulk(
        self, records: list[tuple[libvirt.virDomain, dict[str, Any]]]
    ) -> list[tuple[DomainDescription, dict[str, Any]]]:
        out = []
        for dom, rec in records:
            try:
                desc = self._cache.get(dom, int(rec.get("state.state", 0)), _stat_devices(rec))
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    continue  # undefined between the stats call and this one
                raise
            out.append((desc, rec))
        return out

    def _per_domain(
        self, conn: libvirt.virConnect
    ) -> list[tuple[DomainDescription, dict[str, Any]]]:
        out = []
        for dom in conn.listAllDomains(0):
            try:
                info = dom.info()
                desc = self._cache.get(dom, info[0], None)
                rec = per_domain_record(dom, desc, info)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    continue
                raise
            out.append((desc, rec))
        return out

    def close(self) -> None:
        self._conn.reset()
