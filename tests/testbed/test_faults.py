"""Faults on the real testbed (testbed/faults.py), and what OpenStack reports about them.

A frozen API stops answering until thawed; a stopped one comes back on its port; stopped or
frozen daemons are reported down within the testbed's short down times and up again after;
Heat answers 503 without an engine and lists a crashed one as down. Every test leaves the
processes it touched running, so the session's other tests find the testbed whole.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from openstack import connection

from testbed import faults
from testbed.bed import answers, http_status
from testbed.services import heat
from tests.support.testbed import Testbed, poll, running_again

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

# Nova, Cinder and Neutron count a service or agent down after 20 s without a report.
DOWN_WITHIN = 45.0


@pytest.fixture
def cloud(testbed: Testbed) -> Iterator[connection.Connection]:
    conn = testbed.connect()
    yield conn
    conn.close()


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_a_frozen_api_answers_again_once_thawed(testbed: Testbed) -> None:
    bed = testbed.need("placement").bed
    url = bed.info("placement")["url"]
    assert answers(url)
    try:
        [api] = faults.freeze(bed, "placement")
        assert api.frozen
        with pytest.raises(TimeoutError):  # the connection is accepted, never answered
            http_status(url, timeout=3)
        faults.thaw(bed, "placement")
        assert not api.frozen
        poll("placement answering after thaw", lambda: answers(url), timeout=30)
    finally:
        running_again(bed, "placement", "placement")


def test_a_stopped_api_restarts_on_its_port(testbed: Testbed) -> None:
    bed = testbed.need("placement").bed
    url, port = bed.info("placement")["url"], bed.port("placement")
    try:
        [old] = faults.stop(bed, "placement")
        assert not old.running
        assert _refused(port)
        [new] = faults.restart(bed, "placement")
        assert new.pid != old.pid
        assert new.command == old.command
        assert answers(url)
        assert [p.pid for p in bed.procs("placement")] == [new.pid]
    finally:
        running_again(bed, "placement", "placement")


def _states(cloud: connection.Connection) -> dict[str, bool]:
    """Whether Nova's compute, Cinder's volume service and the OVS agent are reported up."""
    nova = {s.binary: s.state == "up" for s in cloud.compute.services()}
    cinder = {s.binary: s.state == "up" for s in cloud.block_storage.services()}
    agents = {a.binary: bool(a.is_alive) for a in cloud.network.agents()}
    return {
        "nova-compute": nova["nova-compute"],
        "cinder-volume": cinder["cinder-volume"],
        "neutron-openvswitch-agent": agents["neutron-openvswitch-agent"],
    }


def test_daemons_out_of_service_are_reported_down_then_up(
    testbed: Testbed, cloud: connection.Connection
) -> None:
    """The compute is frozen rather than stopped: the fake virt driver keeps its guests in
    memory, so a restarted compute no longer knows the server (its power state turns
    NOSTATE); the volume service and the OVS agent are stopped and restarted."""
    bed = testbed.need("nova", "cinder", "neutron").bed
    poll("all reported up", lambda: all(_states(cloud).values()))
    began = time.monotonic()
    try:
        faults.freeze(bed, "nova", "nova-compute")
        faults.stop(bed, "cinder", "cinder-volume")
        faults.stop(bed, "neutron", "neutron-ovs-agent")
        poll("all reported down", lambda: not any(_states(cloud).values()), timeout=DOWN_WITHIN)
        assert time.monotonic() - began < DOWN_WITHIN
        faults.thaw(bed, "nova", "nova-compute")
        faults.restart(bed, "cinder", "cinder-volume")
        faults.restart(bed, "neutron", "neutron-ovs-agent")
        poll("all reported up again", lambda: all(_states(cloud).values()), timeout=60)
    finally:
        running_again(bed, "nova", "nova-compute")
        running_again(bed, "cinder", "cinder-volume")
        running_again(bed, "neutron", "neutron-ovs-agent")


def _heat_services(cloud: connection.Connection) -> tuple[int, Any]:
    response = cloud.orchestration.get("/services", raise_exc=False)
    return response.status_code, response.json()


def _engines(cloud: connection.Connection) -> list[str] | None:
    """The engines' statuses once Heat answers 200 with at least one."""
    status, body = _heat_services(cloud)
    found = sorted(e["status"] for e in body["services"]) if status == 200 else []
    return found or None


def test_heat_without_engines_answers_503_and_lists_a_crashed_one_down(
    testbed: Testbed, cloud: connection.Connection
) -> None:
    bed = testbed.need("heat").bed
    assert poll("an engine up", lambda: _engines(cloud)) == ["up"]
    try:
        faults.stop(bed, "heat", "heat-engine")
        asked = time.monotonic()
        status, body = _heat_services(cloud)
        assert status == 503
        assert body["error"]["message"] == "All heat engines are down."
        # heat-api waited for an engine's answer until its RPC timeout.
        assert time.monotonic() - asked >= heat.RPC_TIMEOUT - 1
        faults.restart(bed, "heat", "heat-engine")
        assert poll("the engine back", lambda: _engines(cloud)) == ["up"]
        # A killed engine leaves its record: the next one lists it down after two intervals.
        killed = time.monotonic()
        faults.kill(bed, "heat", "heat-engine")
        faults.restart(bed, "heat", "heat-engine")
        assert poll("one up, one down", lambda: _engines(cloud) == ["down", "up"] or None)
        # An engine starting removes records older than three intervals.
        time.sleep(max(0.0, killed + 3 * heat.REPORT_INTERVAL + 1 - time.monotonic()))
        faults.restart(bed, "heat", "heat-engine")
        assert poll("only the new engine", lambda: _engines(cloud) == ["up"] or None)
    finally:
        running_again(bed, "heat", "heat-engine")
