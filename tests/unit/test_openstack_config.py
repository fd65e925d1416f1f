"""``--os-cloud`` and ``collectors.openstack``: each mistake is exit 2 with one readable line;
the flag beats the file, the file beats ``$OS_CLOUD``. No network: clouds.yaml is a temp file
and nothing connects before the first cycle."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.cli import PROG, main
from exporter.collectors.openstack.config import CloudConfig
from exporter.collectors.openstack.plugin import PLUGIN
from exporter.collectors.plugin import Schedule
from exporter.config import Flags, build_config
from tests.support.clouds import collector_file, use_clouds_yaml


@pytest.fixture(autouse=True)
def clouds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_clouds_yaml(tmp_path, monkeypatch)


def _file(tmp_path: Path, body: str) -> str:
    return collector_file(tmp_path, "openstack", body)


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI; it must exit 2 having printed exactly one line, which is returned."""
    assert main(["--once", "--no-collector.libvirt", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"{PROG}: error: collectors.openstack")
    assert "pw-" not in lines[0]
    return lines[0]


BAD_FILES = {
    "unknown_cloud_in_list": ("clouds: [{cloud: north}]", "cloud 'north'"),
    "unknown_cloud_at_top": ("cloud: north", "cloud 'north'"),
    "cloud_listed_twice": (
        "clouds: [{cloud: east}, {cloud: east}]",
        "collectors.openstack.clouds[1]: cloud 'east' is listed twice",
    ),
    "entry_without_cloud": ("clouds: [{region: RegionOne}]", "clouds[0].cloud: required"),
    "clouds_not_a_list": ("clouds: {cloud: east}", "collectors.openstack.clouds: expected a list"),
    "cloud_and_clouds": (
        "cloud: east\nclouds: [{cloud: west}]",
        "give either one cloud (--os-cloud or collectors.openstack.cloud) or a list of clouds",
    ),
    "unknown_part": ("disable: [servers, serverz]", "disable: unknown part 'serverz' (known: "),
    "unknown_part_in_entry": (
        "clouds: [{cloud: east, disable: [nope]}]",
        "clouds[0].disable: unknown part 'nope'",
    ),
    "disable_not_a_list": ("disable: servers", "disable: expected a list of names"),
    "bad_interface": (
        "interface: outside",
        "collectors.openstack.interface: expected one of public, internal, admin",
    ),
    "api_timeout_over_health_timeout": (
        "api_timeout: 30s",
        "collectors.openstack.api_timeout: must not be longer than the health timeout (25s)",
    ),
    "api_timeout_over_short_health_timeout": (
        "clouds: [{cloud: east, api_timeout: 5s, health: {timeout: 2s}}]",
        "clouds[0].api_timeout: must not be longer than the health timeout (2s)",
    ),
    "health_timeout_over_interval": (
        "health: {interval: 10s, timeout: 20s}",
        "collectors.openstack.health.timeout: must not be longer than the interval",
    ),
    "unknown_key": (
        "cloud: east\nclouds_yaml: /etc/x",
        "collectors.openstack.clouds_yaml: unknown key",
    ),
    "unknown_key_in_entry": (
        "clouds: [{cloud: east, regoin: x}]",
        "collectors.openstack.clouds[0].regoin: unknown key",
    ),
    "unknown_key_in_health": (
        "health: {intervall: 10s}",
        "collectors.openstack.health.intervall: unknown key",
    ),
    "inventory_enabled_not_bool": (
        "inventory: {enabled: sometimes}",
        "collectors.openstack.inventory.enabled: expected true or false",
    ),
    "bad_duration": ("api_timeout: soon", "collectors.openstack.api_timeout"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_each_bad_file_is_exit_2_and_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body, expected = BAD_FILES[case]
    line = _error(capsys, ["--config.file", _file(tmp_path, f"enabled: true\n{body}")])
    assert expected in line


def test_enabled_without_a_cloud(capsys: pytest.CaptureFixture[str]) -> None:
    line = _error(capsys, ["--collector.openstack"])
    assert line.endswith(
        "collectors.openstack: no cloud: pass --os-cloud NAME, set OS_CLOUD, or set "
        "collectors.openstack.cloud"
    )


def test_unknown_cloud_by_flag(capsys: pytest.CaptureFixture[str]) -> None:
    line = _error(capsys, ["--collector.openstack", "--os-cloud", "north"])
    assert "collectors.openstack: cloud 'north'" in line


def test_unknown_cloud_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_CLOUD", "north")
    assert "cloud 'north'" in _error(capsys, ["--collector.openstack"])


def test_missing_clouds_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "absent.yaml"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/openstack/clouds.yaml either
    assert "cloud 'east'" in _error(capsys, ["--collector.openstack", "--os-cloud", "east"])


def test_a_list_of_clouds_and_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _file(tmp_path, "enabled: true\nclouds: [{cloud: east}, {cloud: west}]")
    line = _error(capsys, ["--config.file", config, "--os-cloud", "east"])
    assert "collectors.openstack.clouds: give either one cloud (--os-cloud" in line


def test_a_disabled_collector_still_reads_its_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo is found even while the collector is off (the core's rule for every section)."""
    line = _error(capsys, ["--config.file", _file(tmp_path, "enabled: false\ninterfce: admin")])
    assert "collectors.openstack.interfce: unknown key" in line


def _clouds(flags: Flags) -> tuple[CloudConfig, ...]:
    return build_config(flags).of(PLUGIN).clouds


def _flags(config_file: str | None = None, cloud: str | None = None) -> Flags:
    return Flags(
        config_file=config_file,
        options={"os_cloud": cloud},
        collectors={"openstack": True, "libvirt": False},
    )


def test_flag_beats_file_beats_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLOUD", "west")
    assert [c.cloud for c in _clouds(_flags())] == ["west"]
    config = _file(tmp_path, "cloud: east")
    assert [c.cloud for c in _clouds(_flags(config))] == ["east"]
    monkeypatch.setenv("OS_CLOUD", "east")
    assert [c.cloud for c in _clouds(_flags(config, cloud="west"))] == ["west"]


def test_defaults() -> None:
    (cloud,) = _clouds(_flags(cloud="east"))
    assert cloud == CloudConfig(cloud="east")
    assert (cloud.region, cloud.interface) == (None, None)  # clouds.yaml's own
    assert cloud.api_timeout == 10.0
    assert cloud.health == Schedule(30.0, 25.0)
    assert cloud.inventory == Schedule(300.0, 240.0)
    assert cloud.inventory_enabled
    assert cloud.skip_services == frozenset()
    assert cloud.disabled == frozenset()
    assert not build_config(Flags()).of(PLUGIN).clouds  # off by default, and no cloud


def test_list_entries_inherit_the_top_level_and_override_it(tmp_path: Path) -> None:
    config = _file(
        tmp_path,
        "interface: internalURL\n"
        "disable: [l3_agents]\n"
        "health: {interval: 20s}\n"
        "clouds:\n"
        "  - cloud: east\n"
        "  - {cloud: west, region: RegionTwo, disable: [], inventory: {enabled: false}}\n",
    )
    east, west = _clouds(_flags(config))
    assert (east.cloud, east.region, east.interface) == ("east", None, "internal")
    assert east.disabled == frozenset({"l3_agents"})
    assert east.health == Schedule(20.0, 20.0)
    assert east.inventory_enabled
    assert (west.cloud, west.region, west.interface) == ("west", "RegionTwo", "internal")
    assert west.disabled == frozenset()  # its own list, though empty, replaces the top's
    assert not west.inventory_enabled
    assert west.label == "west:RegionTwo"


def test_one_cloud_in_two_regions_is_not_a_duplicate(tmp_path: Path) -> None:
    config = _file(
        tmp_path,
        "clouds: [{cloud: east, region: RegionOne}, {cloud: east, region: RegionTwo}]",
    )
    assert [c.label for c in _clouds(_flags(config))] == ["east:RegionOne", "east:RegionTwo"]


def test_api_timeout_follows_a_short_health_timeout_down(tmp_path: Path) -> None:
    """Left out, it is not an error for a health cycle shorter than its 10 s default."""
    (cloud,) = _clouds(_flags(_file(tmp_path, "health: {interval: 5s}"), cloud="east"))
    assert (cloud.health.timeout, cloud.api_timeout) == (5.0, 5.0)


def test_runner_names_per_cloud_and_no_inventory_when_disabled(tmp_path: Path) -> None:
    config = _file(
        tmp_path,
        "inventory: {interval: 10m, timeout: 5m}\n"
        "clouds: [{cloud: east}, {cloud: west, inventory: {enabled: false}}]",
    )
    specs = PLUGIN.runners(build_config(_flags(config)).of(PLUGIN))
    assert [(s.collector.name, s.interval, s.timeout) for s in specs] == [
        ("openstack:east:health", 30.0, 25.0),
        ("openstack:east:inventory", 600.0, 300.0),
        ("openstack:west:health", 30.0, 25.0),
    ]
