"""aodh-alertmanager-bridge: Aodh alarm webhooks in, Alertmanager alerts out, nothing lost."""

from exporter.version import distribution_version

__version__ = distribution_version()
