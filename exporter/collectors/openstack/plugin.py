"""The openstack collector as a plug-in: ``--os-cloud``, ``collectors.openstack``, and two
runners (health, inventory) per cloud, each with its own snapshot part and deadline."""

from __future__ import annotations

import os

from exporter.collectors.openstack.config import OpenStackConfig, read_config
from exporter.collectors.plugin import CheckResult, Flag, Options, RunnerSpec
from otb_common.errors import ConfigError
from otb_common.extras import require
from otb_common.section import Section

OS_CLOUD = Flag(
    "--os-cloud",
    metavar="NAME",
    help="cloud in clouds.yaml (default $OS_CLOUD)",
)


class OpenStackPlugin:
    """Off by default: it runs once per cloud, centrally, not on every hypervisor."""

    name = "openstack"
    enabled_by_default = False
    flags = (OS_CLOUD,)

    def configure(self, section: Section, options: Options, enabled: bool) -> OpenStackConfig:
        if enabled:  # the libraries first: without them no setting matters
            require("collectors.openstack", "central", "openstack")
        config = read_config(
            section, options.get(OS_CLOUD.dest), os.environ.get("OS_CLOUD"), enabled
        )
        if enabled:
            for cloud in config.clouds:
                check_cloud(cloud.cloud)
        return config

    def runners(self, config: OpenStackConfig) -> list[RunnerSpec]:
        from exporter.collectors.openstack.health import (  # noqa: PLC0415 - openstacksdk loads only where this collector runs
            HealthCollector,
        )
        from exporter.collectors.openstack.inventory import (  # noqa: PLC0415 - as above
            InventoryCollector,
        )
        from exporter.collectors.openstack.session import (  # noqa: PLC0415 - as above
            CloudSession,
        )

        specs: list[RunnerSpec] = []
        for cloud in config.clouds:
            session = CloudSession(cloud)
            specs.append(RunnerSpec(HealthCollector(session), *cloud.health))
            if cloud.inventory_enabled:
                specs.append(RunnerSpec(InventoryCollector(session), *cloud.inventory))
        return specs

    def check(self, config: OpenStackConfig) -> list[CheckResult]:
        """Per cloud: Keystone, then per catalog service its probe, its authenticated checks
        and whether the role suffices for the inventory's admin calls."""
        from exporter.collectors.openstack.check import (  # noqa: PLC0415 - as in runners
            check,
        )

        return check(self.name, config)


def check_cloud(name: str, collector: str = "openstack") -> None:
    """A cloud clouds.yaml lacks is a config error (exit 2), found before serving; whether
    its Keystone answers is for the cycles to find out. Called from ``configure``, after
    ``require`` found openstacksdk."""
    import openstack.config  # noqa: PLC0415 - openstacksdk loads only where a cloud is used
    from openstack.config.exceptions import (  # noqa: PLC0415 - as above
        OpenStackConfigException,
    )

    try:
        openstack.config.OpenStackConfig().get_one(cloud=name)
    except OpenStackConfigException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "not usable"
        raise ConfigError(f"collectors.{collector}: cloud {name!r}: {first}") from None
    except OSError as exc:
        raise ConfigError(f"collectors.{collector}: clouds.yaml: {exc.strerror or exc}") from None


PLUGIN = OpenStackPlugin()
