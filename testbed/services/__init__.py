"""One module per service; each has ``REQUIRES``, ``start(bed)`` and ``healthy(bed)``.

``start`` launches the processes through ``Bed.spawn``, waits until they serve, does the
bootstrap (databases, catalog entries, seed objects) and publishes what it offers with
``Bed.record``. ``healthy`` is a quick probe used when an existing testbed is reused.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Every service, in an order that respects REQUIRES. It is also the start priority when more
# services could start than run at once: the path to the alarm (Keystone, Placement, Nova,
# the server, Gnocchi, Aodh) first, Cinder and Heat last since nothing waits for them.
ALL = (
    "postgres",
    "mariadb",
    "rabbitmq",
    "alarm_sink",
    "neutron_db",
    "keystone",
    "placement",
    "nova",
    "glance",
    "neutron",
    "gnocchi",
    "server",
    "measures",
    "aodh",
    "cinder",
    "heat",
    "alertmanager",
    "prometheus",
)


def module(name: str) -> ModuleType:
    if name not in ALL:
        raise KeyError(f"unknown testbed service {name!r}; known: {', '.join(ALL)}")
    return importlib.import_module(f"testbed.services.{name}")


def requires(name: str) -> tuple[str, ...]:
    needed: tuple[str, ...] = module(name).REQUIRES
    return needed


def closure(names: list[str]) -> list[str]:
    """``names`` and everything they need, in start order."""
    wanted: set[str] = set()

    def visit(name: str) -> None:
        if name in wanted:
            return
        for dependency in requires(name):
            visit(dependency)
        wanted.add(name)

    for name in names:
        visit(name)
    return [n for n in ALL if n in wanted]
