"""The collectors this exporter ships: a new one is a folder beside libvirt/ and a line here."""

from __future__ import annotations

from typing import Any

from exporter.collectors.gnocchi.plugin import PLUGIN as GNOCCHI
from exporter.collectors.libvirt.plugin import PLUGIN as LIBVIRT
from exporter.collectors.openstack.plugin import PLUGIN as OPENSTACK
from exporter.collectors.plugin import Plugin

PLUGINS: tuple[Plugin[Any], ...] = (LIBVIRT, OPENSTACK, GNOCCHI)
