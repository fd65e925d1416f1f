"""What a collector plug-in gives the core: flags, a config section, runners, a check.

The core (cli, config, scheduler, snapshot, server, check) knows plug-ins only through this
protocol, so a new collector is a folder under ``exporter/collectors/`` and one line in
``registry.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from exporter.collectors.base import Collector
from otb_common.errors import ConfigError
from otb_common.section import Section

C = TypeVar("C")
T = TypeVar("T")

Options = Mapping[str, str | None]
"""A plug-in's flag values by ``Flag.dest``; None when neither flag nor environment gave one."""


@dataclass(frozen=True, slots=True)
class Flag:
    """One string-valued command-line flag of a plug-in.

    Several plug-ins may declare the same flag (``--os-cloud`` for two OpenStack collectors):
    equal declarations become one flag, read by each; a different one under the same name is
    refused when the parser is built. Declare a shared flag once in a module both import.
    """

    name: str
    help: str
    metavar: str = "VALUE"
    env: str | None = None
    """Environment variable that stands in when the flag is not given (``OS_CLOUD``)."""

    @property
    def dest(self) -> str:
        """``--libvirt.uri`` -> ``libvirt_uri``: the key of its value in ``Options``."""
        return self.name.lstrip("-").replace(".", "_").replace("-", "_")


@dataclass(frozen=True, slots=True)
class RunnerSpec:
    """One collector and how the scheduler runs it: its own thread, interval and deadline,
    its own snapshot part and ``..._collector_success{collector=collector.name}`` series."""

    collector: Collector
    interval: float
    timeout: float


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of ``openstack-telemetry-exporter check``: is this backend usable, and if not,
    why, in words an operator acts on (``connection refused``, ``403 forbidden: ...``)."""

    collector: str
    target: str
    ok: bool
    detail: str


class Plugin(Protocol[C]):
    """A collector as the core sees it; ``C`` is the plug-in's frozen config type."""

    @property
    def name(self) -> str:
        """``--collector.NAME`` / ``--no-collector.NAME`` and the ``collectors.NAME`` section."""
        ...

    @property
    def enabled_by_default(self) -> bool:
        """Whether it runs when neither a switch nor ``collectors.NAME.enabled`` says."""
        ...

    @property
    def flags(self) -> Sequence[Flag]:
        """Its own flags; the core adds them to the parser and hands back their values."""
        ...

    def configure(self, section: Section, options: Options, enabled: bool) -> C:
        """Validate ``collectors.NAME`` (the core owns its ``enabled`` key and refuses keys
        left unread) into a frozen config; raise ``ConfigError`` with one line.

        Called for every plug-in, so a typo in a disabled one's section is still caught;
        settings it cannot run without are required only when ``enabled``.
        """
        ...

    def runners(self, config: C) -> Sequence[RunnerSpec]:
        """One or more collectors to schedule; construction only, no I/O (the first cycle
        connects). Collector names must be unique across the process."""
        ...

    # Optional: ``def check(self, config: C) -> Sequence[CheckResult]``. It reaches each
    # backend once, within the config's own timeouts, and says per backend whether it works;
    # the ``check`` command prints the results. A plug-in without it is reported as unchecked.


@dataclass(frozen=True, slots=True)
class Configured(Generic[C]):
    """A plug-in with its validated config and whether it runs."""

    plugin: Plugin[C]
    config: C
    enabled: bool

    def runners(self) -> Sequence[RunnerSpec]:
        return self.plugin.runners(self.config)

    def check(self) -> Sequence[CheckResult] | None:
        """The plug-in's check results, or None when it has none."""
        check: Callable[[Any], Sequence[CheckResult]] | None = getattr(self.plugin, "check", None)
        return None if check is None else check(self.config)


def declared_flags(plugins: Iterable[Plugin[Any]]) -> list[Flag]:
    """Every plug-in flag once, in registry order; conflicting declarations are a bug."""
    by_dest: dict[str, Flag] = {}
    for plugin in plugins:
        for flag in plugin.flags:
            known = by_dest.setdefault(flag.dest, flag)
            if known.name != flag.name:
                raise ValueError(
                    f"collector {plugin.name!r}: {flag.name} and {known.name} both read "
                    f"{flag.dest!r}"
                )
            if known != flag:
                raise ValueError(
                    f"collector {plugin.name!r}: {flag.name} is declared differently by "
                    "another collector"
                )
    return list(by_dest.values())


class Schedule(NamedTuple):
    interval: float
    timeout: float


def read_schedule(section: Section, interval: float, timeout: float) -> Schedule:
    """``interval`` and ``timeout`` of one cycle kind, by the rules every collector shares:
    left out, the deadline follows a short interval down; it never exceeds the interval."""
    every = section.duration("interval", interval)
    deadline = section.duration("timeout", min(timeout, every))
    if deadline > every:
        raise ConfigError(f"{section.path('timeout')}: must not be longer than the interval")
    return Schedule(every, deadline)


def within(seconds: float, fn: Callable[[], T]) -> T:
    """``fn()`` on a daemon thread, waited for ``seconds`` at most: for a check, whose backend
    may hang where no timeout of its own applies. Raises what ``fn`` raised, or TimeoutError
    (the call is left behind; the process ends soon after a check anyway)."""
    box: list[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller as raised
            box.append((False, exc))
        done.set()

    threading.Thread(target=run, name="check", daemon=True).start()
    if not done.wait(seconds):
        raise TimeoutError(f"no answer within {seconds:g}s")
    ok, value = box[0]
    if not ok:
        raise value
    result: T = value
    return result
