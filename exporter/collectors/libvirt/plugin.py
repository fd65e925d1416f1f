"""The libvirt collector as a plug-in: its flag, its config section, its runner, its check."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.collectors.plugin import (
    CheckResult,
    Flag,
    Options,
    RunnerSpec,
    read_schedule,
    within,
)
from otb_common.extras import require
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
        if enabled:
            require("collectors.libvirt", "hypervisor", "libvirt")
        return LibvirtConfig(uri=options.get(URI.dest) or uri, interval=interval, timeout=timeout)

    def runners(self, config: LibvirtConfig) -> list[RunnerSpec]:
        from exporter.collectors.libvirt.collector import (  # noqa: PLC0415 - libvirt-python loads only where this collector runs
            LibvirtCollector,
        )

        return [RunnerSpec(LibvirtCollector(config.uri), config.interval, config.timeout)]

    def check(self, config: LibvirtConfig) -> list[CheckResult]:
        """Open the URI read-only as the collector does and list the domains, within the
        cycle's timeout (a wedged libvirtd accepts and never answers)."""
        import libvirt  # noqa: PLC0415 - as in runners

        from exporter.collectors.libvirt.connection import (  # noqa: PLC0415 - as above
            LibvirtConnection,
            error_text,
            redact_uri,
        )

        def count() -> tuple[int, int]:
            connection = LibvirtConnection(config.uri)
            try:
                domains = connection.get().listAllDomains(0)
                return len(domains), sum(1 for d in domains if d.isActive())
            finally:
                connection.reset()

        target = redact_uri(config.uri)
        try:
            total, active = within(config.timeout, count)
        except libvirt.libvirtError as exc:
            return [CheckResult(self.name, target, False, error_text(exc))]
        except TimeoutError:
            return [
                CheckResult(
                    self.name,
                    target,
                    False,
                    f"libvirt gave no answer within {config.timeout:g}s (timeout)",
                )
            ]
        noun = "domain" if total == 1 else "domains"
        return [CheckResult(self.name, target, True, f"{total} {noun}, {active} running")]


PLUGIN = LibvirtPlugin()
