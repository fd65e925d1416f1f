"""The private libvirtd with three tiny QEMU domains, shared by the real-libvirt tests.

One daemon per session: starting it costs ~0.1 s, starting three domains ~1-2 s, and
destroying them ~2 s, so per-test daemons would add up. Tests that stop, kill or restart
libvirtd get it back running before the next test (``libvirtd`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.libvirtd import PrivateLibvirtd, private_libvirtd, unavailable_reason
from tests.support.servers import require
from tests.support.testbed import Testbed, open_testbed, remove


def _capabilities_cache(config: pytest.Config) -> Path | None:
    """A /var/cache/libvirt kept in pytest's cache dir: QEMU probing costs ~5 s otherwise."""
    cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider
    return None if cache is None else Path(cache.mkdir("private-libvirtd"))


@pytest.fixture(scope="session")
def libvirtd_session(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[PrivateLibvirtd]:
    reason = unavailable_reason()
    require(reason is None, f"private libvirtd unavailable: {reason}")
    base = tmp_path_factory.mktemp("libvirtd")
    with private_libvirtd(base, domains=3, cache_dir=_capabilities_cache(pytestconfig)) as d:
        yield d


@pytest.fixture
def libvirtd(libvirtd_session: PrivateLibvirtd) -> PrivateLibvirtd:
    """The session daemon, running (not stopped) and re-attached to its domains."""
    libvirtd_session.ensure_running()
    return libvirtd_session


@pytest.fixture(scope="session")
def testbed() -> Iterator[Testbed]:
    """The OpenStack testbed of this session (see tests/support/testbed.py)."""
    handle = open_testbed()
    try:
        yield handle
    finally:
        remove(handle)
