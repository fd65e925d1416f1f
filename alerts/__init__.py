"""aodh-alertmanager-bridge: Aodh alarm webhooks in, Alertmanager alerts out, nothing lost."""

from otb_common.version import distribution_version

__version__ = distribution_version()
