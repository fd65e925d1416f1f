"""Prometheus exporter for OpenStack hypervisors and services."""

from exporter.version import distribution_version

__version__ = distribution_version()
