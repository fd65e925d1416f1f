"""``collectors.gnocchi`` as the CLI reads it: Ceilometer's defaults, an entry changing one type
only, and each mistake one ConfigError line that names the key. No network: clouds.yaml is a
temp file and nothing connects before the first cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporter.collectors.gnocchi import defaults
from exporter.collectors.gnocchi.config import GnocchiConfig, MetricConfig, TypeConfig
from exporter.collectors.gnocchi.plugin import PLUGIN
from exporter.config import Flags, build_config
from otb_common.errors import ConfigError
from tests.support.clouds import collector_file, use_clouds_yaml


@pytest.fixture(autouse=True)
def clouds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_clouds_yaml(tmp_path, monkeypatch)


def _file(tmp_path: Path, body: str) -> str:
    return collector_file(tmp_path, "gnocchi", body)


def _config(
    tmp_path: Path | None = None, body: str = "", cloud: str | None = "east", enabled: bool = True
) -> GnocchiConfig:
    flags = Flags(
        config_file=_file(tmp_path, body) if tmp_path is not None else None,
        options={"os_cloud": cloud},
        collectors={"gnocchi": enabled, "libvirt": False},
    )
    return build_config(flags).of(PLUGIN)


def _types(config: GnocchiConfig) -> dict[str, TypeConfig]:
    return {t.name: t for t in config.types}


def _metrics(kind: TypeConfig) -> dict[str, MetricConfig]:
    return {m.metric: m for m in kind.metrics}


def test_defaults_are_every_ceilometer_type_with_counters_for_cumulative_meters() -> None:
    config = _config()
    types = _types(config)
    assert list(types) == list(defaults.RESOURCE_TYPES)
    for name, meters in defaults.RESOURCE_TYPES.items():
        metrics = _metrics(types[name])
        assert list(metrics) == list(meters)
        for metric, meter in meters.items():
            assert metrics[metric].counter is meter.cumulative, (name, metric)
            assert not metrics[metric].configured
    instance = _metrics(types["instance"])
    assert instance["cpu"].counter
    assert not instance["memory.usage"].counter
    assert _metrics(types["instance_network_interface"])["network.incoming.packets"].counter
    assert dict(types["instance"].labels) == {"instance_id": "id"}
    assert (config.schedule.interval, config.schedule.timeout) == (60.0, 50.0)
    assert config.api_timeout == 20.0
    assert config.reference == ("instance", "cpu")
    assert config.status


def test_an_entry_changes_its_type_only(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        "resource_types:\n"
        "  instance:\n"
        "    shards: 8\n"
        "    labels: {flavor: flavor_name}\n"
        "    granularity: 5m\n",
    )
    types = _types(config)
    instance = types["instance"]
    assert instance.shards == 8
    assert instance.labels == (("flavor", "flavor_name"),)
    assert list(_metrics(instance)) == list(defaults.INSTANCE)
    assert {m.granularity for m in instance.metrics} == {300.0}
    assert _metrics(instance)["cpu"].counter  # the default's kind stays
    disk = types["instance_disk"]
    assert disk.shards == 1
    assert {m.granularity for m in disk.metrics} == {None}
    assert list(types) == list(defaults.RESOURCE_TYPES)


def test_metrics_replace_the_list_and_keep_the_default_kind(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        "resource_types:\n"
        "  instance:\n"
        "    granularity: 5m\n"
        "    metrics:\n"
        "      cpu: {aggregation: 'rate:mean', granularity: 1h}\n"
        "      memory.usage: {}\n"
        "      my.meter: {kind: gauge, unit: MiB}\n",
    )
    metrics = _metrics(_types(config)["instance"])
    assert list(metrics) == ["cpu", "memory.usage", "my.meter"]
    assert metrics["cpu"] == MetricConfig("cpu", True, "rate:mean", 3600.0, "ns", configured=True)
    assert metrics["memory.usage"] == MetricConfig(
        "memory.usage", False, "mean", 300.0, "MB", configured=True
    )
    assert metrics["my.meter"] == MetricConfig(
        "my.meter", False, "mean", 300.0, "MiB", configured=True
    )


def test_a_new_type_and_a_disabled_one(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        "resource_types:\n"
        "  volume: {enabled: false}\n"
        "  my_type:\n"
        "    metrics: {my.count: {kind: counter}}\n",
    )
    types = _types(config)
    assert "volume" not in types
    assert types["my_type"] == TypeConfig(
        "my_type", (MetricConfig("my.count", True, configured=True),), configured=True
    )
    assert "instance" in types


def test_no_default_types(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        "default_resource_types: false\nresource_types:\n  instance: {}\n",
    )
    assert [t.name for t in config.types] == ["instance"]
    assert list(_metrics(config.types[0])) == list(defaults.INSTANCE)


BAD = {
    "unknown_key": ("intervall: 5m", "collectors.gnocchi.intervall: unknown key"),
    "unknown_type_key": (
        "resource_types: {instance: {shard: 2}}",
        "collectors.gnocchi.resource_types.instance.shard: unknown key",
    ),
    "unknown_meter_key": (
        "resource_types: {instance: {metrics: {cpu: {agg: max}}}}",
        "collectors.gnocchi.resource_types.instance.metrics.cpu.agg: unknown key",
    ),
    "zero_shards": (
        "resource_types: {instance: {shards: 0}}",
        "collectors.gnocchi.resource_types.instance.shards: expected a number of at least 1",
    ),
    "too_many_shards": (
        "resource_types: {instance: {shards: 257}}",
        "collectors.gnocchi.resource_types.instance.shards: at most 256",
    ),
    "bad_kind": (
        "resource_types: {instance: {metrics: {cpu: {kind: total}}}}",
        "collectors.gnocchi.resource_types.instance.metrics.cpu.kind: expected counter or gauge",
    ),
    "new_meter_without_kind": (
        "resource_types: {instance: {metrics: {my.meter: {}}}}",
        "collectors.gnocchi.resource_types.instance.metrics.my.meter.kind: required",
    ),
    "new_type_without_metrics": (
        "resource_types: {my_type: {shards: 2}}",
        "collectors.gnocchi.resource_types.my_type.metrics: required",
    ),
    "empty_metrics": (
        "resource_types: {instance: {metrics: {}}}",
        "collectors.gnocchi.resource_types.instance.metrics: expected a mapping",
    ),
    "bad_labels": (
        "resource_types: {instance: {labels: [flavor_name]}}",
        "collectors.gnocchi.resource_types.instance.labels: expected a mapping",
    ),
    "bad_duration": ("min_granularity: soon", "collectors.gnocchi.min_granularity"),
    "bad_type_granularity": (
        "resource_types: {instance: {granularity: 0s}}",
        "collectors.gnocchi.resource_types.instance.granularity: must be greater than zero",
    ),
    "api_timeout_over_timeout": (
        "timeout: 10s\napi_timeout: 20s",
        "collectors.gnocchi.api_timeout: must not be longer than the timeout (10s)",
    ),
    "reference_without_slash": (
        "reference: cpu",
        "collectors.gnocchi.reference: expected TYPE/METER",
    ),
    "bad_interface": ("interface: outside", "collectors.gnocchi.interface: expected one of"),
    "stale_after_below_one": ("stale_after: 0.5", "collectors.gnocchi.stale_after"),
    "no_types_at_all": (
        "default_resource_types: false",
        "collectors.gnocchi.resource_types: required when default_resource_types is false",
    ),
    "resource_types_not_a_mapping": (
        "resource_types: [instance]",
        "collectors.gnocchi.resource_types: expected a mapping",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_mistake_is_one_line_naming_the_key(case: str, tmp_path: Path) -> None:
    body, expected = BAD[case]
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, body)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_a_disabled_collector_still_reads_its_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"collectors\.gnocchi\.shards: unknown key"):
        _config(tmp_path, "shards: 2", cloud=None, enabled=False)


def test_enabled_without_a_cloud() -> None:
    with pytest.raises(ConfigError) as info:
        _config(cloud=None)
    assert str(info.value) == (
        "collectors.gnocchi: no cloud: pass --os-cloud NAME, set OS_CLOUD, or set "
        "collectors.gnocchi.cloud"
    )


def test_disabled_needs_no_cloud() -> None:
    assert _config(cloud=None, enabled=False).cloud == ""


def test_flag_beats_file_beats_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLOUD", "west")
    assert _config(cloud=None).cloud == "west"
    assert _config(tmp_path, "cloud: east", cloud=None).cloud == "east"
    monkeypatch.setenv("OS_CLOUD", "east")
    assert _config(tmp_path, "cloud: east", cloud="west").cloud == "west"


def test_cli_exits_2_with_one_line_for_a_bad_gnocchi_section(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter",
            "--once",
            "--config.file",
            _file(tmp_path, "resource_types: {instance: {shards: 0}}"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        "openstack-telemetry-exporter: error: collectors.gnocchi.resource_types.instance."
        "shards: expected a number of at least 1"
    ]
