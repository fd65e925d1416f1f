"""The central exporter (openstack collector only) run as a process against a testbed cloud,
and a watch over its scrapes: for tests that break a service and follow what it reports.

Every scrape is bounded by ``SCRAPE_TIMEOUT``: that bound is the liveness check (a scrape
must never wait on an API), not a measurement. Each one is parsed and kept, so a test can
assert on every scrape taken while a fault lasted.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from testbed import faults, services
from testbed.bed import Bed
from tests.support.exporter import ExporterProcess, run_exporter
from tests.support.metrics import Samples, parse_samples

SCRAPE_TIMEOUT = 5.0
POLL = 0.5
# The services whose ``openstack_<name>_up`` the full testbed has (Gnocchi's too, unused here).
SERVICES = ("identity", "nova", "neutron", "cinder", "placement", "glance", "heat")


def config_text(
    interval: str, timeout: str, api_timeout: str, *, inventory: str | None = "30s"
) -> str:
    """``collectors.openstack`` with the given health cycle; ``inventory=None`` turns the
    inventory cycle off."""
    inv = "{enabled: false}" if inventory is None else f"{{interval: {inventory}}}"
    return (
        "collectors:\n"
        "  openstack:\n"
        f"    health: {{interval: {interval}, timeout: {timeout}}}\n"
        f"    api_timeout: {api_timeout}\n"
        f"    inventory: {inv}\n"
    )


@dataclass
class Watch:
    """One running exporter and every scrape of it so far."""

    exporter: ExporterProcess
    cloud: str = "testbed"
    scrapes: list[Samples] = field(default_factory=list)

    @property
    def health(self) -> str:
        return f"openstack:{self.cloud}:health"

    def scrape(self) -> Samples:
        """One scrape; fails the test if it is not a 200 within ``SCRAPE_TIMEOUT``."""
        try:
            body = self.exporter.metrics(timeout=SCRAPE_TIMEOUT)
        except (OSError, http.client.HTTPException) as exc:  # a timeout is an OSError
            raise AssertionError(
                f"a scrape did not answer within {SCRAPE_TIMEOUT:g}s: {exc!r}\n"
                + self.exporter.logs()
            ) from None
        samples = parse_samples(body)
        self.scrapes.append(samples)
        return samples

    def until(self, what: str, predicate: Callable[[Samples], bool], timeout: float) -> Samples:
        """Scrape every ``POLL`` seconds until ``predicate`` holds; the scrape that showed it."""
        deadline = time.monotonic() + timeout
        while True:
            samples = self.scrape()
            if predicate(samples):
                return samples
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what}: not seen within {timeout:g}s; last: {self.ups(samples)} "
                    f"success={self.success(samples)}\n" + self.exporter.logs()[-4000:]
                )
            time.sleep(POLL)

    def failures(self) -> list[str]:
        """The exporter's log lines about failed checks and cycles, for assertion messages."""
        return [
            line
            for line in self.exporter.log_lines
            if "check failed" in line or "cycle failed" in line or "abandoned" in line
        ]

    def mark(self) -> int:
        """Where the scrapes from now on start, for ``since``."""
        return len(self.scrapes)

    def since(self, mark: int) -> list[Samples]:
        return self.scrapes[mark:]

    def value(self, samples: Samples, name: str, **labels: str) -> float | None:
        """The series ``name`` of this cloud whose labels include ``labels``; None if absent,
        an error if several match."""
        found = [
            v
            for (n, have), v in samples.items()
            if n == name
            and ("cloud", self.cloud) in have
            and all((k, val) in have for k, val in labels.items())
        ]
        assert len(found) <= 1, f"{name}{labels} matches {len(found)} series"
        return found[0] if found else None

    def up(self, samples: Samples, service: str) -> float | None:
        return self.value(samples, f"openstack_{service}_up")

    def ups(self, samples: Samples) -> dict[str, float | None]:
        return {name: self.up(samples, name) for name in SERVICES}

    def _self(self, samples: Samples, name: str) -> float | None:
        return samples.get((f"openstack_exporter_collector_{name}", self._health_labels))

    @property
    def _health_labels(self) -> frozenset[tuple[str, str]]:
        return frozenset({("collector", self.health)})

    def success(self, samples: Samples) -> float | None:
        """The health collector's ``openstack_exporter_collector_success``."""
        return self._self(samples, "success")

    def timeouts(self, samples: Samples) -> float | None:
        """Health cycles the scheduler abandoned at the cycle's timeout."""
        return self._self(samples, "timeouts_total")

    def last_success(self, samples: Samples) -> float | None:
        return self._self(samples, "last_success_timestamp_seconds")

    def tokens(self, samples: Samples) -> float | None:
        return self.value(samples, "openstack_exporter_token_requests_total")

    def all_up(self, samples: Samples, but: tuple[str, ...] = ()) -> bool:
        return all(self.up(samples, name) == 1 for name in SERVICES if name not in but)


@contextmanager
def central_exporter(
    workdir: Path,
    clouds_yaml: Path,
    config: str,
    *,
    cloud: str = "testbed",
    ready: bool = True,
    extra: Sequence[str] = (),
) -> Iterator[Watch]:
    """``python -m exporter`` with only the openstack collector (and what ``extra`` flags
    add), on ``cloud`` of ``clouds_yaml``; ready (every cycle succeeded once) unless
    ``ready=False``."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "exporter.yml"
    path.write_text(config)
    args = [
        "--no-collector.libvirt",
        "--collector.openstack",
        "--os-cloud",
        cloud,
        "--config.file",
        str(path),
        *extra,
    ]
    env = {"OS_CLIENT_CONFIG_FILE": str(clouds_yaml)}
    with run_exporter(args, ready=ready, start_timeout=60.0, env=env) as exp:
        yield Watch(exp, cloud)


def running_again(bed: Bed, service: str, process: str | None = None) -> None:
    """Whatever a test left stopped or frozen runs again, and the service answers: the
    session's other tests share the testbed."""
    for proc in faults.select(bed, service, process):
        if not proc.running:
            faults.restart(bed, service, proc.name)
        elif proc.frozen:
            faults.thaw(bed, service, proc.name)
    module = services.module(service)
    deadline = time.monotonic() + 60.0
    while not module.healthy(bed):
        if time.monotonic() > deadline:
            raise AssertionError(f"{service} does not answer again after the test")
        time.sleep(POLL)
