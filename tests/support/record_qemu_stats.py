"""Record what a real QEMU domain reports, for unit tests that must not need libvirtd.

    python -m tests.support.record_qemu_stats OUTDIR [--cache-dir DIR]

Starts the private libvirtd (``tests.support.libvirtd``) with one tiny domain, lets it
boot from the network (iPXE) for a few seconds so counters move, then writes:

* ``qemu_domstats.json``: the ``getAllDomainStats`` record of that domain (read-only
  connection, STATE|CPU_TOTAL|BALLOON|VCPU|INTERFACE|BLOCK) plus its name and uuid;
* ``qemu_perdomain.json``: what the per-domain calls return, taken right after the bulk
  call, so tests can check that both code paths of the collector agree; a second bulk
  record taken right after them brackets the counters that moved in between;
* ``qemu_domain.xml``: ``XMLDesc(0)`` as a read-only client sees it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.support.libvirtd import PrivateLibvirtd, unavailable_reason

SETTLE_SECONDS = 4.0


def _stats_flags(libvirt: Any) -> dict[str, int]:
    names = ("STATE", "CPU_TOTAL", "BALLOON", "VCPU", "INTERFACE", "BLOCK")
    return {name: int(getattr(libvirt, f"VIR_DOMAIN_STATS_{name}")) for name in names}


def _jsonable(value: Any) -> Any:
    """libvirt returns tuples (vcpus, blockStats, ...); JSON wants lists."""
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _call(fn: Callable[[], Any], libvirt: Any) -> Any:
    """The call's result, or the libvirt error text (some calls refuse read-only clients)."""
    try:
        return _jsonable(fn())
    except libvirt.libvirtError as exc:
        return {"error": str(exc)}


def record(outdir: Path, cache_dir: Path | None = None) -> dict[str, float]:
    """Run one tiny domain under a private libvirtd and write the three files."""
    import libvirt  # noqa: PLC0415 - the harness checked that it is importable

    outdir.mkdir(parents=True, exist_ok=True)
    flags = _stats_flags(libvirt)
    with tempfile.TemporaryDirectory(prefix="otb-record-") as tmp:
        daemon = PrivateLibvirtd(Path(tmp), cache_dir=cache_dir)
        try:
            daemon.start()
            (dom,) = daemon.define_tiny_domains(1, net_boot=True)
            time.sleep(SETTLE_SECONDS)
            with daemon.connection(readonly=True) as conn:
                handle = conn.lookupByUUIDString(dom.uuid)
                mask = 0
                for bit in flags.values():
                    mask |= bit
                records = conn.getAllDomainStats(mask, 0)
                per_domain = {
                    "info": _call(handle.info, libvirt),
                    "memoryStats": _call(handle.memoryStats, libvirt),
                    "vcpus": _call(handle.vcpus, libvirt),
                    "blockStats": _call(lambda: handle.blockStats("vda"), libvirt),
                    "blockInfo": _call(lambda: handle.blockInfo("vda"), libvirt),
                    "interfaceStats": _call(lambda: handle.interfaceStats(dom.tap), libvirt),
                }
                records_after = conn.getAllDomainStats(mask, 0)
                xml = str(handle.XMLDesc(0))
                versions = {
                    "libvirt_version": int(conn.getLibVersion()),
                    "hypervisor_version": int(conn.getVersion()),
                }
        finally:
            daemon.close()
    stats = next(s for d, s in records if d.UUIDString() == dom.uuid)
    stats_after = next(s for d, s in records_after if d.UUIDString() == dom.uuid)
    common = {"name": dom.name, "uuid": dom.uuid, **versions}
    domstats = {**common, "stats_flags": flags, "stats": _jsonable(stats)}
    perdomain = {
        **common,
        "block_device": "vda",
        "interface_device": dom.tap,
        "calls": per_domain,
        # Counters move while the calls run: they lie between "stats" and this.
        "bulk_stats_after": _jsonable(stats_after),
    }
    (outdir / "qemu_domstats.json").write_text(json.dumps(domstats, indent=2, sort_keys=True))
    (outdir / "qemu_perdomain.json").write_text(json.dumps(perdomain, indent=2, sort_keys=True))
    (outdir / "qemu_domain.xml").write_text(xml)
    return daemon.timings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="persistent /var/cache/libvirt for the private daemon (skips QEMU probing)",
    )
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason is not None:
        sys.stderr.write(f"cannot record: {reason}\n")
        return 2
    timings = record(args.outdir, args.cache_dir)
    for what, seconds in timings.items():
        sys.stdout.write(f"{what}: {seconds:.2f}s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
