"""aodh-alertmanager-bridge: Aodh alarm webhooks in, Alertmanager alerts out, nothing lost."""

__version__ = "0.1.0"
