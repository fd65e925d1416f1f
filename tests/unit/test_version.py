"""The version lives in pyproject.toml only; both packages read it from the installed metadata."""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Iterator

import pytest

import alerts
import exporter

DIST = "openstack-telemetry-bridge"


@pytest.fixture
def reload_packages() -> Iterator[None]:
    """Re-import both packages after the test, with the real metadata back in place."""
    yield
    importlib.reload(exporter)
    importlib.reload(alerts)


def test_both_packages_report_the_installed_distribution_version() -> None:
    assert exporter.__version__ == alerts.__version__ == importlib.metadata.version(DIST)


@pytest.mark.usefixtures("reload_packages")
def test_version_comes_from_the_distribution_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fake_version(name: str) -> str:
        asked.append(name)
        return "9.8.7"

    monkeypatch.setattr(importlib.metadata, "version", fake_version)
    assert importlib.reload(exporter).__version__ == "9.8.7"
    assert importlib.reload(alerts).__version__ == "9.8.7"
    assert set(asked) == {DIST}


@pytest.mark.usefixtures("reload_packages")
def test_a_checkout_without_install_has_an_unknown_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert importlib.reload(exporter).__version__ == "0+unknown"
    assert importlib.reload(alerts).__version__ == "0+unknown"
