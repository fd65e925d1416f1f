"""The gnocchi collector as a plug-in: ``--collector.gnocchi``, ``collectors.gnocchi``, one
runner per cloud on its own openstacksdk connection (the cloud shared with the openstack
collector through ``--os-cloud``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from exporter.collectors.gnocchi.config import GnocchiConfig, read_config
from exporter.collectors.openstack.plugin import OS_CLOUD, check_cloud
from exporter.collectors.plugin import CheckResult, Options, RunnerSpec
from otb_common.extras import require
from otb_common.section import Section

if TYPE_CHECKING:
    from exporter.collectors.openstack.session import CloudSession


class GnocchiPlugin:
    """Off by default: it runs once per cloud, centrally."""

    name = "gnocchi"
    enabled_by_default = False
    flags = (OS_CLOUD,)

    def configure(self, section: Section, options: Options, enabled: bool) -> GnocchiConfig:
        if enabled:  # the libraries first: without them no setting matters
            require("collectors.gnocchi", "central", "gnocchiclient", "openstack")
        config = read_config(
            section, options.get(OS_CLOUD.dest), os.environ.get("OS_CLOUD"), enabled
        )
        if enabled:
            check_cloud(config.cloud, self.name)
        return config

    def runners(self, config: GnocchiConfig) -> list[RunnerSpec]:
        from exporter.collectors.gnocchi.collector import (  # noqa: PLC0415 - openstacksdk and gnocchiclient load only where this collector runs
            GnocchiCollector,
        )

        return [RunnerSpec(GnocchiCollector(config, session_for(config)), *config.schedule)]

    def check(self, config: GnocchiConfig) -> list[CheckResult]:
        from exporter.collectors.gnocchi.check import (  # noqa: PLC0415 - as in runners
            check,
        )

        return check(self.name, config)


def session_for(config: GnocchiConfig) -> CloudSession:
    """A connection of the collector's own: its requests are counted apart from the
    openstack collector's, and one hanging service holds up neither."""
    from exporter.collectors.openstack.config import (  # noqa: PLC0415 - as in runners
        CloudConfig,
    )
    from exporter.collectors.openstack.session import (  # noqa: PLC0415 - as in runners
        CloudSession,
    )

    return CloudSession(
        CloudConfig(
            cloud=config.cloud,
            region=config.region,
            interface=config.interface,
            api_timeout=config.api_timeout,
        )
    )


PLUGIN = GnocchiPlugin()
