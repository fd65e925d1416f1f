"""The libvirt collector as a plug-in: its flag, its config section, its runner."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.collectors.plugin import Flag, Options, RunnerSpec, read_schedule
from otb_common.section import Section

URI = Flag(
    "--libvirt.uri",
    metavar="URI",
    help="libvirt URI, opened read-only (default qemu:///system)",
)


@dataclass(frozen=True, slots=True)
class LibvirtConfig:
    uri: str = "qemu:///system"
    interval: float = 15.0
    timeout: float = 10.0


class LibvirtPlugin:
    """On by default: every hypervisor runs it, and ``qemu:///system`` needs no setting."""

    name = "libvirt"
    enabled_by_default = True
    flags = (URI,)

    def configure(self, section: Section, options: Options, enabled: bool) -> LibvirtConfig:
        defaults = LibvirtConfig()
        uri = section.string("uri", defaults.uri)
        interval, timeout = read_schedule(section, defaults.interval, defaults.timeout)
        return LibvirtConfig(uri=options.get(URI.dest) or uri, interval=interval, timeout=timeout)

    def runners(self, config: LibvirtConfig) -> list[RunnerSpec]:
        from exporter.collectors.libvirt.collector import (  # noqa: PLC0415 - libvirt-python loads only where this collector runs
            LibvirtCollector,
        )

        return [RunnerSpec(LibvirtCollector(config.uri), config.interval, config.timeout)]


PLUGIN = LibvirtPlugin()
