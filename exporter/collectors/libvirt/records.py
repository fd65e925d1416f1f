"""Per-domain calls shaped like a bulk stats record.

Drivers without bulk stats (libvirt's ``test`` driver, some others) are read one domain at a
time; the result uses the same keys as ``virConnectGetAllDomainStats`` so the rest of the
collector does not know which path ran.
"""

from __future__ import annotations

from typing import Any

import libvirt

from exporter.collectors.libvirt.domainxml import DomainDescription

MEMORY_KEYS = {
    "swap_in": "balloon.swap_in",
    "swap_out": "balloon.swap_out",
    "major_fault": "balloon.major_fault",
    "minor_fault": "balloon.minor_fault",
    "unused": "balloon.unused",
    "available": "balloon.available",
    "usable": "balloon.usable",
    "last_update": "balloon.last-update",
    "disk_caches": "balloon.disk_caches",
    "hugetlb_pgalloc": "balloon.hugetlb_pgalloc",
    "hugetlb_pgfail": "balloon.hugetlb_pgfail",
    "rss": "balloon.rss",
}
BLOCK_FIELDS = ("rd.reqs", "rd.bytes", "wr.reqs", "wr.bytes")
NET_FIELDS = (
    "rx.bytes",
    "rx.pkts",
    "rx.errs",
    "rx.drop",
    "tx.bytes",
    "tx.pkts",
    "tx.errs",
    "tx.drop",
)
# Errors that concern one domain or one device, not the connection: skip that part only.
DOMAIN_ERRORS = {
    libvirt.VIR_ERR_NO_DOMAIN,
    libvirt.VIR_ERR_OPERATION_INVALID,
    libvirt.VIR_ERR_NO_SUPPORT,
    libvirt.VIR_ERR_INVALID_ARG,
    libvirt.VIR_ERR_OPERATION_UNSUPPORTED,
    libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,
}


def _part_failed(exc: libvirt.libvirtError) -> bool:
    """True if the error is about this domain or device; otherwise re-raise it."""
    if exc.get_error_code() in DOMAIN_ERRORS:
        return True
    raise exc


def per_domain_record(
    dom: libvirt.virDomain, desc: DomainDescription, info: list[int]
) -> dict[str, Any]:
    """Build the record from ``info`` (already read) and the remaining per-domain calls.

    Raises libvirtError only for connection-level failures or a vanished domain.
    """
    state, max_mem, mem, nr_vcpu, cpu_time = info
    rec: dict[str, Any] = {
        "state.state": state,
        "balloon.maximum": max_mem,
        "balloon.current": mem,
        "vcpu.current": nr_vcpu,
        "vcpu.maximum": desc.max_vcpus or nr_vcpu,
        "cpu.time": cpu_time,
    }
    if state in (0, libvirt.VIR_DOMAIN_SHUTOFF):
        return rec
    try:
        for key, value in dom.memoryStats().items():
            if key in MEMORY_KEYS:
                rec[MEMORY_KEYS[key]] = value
    except libvirt.libvirtError as exc:
        _part_failed(exc)
    try:
        for num, vstate, vtime, _cpu in dom.vcpus()[0]:
            rec[f"vcpu.{num}.state"] = vstate
            rec[f"vcpu.{num}.time"] = vtime
    except libvirt.libvirtError as exc:
        _part_failed(exc)
    disks = desc.stat_disks
    rec["block.count"] = len(disks)
    for i, disk in enumerate(disks):
        prefix = f"block.{i}."
        rec[prefix + "name"] = disk.target_device
        try:
            values = dom.blockStats(disk.target_device)
            rec.update(zip((prefix + k for k in BLOCK_FIELDS), values[:4], strict=True))
            # blockInfo's allocation/physical mean something else than the bulk fields of
            # the same names, so only the capacity (same meaning on both paths) is taken.
            rec[prefix + "capacity"] = dom.blockInfo(disk.target_device)[0]
        except libvirt.libvirtError as exc:
            _part_failed(exc)
    rec["net.count"] = len(desc.interfaces)
    for i, nic in enumerate(desc.interfaces):
        prefix = f"net.{i}."
        rec[prefix + "name"] = nic.target_device
        try:
            values = dom.interfaceStats(nic.target_device)
            rec.update(zip((prefix + k for k in NET_FIELDS), values, strict=True))
        except libvirt.libvirtError as exc:
            _part_failed(exc)
    return rec
