"""Session access to the OpenStack testbed: start only what tests ask for, reuse a running one.

With ``TESTBED_DIR`` pointing at a testbed brought up by ``make testbed``, tests use it as it
is and leave it running. Otherwise the session starts the services it needs in a fresh
directory and stops every process it started at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from openstack import connection
from openstack.config import loader
from openstack.identity.v3 import _proxy as identity_v3

from testbed import faults, services
from testbed.bed import Bed, ServiceError
from testbed.up import up
from testbed.venv import VenvError, default_venv, ensure_venv
from tests.support.servers import require

T = TypeVar("T")

# What each launcher needs from the machine, checked before trying (a skip outside CI).
_BINARIES = {
    "postgres": "/usr/lib/postgresql/15/bin/postgres",
    "mariadb": "/usr/sbin/mariadbd",
    "rabbitmq": "/usr/lib/rabbitmq/bin/rabbitmq-server",
    "alertmanager": "/usr/bin/prometheus-alertmanager",
    "prometheus": "/usr/bin/prometheus",
}


class Testbed:
    """The session's testbed; ``need`` starts services (and what they require) on demand."""

    __test__ = False  # not a test class, whatever its name says to pytest

    def __init__(self, bed: Bed, *, owned: bool) -> None:
        self.bed = bed
        self.owned = owned

    @property
    def clouds_yaml(self) -> Path:
        return self.bed.root / "clouds.yaml"

    def need(self, *names: str) -> Testbed:
        wanted = services.closure(list(names))
        missing = [
            f"{_BINARIES[n]} ({n})"
            for n in wanted
            if n in _BINARIES and not os.access(_BINARIES[n], os.X_OK)
        ]
        require(not missing, f"testbed binaries missing: {', '.join(missing)}")
        require(os.geteuid() == 0, "the testbed runs PostgreSQL as user postgres: needs root")
        try:
            up(self.bed, list(names))
        except ServiceError as exc:
            pytest.fail(f"testbed did not come up: {exc}", pytrace=False)
        return self

    def info(self, service: str) -> dict[str, Any]:
        return self.bed.info(service)

    def connect(self, cloud: str = "testbed") -> connection.Connection:
        """An openstacksdk connection to one of the clouds of its clouds.yaml."""
        config = loader.OpenStackConfig(config_files=[str(self.clouds_yaml)])
        return connection.Connection(config=config.get_one(cloud=cloud))

    def close(self) -> None:
        if self.owned:
            self.bed.stop()


def identity(conn: connection.Connection) -> identity_v3.Proxy:
    """The connection's Keystone proxy, typed as the v3 one the testbed serves."""
    proxy = conn.identity
    assert isinstance(proxy, identity_v3.Proxy)
    return proxy


def _venv() -> Path:
    try:
        return ensure_venv(default_venv(), log=lambda _m: None)
    except VenvError as exc:
        pytest.fail(f"cannot build the OpenStack environment: {exc}", pytrace=False)


def _new_testbed() -> Testbed:
    root = Path(tempfile.mkdtemp(prefix="testbed-", dir="/tmp"))
    # Services run as other users (postgres) and must reach their directories.
    root.chmod(0o755)
    return Testbed(Bed(root, _venv()), owned=True)


def open_testbed() -> Testbed:
    """The testbed named by ``TESTBED_DIR`` if one was brought up there, else a new one."""
    given = os.environ.get("TESTBED_DIR")
    if given and (Path(given) / "state.json").exists():
        return Testbed(Bed(Path(given), _venv()), owned=False)
    return _new_testbed()


@contextmanager
def private_testbed(*names: str) -> Iterator[Testbed]:
    """A testbed of one test's own, whatever ``TESTBED_DIR`` says: ``names`` started in a new
    directory, stopped and removed at the end. For a service that must start differently
    (``TESTBED_TOKEN_EXPIRATION`` in this process's environment, read as Keystone starts)."""
    handle = _new_testbed()
    try:
        yield handle.need(*names)
    finally:
        remove(handle)


def remove(testbed: Testbed) -> None:
    """Stop what the session started; keep its logs only when something failed."""
    testbed.close()
    if testbed.owned and not os.environ.get("TESTBED_KEEP"):
        shutil.rmtree(testbed.bed.root, ignore_errors=True)


def poll(
    what: str, probe: Callable[[], T | None], timeout: float = 90.0, interval: float = 0.5
) -> T:
    """``probe()`` once truthy; agents and alarms report on intervals, so tests wait for them."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"{what}: not seen within {timeout:.0f}s (last: {last!r})")


def running_again(bed: Bed, service: str, process: str | None = None) -> None:
    """Whatever a test left stopped or frozen runs again (a restart waits for the service's
    probe); for the ``finally`` of a test that breaks the testbed on purpose."""
    for proc in faults.select(bed, service, process):
        if not proc.running:
            faults.restart(bed, service, proc.name)
        elif proc.frozen:
            faults.thaw(bed, service, proc.name)
