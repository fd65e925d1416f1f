"""``check``: what the core prints for the plug-ins' results, and the exit status it picks.

Throw-away plug-ins stand for the collectors: the core must print their lines in aligned
columns with a summary, exit 0 only when every line is ok, and keep 2 for configuration errors.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from exporter.cli import main
from exporter.collectors.plugin import CheckResult, Flag, Options, Plugin, RunnerSpec, within
from otb_common.errors import ConfigError
from otb_common.section import Section

TARGETS = Flag("--fake.targets", metavar="LIST", help="name=ok|fail:reason, comma-separated")


class FakePlugin:
    """Its backends and their fate come from a flag; checking them costs nothing."""

    flags = (TARGETS,)

    def __init__(self, name: str, enabled_by_default: bool = True) -> None:
        self.name = name
        self.enabled_by_default = enabled_by_default
        self.checked = 0

    def configure(self, section: Section, options: Options, enabled: bool) -> str:
        value = options.get(TARGETS.dest) or "a=ok"
        if value == "bad":
            raise ConfigError("--fake.targets: bad")
        return value

    def runners(self, config: str) -> list[RunnerSpec]:
        return []

    def check(self, config: str) -> list[CheckResult]:
        self.checked += 1
        results = []
        for item in config.split(","):
            target, _, fate = item.partition("=")
            ok = fate == "ok"
            results.append(CheckResult(self.name, target, ok, "answered" if ok else fate))
        return results


class Uncheckable:
    name = "plain"
    enabled_by_default = True
    flags = ()

    def configure(self, section: Section, options: Options, enabled: bool) -> None:
        return None

    def runners(self, config: None) -> list[RunnerSpec]:
        return []


class Crashing(FakePlugin):
    def check(self, config: str) -> list[CheckResult]:
        raise RuntimeError("a bug")


pytestmark = pytest.mark.usefixtures("keep_logging")


def run(
    capsys: pytest.CaptureFixture[str], plugins: tuple[Plugin[Any], ...], *argv: str
) -> tuple[int, list[str], str]:
    status = main(list(argv), plugins)
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def test_all_ok_exits_0_with_one_line_each_and_a_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, lines, _ = run(capsys, (FakePlugin("fake"),), "check", "--fake.targets", "a=ok,bb=ok")
    assert status == 0
    assert lines == ["fake  a   ok  answered", "fake  bb  ok  answered", "2 checks, all ok"]


def test_one_failure_exits_1_and_columns_line_up(capsys: pytest.CaptureFixture[str]) -> None:
    plugins = (FakePlugin("fake"), FakePlugin("longer_name"))
    status, lines, _ = run(
        capsys,
        plugins,
        "check",
        "--fake.targets",
        "a=ok,backend=401 unauthorized: credentials refused",
    )
    assert status == 1
    assert lines[:4] == [
        "fake         a        ok    answered",
        "fake         backend  FAIL  401 unauthorized: credentials refused",
        "longer_name  a        ok    answered",
        "longer_name  backend  FAIL  401 unauthorized: credentials refused",
    ]
    assert lines[-1] == "2 of 4 checks failed"


def test_only_enabled_collectors_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    on, off = FakePlugin("on"), FakePlugin("off", enabled_by_default=False)
    status, lines, _ = run(capsys, (on, off), "check")
    assert (status, on.checked, off.checked) == (0, 1, 0)
    assert [line.split()[0] for line in lines[:-1]] == ["on"]
    status, lines, _ = run(capsys, (on, off), "check", "--collector.off", "--no-collector.on")
    assert (status, on.checked, off.checked) == (0, 1, 1)
    assert [line.split()[0] for line in lines[:-1]] == ["off"]


def test_nothing_enabled_is_not_a_pass(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = run(capsys, (FakePlugin("fake"),), "check", "--no-collector.fake")
    assert status == 1
    assert lines == ["nothing to check: no collector is enabled"]


def test_a_plugin_without_check_is_skipped_not_failed(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = run(capsys, (FakePlugin("fake"), Uncheckable()), "check")
    assert status == 0
    assert lines == [
        "fake   a  ok    answered",
        "plain  -  skip  this collector has no check",
        "1 check, all ok",
    ]


def test_a_crashing_check_fails_its_line_and_not_the_others(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, lines, err = run(capsys, (Crashing("broken"), FakePlugin("fake")), "check")
    assert status == 1
    assert lines == [
        "broken  -  FAIL  internal error: RuntimeError",
        "fake    a  ok    answered",
        "1 of 2 checks failed",
    ]
    assert "check crashed" in err


def test_configuration_errors_keep_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, err = run(capsys, (FakePlugin("fake"),), "check", "--fake.targets", "bad")
    assert (status, lines) == (2, [])
    assert err.strip() == "openstack-telemetry-exporter: error: --fake.targets: bad"
    status, lines, err = run(capsys, (FakePlugin("fake"),), "check", "--once")
    assert (status, lines) == (2, [])
    assert "check and --once do not go together" in err


def test_check_is_only_a_subcommand_in_first_place(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--fake.targets", "a=ok", "check"], (FakePlugin("fake"),))
    assert exc.value.code == 2
    assert "unrecognized arguments: check" in capsys.readouterr().err


def test_within_returns_raises_or_times_out() -> None:
    assert within(1.0, lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        within(1.0, lambda: 1 / 0)
    release = threading.Event()
    with pytest.raises(TimeoutError, match=r"no answer within 0\.05s"):
        within(0.05, release.wait)
    release.set()
