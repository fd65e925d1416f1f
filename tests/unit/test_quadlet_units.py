"""Every Quadlet unit in deploy/quadlet/ keeps to the keys the tests can translate to
``podman run`` (tests/support/quadlet.py), runs the project's image, and starts its program
with flags the program's own parser accepts."""

from __future__ import annotations

import pytest

from alerts import cli as bridge_cli
from exporter import cli as exporter_cli
from tests.support import quadlet
from tests.support.image import IMAGE

UNITS = sorted(p.name for p in quadlet.UNITS.glob("*.container"))


def test_there_is_a_unit_for_each_role() -> None:
    assert UNITS == [
        "aodh-alertmanager-bridge.container",
        "openstack-telemetry-central.container",
        "openstack-telemetry-exporter.container",
    ]


@pytest.mark.parametrize("name", UNITS)
def test_a_unit_translates_and_its_program_parses_its_flags(name: str) -> None:
    image, options, command = quadlet.run_options(name)
    assert image == IMAGE
    assert "--cap-drop=all" in options
    assert "--security-opt=no-new-privileges" in options
    assert "--read-only" in options
    program, *flags = command
    # Either parser exits (SystemExit) on a flag it does not know.
    if program == "openstack-telemetry-exporter":
        exporter_cli.parse_flags(flags)
    else:
        assert program == "aodh-alertmanager-bridge"
        bridge_cli.parse_flags(flags)
    unit = quadlet.read(name)
    assert unit.values("Service", "Restart") == ["on-failure"]
    assert unit.values("Install", "WantedBy") == ["multi-user.target"]


def test_a_key_without_a_translation_is_refused() -> None:
    with pytest.raises(AssertionError, match="PodmanArgs"):
        quadlet.run_options_of_text("[Container]\nImage=x\nPodmanArgs=--privileged\n")
