"""The Quadlet units of deploy/quadlet/ as ``podman run`` options. Debian 12's Podman (4.3)
predates Quadlet, so its generator cannot run here: the tests read each unit's [Container]
section, refuse any key this translation does not know (the units keep to keys whose meaning
Podman's Quadlet documentation gives), and run the image with the same options."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from tests.support.exporter import REPO

UNITS = REPO / "deploy" / "quadlet"

FLAGS = {"Network": "--network", "DropCapability": "--cap-drop"}
SWITCHES = {"NoNewPrivileges": "--security-opt=no-new-privileges", "ReadOnly": "--read-only"}


@dataclass
class Unit:
    sections: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def values(self, section: str, key: str) -> list[str]:
        return [v for k, v in self.sections.get(section, []) if k == key]


def read(name: str) -> Unit:
    return parse((UNITS / name).read_text(), name)


def parse(text: str, name: str = "unit") -> Unit:
    """systemd's syntax as Quadlet reads it: repeated keys kept in order, comments dropped."""
    unit = Unit()
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            unit.sections.setdefault(current, [])
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{name}: not a key=value line: {raw!r}"
        assert current, f"{name}: a key before any section: {raw!r}"
        unit.sections[current].append((key.strip(), value.strip()))
    return unit


def run_options(
    name: str, sources: Mapping[str, str] | None = None
) -> tuple[str, list[str], list[str]]:
    """(image, ``podman run`` options, command) of unit ``name``; ``sources`` replaces the
    host side of a Volume= (a path on this machine, or a volume of the test's own)."""
    return translate(read(name), name, sources)


def run_options_of_text(text: str) -> tuple[str, list[str], list[str]]:
    return translate(parse(text), "unit", None)


def translate(
    unit: Unit, name: str, sources: Mapping[str, str] | None
) -> tuple[str, list[str], list[str]]:
    options: list[str] = []
    image, command = "", []
    user = group = ""
    for key, value in unit.sections.get("Container", []):
        if key == "Image":
            image = value
        elif key == "ContainerName":
            continue  # every test container gets a name of its own
        elif key == "Exec":
            command = shlex.split(value)
        elif key in FLAGS:
            options.append(f"{FLAGS[key]}={value}")
        elif key in SWITCHES:
            assert value in ("true", "false"), f"{name}: {key}={value}"
            if value == "true":
                options.append(SWITCHES[key])
        elif key == "User":
            user = value
        elif key == "Group":
            group = value
        elif key == "Volume":
            source, _, rest = value.partition(":")
            options.append(f"--volume={(sources or {}).get(source, source)}:{rest}")
        else:
            raise AssertionError(f"{name}: [Container] {key}= has no translation here")
    if user:
        options.append(f"--user={user}:{group}" if group else f"--user={user}")
    return image, options, command
