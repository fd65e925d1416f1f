"""Plumbing both programs share: flags, web config (TLS, basic auth), logs, durations, strict
config sections, the OpenStack session and the version.

Neither ``exporter`` nor ``alerts`` owns it. The name carries the distribution's initials
(openstack-telemetry-bridge) so that, installed, it cannot clash with another distribution's
top-level package.
"""
