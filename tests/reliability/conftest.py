"""Fixtures the reliability tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.alertmanager_process import Alertmanagers, alertmanagers


@pytest.fixture
def ams(tmp_path: Path) -> Iterator[Alertmanagers]:
    """Real Alertmanagers for one test (``ams.new(name)``), all stopped at its end."""
    with alertmanagers(tmp_path / "am") as pool:
        yield pool
