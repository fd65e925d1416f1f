"""The bridge process with its state file on a disk that fills up and is freed again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.alertmanager_process import Alertmanagers
from tests.support.bridge import aodh_payload, run_bridge, state_args
from tests.support.smallfs import fill, small_tmpfs
from tests.support.testbed import poll

pytestmark = pytest.mark.slow


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "small") as mounted:
        yield mounted


def test_webhook_refused_while_the_disk_is_full_and_the_next_one_delivered(
    ams: Alertmanagers, disk: Path
) -> None:
    """Item 4, end to end: 503 while the state file cannot grow, 202 and delivery once it
    can. (SQLite rolls a transaction back by itself when COMMIT finds the disk full, so this
    passed before the fix too; the unit tests in test_bridge_store_commit.py make COMMIT
    fail the way that left the transaction open.)"""
    am = ams.new("am")
    with run_bridge(state_args(disk / "state.db", [am.url])) as bridge:
        assert bridge.post(aodh_payload("disk-1")).status == 202
        poll("disk-1 in Alertmanager", lambda: "disk-1" in am.firing_ids(), timeout=30)
        filler = fill(disk)
        refused = bridge.post(aodh_payload("disk-2"))
        assert refused.status == 503, refused
        filler.unlink()
        assert bridge.post(aodh_payload("disk-3")).status == 202
        poll("disk-3 in Alertmanager", lambda: "disk-3" in am.firing_ids(), timeout=30)
        assert "disk-2" not in am.firing_ids()
        assert bridge.request("GET", "/healthz").status == 200
        assert "cannot store webhooks" in bridge.logs()
