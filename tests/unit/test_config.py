"""Config validation: every bad case is one small file whose first line says the expected error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporter.collectors.libvirt.plugin import PLUGIN as LIBVIRT
from exporter.config import Flags, build_config
from otb_common.durations import parse_duration
from otb_common.errors import ConfigError
from otb_common.flags import parse_listen_address

HERE = Path(__file__).parent
CASES = sorted((HERE / "config_cases").glob("*.yml"))
WEB_CASES = sorted((HERE / "webconfig_cases").glob("*.yml"))


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: ")
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_bad_config_file_is_one_clear_error(case: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build_config(Flags(config_file=str(case)))
    message = str(info.value)
    assert _expected(case) in message
    assert "\n" not in message


@pytest.mark.parametrize("case", WEB_CASES, ids=[c.stem for c in WEB_CASES])
def test_bad_web_config_is_one_clear_error(case: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build_config(Flags(web_config_file=str(case)))
    message = str(info.value)
    assert _expected(case) in message
    assert "hunter2" not in message  # a pasted password is never echoed


def test_short_interval_brings_the_default_deadline_down(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.yml"
    cfg_file.write_text("collectors:\n  libvirt:\n    interval: 5s\n")
    cfg = build_config(Flags(config_file=str(cfg_file)))
    assert (cfg.of(LIBVIRT).interval, cfg.of(LIBVIRT).timeout) == (5.0, 5.0)


def test_defaults_and_precedence(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.yml"
    cfg_file.write_text(
        "collectors:\n  libvirt:\n    uri: qemu:///session\n    interval: 1m\n    timeout: 30s\n"
    )
    cfg = build_config(Flags(config_file=str(cfg_file)))
    assert (cfg.of(LIBVIRT).uri, cfg.of(LIBVIRT).interval, cfg.of(LIBVIRT).timeout) == (
        "qemu:///session",
        60.0,
        30.0,
    )
    assert cfg.enabled == ("libvirt",)
    flagged = build_config(
        Flags(
            config_file=str(cfg_file),
            options={"libvirt_uri": "test:///default"},
            collectors={"libvirt": False},
        )
    )
    assert flagged.of(LIBVIRT).uri == "test:///default"
    assert flagged.enabled == ()
    default = build_config(Flags())
    assert (default.listen_host, default.listen_port) == ("", 10198)
    assert default.of(LIBVIRT).uri == "qemu:///system"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":10198", ("", 10198)),
        ("127.0.0.1:1", ("127.0.0.1", 1)),
        ("[::1]:80", ("::1", 80)),
        ("host.example:9000", ("host.example", 9000)),
    ],
)
def test_listen_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize("text", ["10198", "host:", ":99999", "::1:80", ""])
def test_bad_listen_address(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_listen_address(text)


@pytest.mark.parametrize(
    ("text", "seconds"), [("15s", 15.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0)]
)
def test_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15", "s", "1m 30s", "-5s", "1x"])
def test_bad_duration(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--web.listen-address", "nope"], "--web.listen-address"),
        (["--log.level", "loud"], "--log.level"),
        (["--no-such-flag"], "unrecognized arguments"),
        (["--config.file", "/nonexistent/x.yml"], "No such file"),
        (["--web.telemetry-path", "metrics"], "--web.telemetry-path"),
        (["--web.telemetry-path", "/readyz"], "--web.telemetry-path"),
        (
            ["--web.config.file", "tests/unit/webconfig_cases/tls_files_missing.yml"],
            "cannot load TLS files",
        ),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(args: list[str], fragment: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert fragment in lines[0]
    assert lines[0].startswith("openstack-telemetry-exporter: error:")
