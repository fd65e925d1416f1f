"""A collector plugs in without touching the core: flags, switch, section, runners.

Two throw-away plug-ins stand for what comes next (an off-by-default collector with several
cycles, and a second one sharing its flag); the core is used exactly as ``python -m exporter``
uses it, only with them as the registry.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from exporter.cli import main, parse_flags, runner_specs
from exporter.collectors.base import Collection
from exporter.collectors.plugin import (
    Flag,
    Options,
    Plugin,
    RunnerSpec,
    declared_flags,
    read_schedule,
)
from exporter.collectors.registry import PLUGINS
from exporter.config import Flags, build_config
from exporter.metric import MetricFamily, gauge
from otb_common.errors import ConfigError
from otb_common.section import Section

CLOUD = Flag("--demo.cloud", metavar="NAME", env="DEMO_CLOUD", help="cloud (default $DEMO_CLOUD)")
GREETING = Flag("--demo.greeting", help="what the probes say")


class Probe:
    name: str

    def __init__(self, name: str, cloud: str) -> None:
        self.name = name
        self.cloud = cloud

    def collect(self) -> Collection:
        family = gauge("demo_probe_up", "Whether the probe answered.", ["cloud"])
        family.add([self.cloud], 1.0)
        return Collection([family])

    def fallback(self) -> list[MetricFamily]:
        return []

    def close(self) -> None:
        pass


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    interval: float
    timeout: float


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    cloud: str | None
    greeting: str
    targets: tuple[Target, ...]


class DemoPlugin:
    """Off by default; needs a cloud and a target when on; one runner per target."""

    name = "demo"
    enabled_by_default = False
    flags = (CLOUD, GREETING)

    def configure(self, section: Section, options: Options, enabled: bool) -> DemoConfig:
        targets = []
        for item in section.sections("targets"):
            interval, timeout = read_schedule(item, 30.0, 20.0)
            targets.append(Target(item.string("name", ""), interval, timeout))
            item.finish()
        cloud = options.get(CLOUD.dest) or section.string("cloud", "") or None
        if enabled and cloud is None:
            raise ConfigError(f"{section.where}: needs a cloud: --demo.cloud or $DEMO_CLOUD")
        if enabled and not targets:
            raise ConfigError(f"{section.path('targets')}: needs at least one target")
        return DemoConfig(cloud, options.get(GREETING.dest) or "hello", tuple(targets))

    def runners(self, config: DemoConfig) -> list[RunnerSpec]:
        cloud = config.cloud or ""
        return [
            RunnerSpec(Probe(f"demo_{t.name}", cloud), t.interval, t.timeout)
            for t in config.targets
        ]


class OtherPlugin:
    """On by default; declares the shared flag again, identically."""

    name = "other"
    enabled_by_default = True
    flags = (CLOUD,)

    def configure(self, section: Section, options: Options, enabled: bool) -> str:
        return options.get(CLOUD.dest) or "none"

    def runners(self, config: str) -> list[RunnerSpec]:
        return [RunnerSpec(Probe("other", config), 60.0, 10.0)]


DEMO = DemoPlugin()
OTHER = OtherPlugin()
PLUGS: tuple[Plugin[Any], ...] = (DEMO, OTHER)

TWO_TARGETS = """\
collectors:
  demo:
    targets:
      - {name: health, interval: 30s}
      - {name: inventory, interval: 5m, timeout: 2m}
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(TWO_TARGETS)
    return path


def test_flags_and_switches_come_from_the_plugins() -> None:
    flags = parse_flags(
        ["--collector.demo", "--no-collector.other", "--demo.cloud", "c1", "--demo.greeting=hi"],
        PLUGS,
    )
    assert flags.collectors == {"demo": True, "other": False}
    assert flags.options == {"demo_cloud": "c1", "demo_greeting": "hi"}
    assert parse_flags([], PLUGS).collectors == {"demo": None, "other": None}


def test_a_shared_flag_is_declared_once_and_read_by_both(config_file: Path) -> None:
    assert declared_flags(PLUGS) == [CLOUD, GREETING]
    flags = parse_flags(["--collector.demo", "--demo.cloud", "c1"], PLUGS)
    config = build_config(dataclasses.replace(flags, config_file=str(config_file)), PLUGS)
    assert (config.of(DEMO).cloud, config.of(OTHER)) == ("c1", "c1")


def test_the_same_flag_declared_differently_is_refused() -> None:
    class Clash(OtherPlugin):
        name = "clash"
        flags = (Flag("--demo.cloud", help="another meaning"),)

    with pytest.raises(ValueError, match=r"--demo\.cloud is declared differently"):
        declared_flags([*PLUGS, Clash()])

    class SameDest(OtherPlugin):
        name = "same_dest"
        flags = (Flag("--demo-cloud", help="cloud (default $DEMO_CLOUD)"),)

    with pytest.raises(ValueError, match="both read 'demo_cloud'"):
        declared_flags([*PLUGS, SameDest()])


def test_section_becomes_a_frozen_config(config_file: Path) -> None:
    config = build_config(
        Flags(
            config_file=str(config_file), collectors={"demo": True}, options={"demo_cloud": "c1"}
        ),
        PLUGS,
    )
    assert config.enabled == ("demo", "other")
    assert config.of(DEMO) == DemoConfig(
        "c1", "hello", (Target("health", 30.0, 20.0), Target("inventory", 300.0, 120.0))
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.of(DEMO).cloud = "c2"  # type: ignore[misc]  # the point: it is frozen


def test_enable_switch_beats_the_file_which_beats_the_default(tmp_path: Path) -> None:
    assert build_config(Flags(), PLUGS).enabled == ("other",)
    off = tmp_path / "off.yml"
    off.write_text("collectors:\n  other:\n    enabled: false\n")
    assert build_config(Flags(config_file=str(off)), PLUGS).enabled == ()
    flagged = Flags(config_file=str(off), collectors={"other": True})
    assert build_config(flagged, PLUGS).enabled == ("other",)


def test_the_environment_stands_in_for_an_absent_flag(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_CLOUD", "from-env")
    flags = Flags(config_file=str(config_file), collectors={"demo": True})
    assert build_config(flags, PLUGS).of(DEMO).cloud == "from-env"
    given = Flags(
        config_file=str(config_file), collectors={"demo": True}, options={"demo_cloud": "c1"}
    )
    assert build_config(given, PLUGS).of(DEMO).cloud == "c1"


@pytest.mark.parametrize(
    ("yaml", "enabled", "expected"),
    [
        ("collectors:\n  demo:\n    colour: red\n", False, "collectors.demo.colour: unknown key"),
        (
            "collectors:\n  demo:\n    targets: [{name: a, interval: 5s, timeout: 9s}]\n",
            False,
            "collectors.demo.targets[0].timeout: must not be longer than the interval",
        ),
        (
            "collectors:\n  demo:\n    targets: [{name: a, every: 5s}]\n",
            False,
            "collectors.demo.targets[0].every: unknown key",
        ),
        (
            "collectors:\n  demo:\n    targets: 5\n",
            False,
            "collectors.demo.targets: expected a list",
        ),
        ("collectors:\n  demo:\n    enabled: 1\n", False, "collectors.demo.enabled: expected true"),
        ("", True, "collectors.demo: needs a cloud: --demo.cloud or $DEMO_CLOUD"),
        ("collectors:\n  demo:\n    cloud: c1\n", True, "collectors.demo.targets: needs at least"),
    ],
)
def test_bad_section_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    yaml: str,
    enabled: bool,
    expected: str,
) -> None:
    monkeypatch.delenv("DEMO_CLOUD", raising=False)
    path = tmp_path / "bad.yml"
    path.write_text(yaml)
    with pytest.raises(ConfigError) as info:
        build_config(Flags(config_file=str(path), collectors={"demo": enabled}), PLUGS)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_settings_are_required_only_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMO_CLOUD", raising=False)
    assert build_config(Flags(), PLUGS).of(DEMO) == DemoConfig(None, "hello", ())


def test_an_option_no_plugin_declares_is_a_bug() -> None:
    with pytest.raises(TypeError, match="demo_colour"):
        build_config(Flags(options={"demo_colour": "red"}), PLUGS)


def test_each_target_is_its_own_runner(config_file: Path) -> None:
    config = build_config(
        Flags(
            config_file=str(config_file), collectors={"demo": True}, options={"demo_cloud": "c1"}
        ),
        PLUGS,
    )
    specs = runner_specs(config)
    assert [(s.collector.name, s.interval, s.timeout) for s in specs] == [
        ("demo_health", 30.0, 20.0),
        ("demo_inventory", 300.0, 120.0),
        ("other", 60.0, 10.0),
    ]


@pytest.mark.usefixtures("keep_logging")
def test_once_runs_every_runner_of_the_plugins(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--once", "--config.file", str(config_file), "--collector.demo", "--demo.cloud=c1"]
    assert main(argv, PLUGS) == 0
    out = capsys.readouterr().out
    assert 'demo_probe_up{cloud="c1"} 1.0' in out
    for name in ("demo_health", "demo_inventory", "other"):
        assert f'openstack_exporter_collector_success{{collector="{name}"}} 1.0' in out


def test_enabled_without_its_settings_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DEMO_CLOUD", raising=False)
    assert main(["--once", "--collector.demo"], PLUGS) == 2
    assert capsys.readouterr().err == (
        "openstack-telemetry-exporter: error: "
        "collectors.demo: needs a cloud: --demo.cloud or $DEMO_CLOUD\n"
    )


def test_the_shipped_registry_is_consistent() -> None:
    names = [p.name for p in PLUGINS]
    assert len(set(names)) == len(names)
    declared_flags(PLUGINS)  # no two collectors declare one flag differently
    assert build_config(Flags()).enabled == ("libvirt",)
