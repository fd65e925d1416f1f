"""The private libvirtd with three tiny QEMU domains, shared by the real-libvirt tests.

One daemon per session: starting it costs ~0.1 s, starting three domains ~1-2 s, and
destroying them ~2 s, so per-test daemons would add up. Tests that stop, kill or restart
libvirtd get it back running before the next test (``libvirtd`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.image import Build
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


IMAGE_BUILD = pytest.StashKey[Build]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Image tests run last, and the image builds in the background from here on: the other
    tests run meanwhile instead of waiting for the build."""
    image = [item for item in items if item.get_closest_marker("image")]
    if not image:
        return
    items[:] = [item for item in items if not item.get_closest_marker("image")] + image
    _image_build(config).start()


@pytest.fixture(scope="session")
def image(pytestconfig: pytest.Config) -> str:
    """The image, built by ``make image``; the build's output."""
    return _image_build(pytestconfig).wait()


def _image_build(config: pytest.Config) -> Build:
    """The session's one build of the image (``make image``), made on first use."""
    if IMAGE_BUILD not in config.stash:
        log = Path(str(config.rootpath)) / "build" / "image-build.log"
        log.parent.mkdir(exist_ok=True)
        config.stash[IMAGE_BUILD] = Build(log)
    return config.stash[IMAGE_BUILD]
