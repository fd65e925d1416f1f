"""Turn domain stats records into metric families.

Both collection paths (bulk ``getAllDomainStats`` and the per-domain fallback) produce records
keyed like libvirt's bulk stats (``cpu.time``, ``block.0.rd.bytes``...), so this module is the
single place where names, labels and units are decided. Names and labels follow the inovex
prometheus-libvirt-exporter where we expose the same thing; deliberate differences are listed
in docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.collectors.libvirt.domainxml import DomainDescription
from exporter.metric import MetricFamily, gauge

Record = Mapping[str, Any]
# Told about a domain left out of a cycle, and why.
DomainError = Callable[[DomainDescription, Exception], None]

# Why a domain can be left out of a cycle (the ``reason`` of libvirt_domains_skipped):
# its XML could not be read or parsed, or its stats could not be read or converted.
SKIP_REASONS = ("domain_xml", "stats")

STATE_DESC = {
    0: "no state",
    1: "the domain is running",
    2: "the domain is blocked on resource",
    3: "the domain is paused by user",
    4: "the domain is being shut down",
    5: "the domain is shut off",
    6: "the domain is crashed",
    7: "the domain is suspended by guest power management",
}

KIB = 1024.0
NS = 1e-9


@dataclass(frozen=True, slots=True)
class Stat:
    """One stats field mapped to one family: ``scale`` converts to base units."""

    key: str
    name: str
    help: str
    counter: bool = False
    scale: float = 1.0


# (record key suffix under block.N., family name, help, counter, scale)
BLOCK_STATS = (
    Stat("rd.bytes", "libvirt_domain_block_stats_read_bytes_total", "Bytes read.", True),
    Stat("rd.reqs", "libvirt_domain_block_stats_read_requests_total", "Read requests.", True),
    Stat(
        "rd.times",
        "libvirt_domain_block_stats_read_time_seconds_total",
        "Time spent reading.",
        True,
        NS,
    ),
    Stat("wr.bytes", "libvirt_domain_block_stats_write_bytes_total", "Bytes written.", True),
    Stat("wr.reqs", "libvirt_domain_block_stats_write_requests_total", "Write requests.", True),
    Stat(
        "wr.times",
        "libvirt_domain_block_stats_write_time_seconds_total",
        "Time spent writing.",
        True,
        NS,
    ),
    Stat("fl.reqs", "libvirt_domain_block_stats_flush_requests_total", "Flush requests.", True),
    Stat(
        "fl.times",
        "libvirt_domain_block_stats_flush_time_seconds_total",
        "Time spent flushing.",
        True,
        NS,
    ),
    Stat(
        "capacity", "libvirt_domain_block_stats_capacity_bytes", "Logical size of the disk image."
    ),
    Stat(
        "allocation",
        "libvirt_domain_block_stats_allocation_bytes",
        "Highest written offset (or allocated extent) of the disk image.",
    ),
    Stat(
        "physical",
        "libvirt_domain_block_stats_physical_bytes",
        "Space the disk image takes on its storage.",
    ),
)

NET_STATS = tuple(
    Stat(key, f"libvirt_domain_interface_stats_{name}_total", help_, True)
    for key, name, help_ in (
        ("rx.bytes", "receive_bytes", "Bytes received."),
        ("rx.pkts", "receive_packets", "Packets received."),
        ("rx.errs", "receive_errors", "Receive errors."),
        ("rx.drop", "receive_drops", "Received packets dropped."),
        ("tx.bytes", "transmit_bytes", "Bytes sent."),
        ("tx.pkts", "transmit_packets", "Packets sent."),
        ("tx.errs", "transmit_errors", "Transmit errors."),
        ("tx.drop", "transmit_drops", "Transmitted packets dropped."),
    )
)

MEMORY_STATS = (
    Stat(
        "balloon.current",
        "libvirt_domain_memory_stats_current_balloon_bytes",
        "Current balloon size.",
        scale=KIB,
    ),
    Stat(
        "balloon.maximum",
        "libvirt_domain_memory_stats_maximum_bytes",
        "Maximum memory the domain may use.",
        scale=KIB,
    ),
    Stat(
        "balloon.swap_in",
        "libvirt_domain_memory_stats_swap_in_bytes",
        "Data the guest read from swap.",
        scale=KIB,
    ),
    Stat(
        "balloon.swap_out",
        "libvirt_domain_memory_stats_swap_out_bytes",
        "Data the guest wrote to swap.",
        scale=KIB,
    ),
    Stat(
        "balloon.major_fault",
        "libvirt_domain_memory_stats_major_fault_total",
        "Major page faults in the guest.",
        True,
    ),
    Stat(
        "balloon.minor_fault",
        "libvirt_domain_memory_stats_minor_fault_total",
        "Minor page faults in the guest.",
        True,
    ),
    Stat(
        "balloon.unused",
        "libvirt_domain_memory_stats_unused_bytes",
        "Memory the guest leaves unused.",
        scale=KIB,
    ),
    Stat(
        "balloon.available",
        "libvirt_domain_memory_stats_available_bytes",
        "Memory the guest sees.",
        scale=KIB,
    ),
    Stat(
        "balloon.usable",
        "libvirt_domain_memory_stats_usable_bytes",
        "Memory the guest can use without swapping (its MemAvailable).",
        scale=KIB,
    ),
    Stat(
        "balloon.last-update",
        "libvirt_domain_memory_stats_last_update_timestamp_seconds",
        "When the guest last updated its memory stats, in Unix time (absent until it has).",
    ),
    Stat(
        "balloon.disk_caches",
        "libvirt_domain_memory_stats_disk_caches_bytes",
        "Guest memory used for disk caches.",
        scale=KIB,
    ),
    Stat(
        "balloon.hugetlb_pgalloc",
        "libvirt_domain_memory_stats_hugetlb_pgalloc_total",
        "Successful huge page allocations in the guest.",
        True,
    ),
    Stat(
        "balloon.hugetlb_pgfail",
        "libvirt_domain_memory_stats_hugetlb_pgfail_total",
        "Failed huge page allocations in the guest.",
        True,
    ),
    Stat(
        "balloon.rss",
        "libvirt_domain_memory_stats_rss_bytes",
        "Resident memory of the hypervisor process running the domain.",
        scale=KIB,
    ),
)

VCPU_STATS = (
    Stat("state", "libvirt_domain_vcpu_state", "vCPU state: 0 offline, 1 running, 2 blocked."),
    Stat("time", "libvirt_domain_vcpu_time_seconds_total", "CPU time used by the vCPU.", True, NS),
    Stat(
        "wait",
        "libvirt_domain_vcpu_wait_seconds_total",
        "Time the vCPU wanted to run but the host ran something else.",
        True,
        NS,
    ),
    Stat(
        "delay",
        "libvirt_domain_vcpu_delay_seconds_total",
        "Time the vCPU waited in the host run queue (steal time in the guest).",
        True,
        NS,
    ),
)


class _Families:
    """Collects families by name, in a stable order of first use."""

    def __init__(self) -> None:
        self.by_name: dict[str, MetricFamily] = {}

    def family(self, name: str, help_: str, kind: str, labels: Sequence[str]) -> MetricFamily:
        fam = self.by_name.get(name)
        if fam is None:
            fam = self.by_name[name] = MetricFamily(name, help_, kind, labels)
        return fam

    def gauge(self, name: str, help_: str, labels: Sequence[str]) -> MetricFamily:
        return self.family(name, help_, "gauge", labels)

    def stat(self, stat: Stat, labels: Sequence[str]) -> MetricFamily:
        return self.family(stat.name, stat.help, "counter" if stat.counter else "gauge", labels)

    def take_back(self, marks: Sequence[int]) -> None:
        """Undo everything since ``marks`` (the row count of each family, in order) was taken:
        rows added since are dropped, families made since are forgotten."""
        for i, name in enumerate(list(self.by_name)):
            if i < len(marks):
                del self.by_name[name].rows[marks[i] :]
            else:
                del self.by_name[name]


def is_active(record: Record) -> bool:
    """Shut off (5) and no-state (0) domains have no runtime stats."""
    return int(record.get("state.state", 0)) not in (0, 5)


@dataclass(frozen=True, slots=True)
class _DomainInfo:
    """The families every domain has, made once per cycle."""

    info: MetricFamily
    openstack: MetricFamily
    state: MetricFamily
    max_mem: MetricFamily
    mem: MetricFamily
    vcpus: MetricFamily
    cpu: MetricFamily


def _domain_info(f: _Families) -> _DomainInfo:
    d = ["domain"]
    return _DomainInfo(
        info=f.gauge(
            "libvirt_domain_info",
            "Domain OS boot settings as labels; always 1.",
            ["domain", "os_type", "os_type_arch", "os_type_machine"],
        ),
        openstack=f.gauge(
            "libvirt_domain_openstack_info",
            "Nova metadata of the domain as labels (empty for non-Nova domains); always 1.",
            [
                "domain",
                "instance_name",
                "instance_id",
                "flavor_name",
                "user_name",
                "user_id",
                "project_name",
                "project_id",
            ],
        ),
        state=f.gauge(
            "libvirt_domain_info_state",
            "Domain state code (virDomainState), described in state_desc.",
            ["domain", "state_desc"],
        ),
        max_mem=f.gauge(
            "libvirt_domain_info_maximum_memory_bytes", "Maximum memory of the domain.", d
        ),
        mem=f.gauge(
            "libvirt_domain_info_memory_usage_bytes", "Memory currently given to the domain.", d
        ),
        vcpus=f.gauge("libvirt_domain_info_virtual_cpus", "Number of vCPUs online.", d),
        cpu=f.family(
            "libvirt_domain_info_cpu_time_seconds_total",
            "CPU time used by the domain.",
            "counter",
            d,
        ),
    )


def domain_families(
    domains: Sequence[tuple[DomainDescription, Record]], on_error: DomainError | None = None
) -> list[MetricFamily]:
    """Every per-domain family, for all domains of one cycle.

    A record with a value that does not convert (a string where a number belongs, a field of
    the wrong shape) costs its own domain only: the rows already added for it are taken back,
    ``on_error`` is told, and the other domains go on.
    """
    f = _Families()
    base = _domain_info(f)
    for desc, rec in domains:
        marks = [len(fam.rows) for fam in f.by_name.values()]
        try:
            _domain(f, base, desc, rec)
        except Exception as exc:  # noqa: BLE001 - whatever one record breaks, it costs its domain
            f.take_back(marks)
            if on_error is not None:
                on_error(desc, exc)
    return list(f.by_name.values())


def _domain(f: _Families, base: _DomainInfo, desc: DomainDescription, rec: Record) -> None:
    name = desc.name
    nova = desc.nova
    base.info.add([name, desc.os_type, desc.os_arch, desc.os_machine], 1.0)
    base.openstack.add(
        [
            name,
            nova.instance_name,
            desc.uuid,
            nova.flavor_name,
            nova.user_name,
            nova.user_id,
            nova.project_name,
            nova.project_id,
        ],
        1.0,
    )
    code = int(rec.get("state.state", 0))
    base.state.add([name, STATE_DESC.get(code, "unknown")], float(code))
    base.max_mem.add([name], float(rec.get("balloon.maximum", desc.max_memory_kib)) * KIB)
    base.mem.add([name], float(rec.get("balloon.current", desc.current_memory_kib)) * KIB)
    base.vcpus.add([name], float(rec.get("vcpu.current", desc.current_vcpus)))
    base.cpu.add([name], float(rec.get("cpu.time", 0)) * NS)
    if is_active(rec):
        _block(f, desc, rec)
        _net(f, desc, rec)
        _memory(f, name, rec)
        _vcpu(f, name, rec)


def _block(f: _Families, desc: DomainDescription, rec: Record) -> None:
    disks = {disk.target_device: disk for disk in desc.disks}
    labels = ["domain", "target_device"]
    info = f.gauge(
        "libvirt_domain_block_stats_info",
        "Disk configuration as labels; always 1.",
        [
            "domain",
            "disk_type",
            "target_bus",
            "driver_name",
            "driver_type",
            "driver_cache",
            "driver_discard",
            "source_file",
            "source_protocol",
            "target_device",
            "serial",
        ],
    )
    for i in range(int(rec.get("block.count", 0))):
        prefix = f"block.{i}."
        dev = str(rec.get(prefix + "name", ""))
        disk = disks.get(dev)
        if not dev or (disk is not None and disk.is_media):
            continue
        if disk is not None:
            info.add(
                [
                    desc.name,
                    disk.disk_type,
                    disk.target_bus,
                    disk.driver_name,
                    disk.driver_type,
                    disk.driver_cache,
                    disk.driver_discard,
                    disk.source_file,
                    disk.source_protocol,
                    dev,
                    disk.serial,
                ],
                1.0,
            )
        for stat in BLOCK_STATS:
            value = rec.get(prefix + stat.key)
            if value is not None:
                f.stat(stat, labels).add([desc.name, dev], float(value) * stat.scale)


def _net(f: _Families, desc: DomainDescription, rec: Record) -> None:
    nics = {nic.target_device: nic for nic in desc.interfaces}
    labels = ["domain", "target_device"]
    info = f.gauge(
        "libvirt_domain_interface_stats_info",
        "Network interface configuration as labels; always 1.",
        [
            "domain",
            "interface_type",
            "source_bridge",
            "target_device",
            "mac_address",
            "model_type",
            "mtu_size",
        ],
    )
    for i in range(int(rec.get("net.count", 0))):
        prefix = f"net.{i}."
        dev = str(rec.get(prefix + "name", ""))
        if not dev:
            continue
        nic = nics.get(dev)
        if nic is not None:
            info.add(
                [
                    desc.name,
                    nic.interface_type,
                    nic.source_bridge,
                    dev,
                    nic.mac_address,
                    nic.model_type,
                    nic.mtu_size,
                ],
                1.0,
            )
        for stat in NET_STATS:
            value = rec.get(prefix + stat.key)
            if value is not None:
                f.stat(stat, labels).add([desc.name, dev], float(value) * stat.scale)


def _memory(f: _Families, name: str, rec: Record) -> None:
    for stat in MEMORY_STATS:
        value = rec.get(stat.key)
        if value is not None and not (stat.key == "balloon.last-update" and not value):
            f.stat(stat, ["domain"]).add([name], float(value) * stat.scale)
    available = rec.get("balloon.available")
    usable = rec.get("balloon.usable")
    if available and usable is not None:  # only when computable: never NaN
        used = f.gauge(
            "libvirt_domain_memory_stats_used_percent",
            "Share of the guest's memory in use: (available - usable) / available.",
            ["domain"],
        )
        used.add([name], (float(available) - float(usable)) / float(available) * 100.0)


def _vcpu(f: _Families, name: str, rec: Record) -> None:
    for key, fam_name, help_ in (
        ("vcpu.current", "libvirt_domain_vcpu_current", "vCPUs currently online."),
        ("vcpu.maximum", "libvirt_domain_vcpu_maximum", "Maximum number of vCPUs."),
    ):
        value = rec.get(key)
        if value is not None:
            f.gauge(fam_name, help_, ["domain"]).add([name], float(value))
    maximum = int(rec.get("vcpu.maximum", rec.get("vcpu.current", 0)))
    for n in range(maximum):
        prefix = f"vcpu.{n}."
        for stat in VCPU_STATS:
            value = rec.get(prefix + stat.key)
            if value is not None:
                f.stat(stat, ["domain", "vcpu"]).add([name, str(n)], float(value) * stat.scale)


def connection_families(
    up: bool, domains: int | None, skipped: Mapping[str, int] | None = None
) -> list[MetricFamily]:
    """``libvirt_up``; with the domain count once domains were listed, and how many of them
    this cycle had to leave out, by reason (0 for every reason when none)."""
    out: list[MetricFamily] = [
        gauge(
            "libvirt_up",
            "Whether the connection to libvirt works (1) or not (0).",
            value=1.0 if up else 0.0,
        )
    ]
    if domains is not None:
        out.append(
            gauge("libvirt_domains", "Number of domains, in any state.", value=float(domains))
        )
        left_out = gauge(
            "libvirt_domains_skipped",
            "Domains whose series the last cycle left out because their data could not be "
            "read or converted, by reason (domain_xml, stats); the log names them.",
            ["reason"],
        )
        for reason in SKIP_REASONS:
            left_out.add([reason], float((skipped or {}).get(reason, 0)))
        out.append(left_out)
    return out
