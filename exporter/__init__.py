"""Prometheus exporter for OpenStack hypervisors and services."""

from otb_common.version import distribution_version

__version__ = distribution_version()
