"""The version, read from the installed distribution: pyproject.toml is the only place it is set."""

from __future__ import annotations

import importlib.metadata

DISTRIBUTION = "openstack-telemetry-bridge"
# A source checkout that was never installed has no metadata; PEP 440 "0" with a local label
# sorts before every release and says plainly that the version is not known.
UNKNOWN = "0+unknown"


def distribution_version() -> str:
    """The installed version of both programs (the exporter and the bridge ship together)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return UNKNOWN
