"""Calls side by side under one deadline: a hanging one costs itself, and only one thread."""

from __future__ import annotations

import threading
import time

from keystoneauth1 import exceptions as ksa_exc

from exporter.collectors.openstack.tasks import Calls


def test_a_hanging_call_times_out_alone_and_is_not_started_twice() -> None:
    release = threading.Event()
    started = []

    def hang() -> int:
        started.append(1)
        release.wait(30)
        return 1

    calls = Calls()
    first = calls.run({"hang": hang, "fast": lambda: 7}, time.monotonic() + 0.2)
    assert first["fast"].value == 7
    assert first["fast"].ok
    assert first["hang"].error == "timed out (cycle deadline)"
    second = calls.run({"hang": hang, "fast": lambda: 8}, time.monotonic() + 0.2)
    assert second["hang"].error == "still blocked in an earlier cycle"
    assert second["fast"].value == 8
    assert len(started) == 1
    release.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        third = calls.run({"hang": lambda: 3}, time.monotonic() + 1)
        if third["hang"].ok:
            break
        time.sleep(0.05)
    assert third["hang"].value == 3


def test_cloud_errors_become_one_line_and_bugs_do_not_escape() -> None:
    def refused() -> None:
        raise ksa_exc.ConnectFailure(
            "Unable to establish connection: [Errno 111] Connection refused"
        )

    def bug() -> None:
        raise KeyError("boom")

    out = Calls().run({"refused": refused, "bug": bug}, time.monotonic() + 5)
    assert out["refused"].error == "connection refused"
    assert out["bug"].error == "internal error: KeyError"
