"""The optional parts of the distribution: each host installs the extra of the role it runs
(``pip install 'openstack-telemetry-bridge[hypervisor]'``), so a program started for a role
whose libraries are missing says which extra to install, in one line, before serving."""

from __future__ import annotations

import importlib

from otb_common.errors import ConfigError

DISTRIBUTION = "openstack-telemetry-bridge"

PACKAGES = {
    "libvirt": "libvirt-python",
    "openstack": "openstacksdk",
    "gnocchiclient": "gnocchiclient",
    "aodhclient": "aodhclient",
    "flask": "flask",
    "waitress": "waitress",
}
"""Import name -> the package on PyPI that provides it."""


def require(what: str, extra: str, *modules: str) -> None:
    """Import ``modules`` or fail naming the missing packages and the extra that brings them.

    Importing, not only finding, catches a module that is there but cannot load (libvirt-python
    without libvirt's shared library): the error then carries the loader's own reason."""
    missing: list[str] = []
    broken: list[str] = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module and exc.name is not None and not module.startswith(exc.name):
                broken.append(f"{PACKAGES.get(module, module)} ({exc})")
            else:
                missing.append(PACKAGES.get(module, module))
        except ImportError as exc:
            broken.append(f"{PACKAGES.get(module, module)} ({exc})")
    hint = f"pip install '{DISTRIBUTION}[{extra}]'"
    if missing:
        raise ConfigError(f"{what}: {', '.join(missing)} not installed ({hint})")
    if broken:
        raise ConfigError(f"{what}: cannot load {'; '.join(broken)}")
