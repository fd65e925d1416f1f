"""The libvirt collector: one bulk stats call per cycle, per-domain calls where unsupported."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import libvirt

from exporter.collectors.base import Collection
from exporter.collectors.libvirt.connection import LibvirtConnection, error_text, redact_uri
from exporter.collectors.libvirt.domainxml import DomainDescription, parse_domain_xml
from exporter.collectors.libvirt.families import connection_families, domain_families
from exporter.collectors.libvirt.records import per_domain_record
from exporter.metric import MetricFamily

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
ERROR_TEXT_MAX = 300  # a parser message can quote a long line; the log line stays short

Domains = list[tuple[DomainDescription, dict[str, Any]]]


@dataclass(slots=True)
class _Cached:
    desc: DomainDescription
    state: int
    devices: frozenset[str]


def _stat_devices(rec: dict[str, Any]) -> frozenset[str]:
    names = [rec.get(f"block.{i}.name") for i in range(int(rec.get("block.count", 0)))]
    names += [rec.get(f"net.{i}.name") for i in range(int(rec.get("net.count", 0)))]
    return frozenset(str(n) for n in names if n)


@dataclass(frozen=True, slots=True)
class _Skip:
    name: str
    reason: str
    error: str


@dataclass(slots=True)
class _Skips:
    """The domains one cycle leaves out, by UUID: each costs its own series, nothing more."""

    by_uuid: dict[str, _Skip] = field(default_factory=dict)

    def add(self, uuid: str, name: str, reason: str, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        self.by_uuid[uuid] = _Skip(name, reason, error[:ERROR_TEXT_MAX])

    def add_domain(self, dom: libvirt.virDomain, reason: str, exc: Exception) -> None:
        self.add(dom.UUIDString(), dom.name(), reason, exc)  # local calls, no RPC

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for skip in self.by_uuid.values():
            out[skip.reason] = out.get(skip.reason, 0) + 1
        return out


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
        self._warned: dict[str, str] = {}  # UUID -> reason, of the domains skipped last cycle

    @property
    def mode(self) -> str:
        return {None: "unknown", True: "bulk", False: "per-domain"}[self._bulk]

    def collect(self) -> Collection:
        try:
            return self._collect()
        except Exception as exc:
            # A bug, or data nobody foresaw: fail the cycle, but keep what is still known.
            log.exception("libvirt cycle failed unexpectedly", extra={"collector": self.name})
            return Collection(self.fallback(), error=f"internal error: {type(exc).__name__}")

    def fallback(self) -> list[MetricFamily]:
        """``libvirt_up`` from the connection's own state (a local check, no call to libvirtd)."""
        return connection_families(self._conn.alive(), None)

    def _collect(self) -> Collection:
        try:
            conn = self._conn.get()
        except libvirt.libvirtError as exc:
            return Collection(
                connection_families(False, None),
                error=f"cannot connect to {redact_uri(self._uri)}: {error_text(exc)}",
            )
        skips = _Skips()
        try:
            domains = self._read(conn, skips)
        except libvirt.libvirtError as exc:
            if self._conn.alive():
                return Collection(connection_families(True, None), error=error_text(exc))
            self._conn.reset()
            self._bulk = None
            return Collection(
                connection_families(False, None),
                error=f"libvirt connection lost: {error_text(exc)}",
            )
        read = len(domains) + len(skips.by_uuid)
        self._cache.keep_only({desc.uuid for desc, _ in domains} | set(skips.by_uuid))
        domains.sort(key=lambda item: item[0].name)  # stable output, whatever the driver's order

        def bad_record(desc: DomainDescription, exc: Exception) -> None:
            skips.add(desc.uuid, desc.name, "stats", exc)

        families = domain_families(domains, on_error=bad_record)
        self._report(skips)
        return Collection(connection_families(True, read, skips.counts()) + families)

    def _report(self, skips: _Skips) -> None:
        """Warn once about each domain left out; again only after it was fine in between."""
        for uuid, skip in skips.by_uuid.items():
            fields = {"uuid": uuid, "domain": skip.name, "reason": skip.reason, "err": skip.error}
            if self._warned.get(uuid) == skip.reason:
                log.debug("domain still skipped", extra=fields)
            else:
                log.warning("domain skipped: its data cannot be read", extra=fields)
        self._warned = {uuid: skip.reason for uuid, skip in skips.by_uuid.items()}

    def _read(self, conn: libvirt.virConnect, skips: _Skips) -> Domains:
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
                return self._describe_bulk(records, skips)
        return self._per_domain(conn, skips)

    # In both paths a libvirtError is about the connection (re-raised) or a domain undefined
    # meanwhile (left out, it no longer exists); anything else is about this domain's data:
    # the domain is skipped, the others go on.

    def _describe_bulk(
        self, records: list[tuple[libvirt.virDomain, dict[str, Any]]], skips: _Skips
    ) -> Domains:
        out = []
        for dom, rec in records:
            try:
                state = int(rec.get("state.state", 0))
                devices = _stat_devices(rec)
            except Exception as exc:  # noqa: BLE001 - an odd record costs its domain only
                skips.add_domain(dom, "stats", exc)
                continue
            try:
                desc = self._describe(dom, state, devices, skips)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    continue  # undefined between the stats call and this one
                raise
            if desc is not None:
                out.append((desc, rec))
        return out

    def _per_domain(self, conn: libvirt.virConnect, skips: _Skips) -> Domains:
        out = []
        for dom in conn.listAllDomains(0):
            try:
                info = dom.info()
                desc = self._describe(dom, info[0], None, skips)
                if desc is None:
                    continue
                rec = per_domain_record(dom, desc, info)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    continue
                raise
            except Exception as exc:  # noqa: BLE001 - an odd answer costs its domain only
                skips.add_domain(dom, "stats", exc)
                continue
            out.append((desc, rec))
        return out

    def _describe(
        self,
        dom: libvirt.virDomain,
        state: int,
        devices: frozenset[str] | None,
        skips: _Skips,
    ) -> DomainDescription | None:
        """The cached or freshly parsed description; None (and the domain skipped) when its
        XML cannot be parsed. A libvirtError goes to the caller."""
        try:
            return self._cache.get(dom, state, devices)
        except libvirt.libvirtError:
            raise
        except Exception as exc:  # noqa: BLE001 - XML the parser refuses costs its domain only
            skips.add_domain(dom, "domain_xml", exc)
            return None

    def close(self) -> None:
        self._conn.reset()
