"""Prometheus exporter for OpenStack hypervisors and services."""

__version__ = "0.1.0"
