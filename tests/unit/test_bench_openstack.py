"""The OpenStack bench's arithmetic: bodies read, cycles found, requests split by cycle."""

from __future__ import annotations

from bench.bench_openstack import (
    Body,
    Status,
    cycles_of,
    pages,
    read_body,
    requests_per_cycle,
    token_figures,
)
from tests.support.proxy import Seen

H = "openstack:testbed:health"
I = "openstack:testbed:inventory"  # noqa: E741 - reads like the collector it names

SCOPE = 'cloud="testbed",region="RegionOne"'
BODY = f"""# HELP openstack_nova_total_vms Servers of every project.
openstack_nova_total_vms{{{SCOPE}}} 1000.0
openstack_exporter_api_requests_total{{{SCOPE},service_type="compute",code="200"}} 7.0
openstack_exporter_api_requests_total{{{SCOPE},service_type="identity",code="201"}} 1.0
openstack_exporter_token_requests_total{{{SCOPE}}} 1.0
openstack_exporter_collector_success{{collector="{H}"}} 1.0
openstack_exporter_collector_success{{collector="{I}"}} 0.0
openstack_exporter_collector_duration_seconds{{collector="{H}"}} 0.5
openstack_exporter_collector_duration_seconds{{collector="{I}"}} 10.1
openstack_exporter_collector_last_success_timestamp_seconds{{collector="{H}"}} 1000.5
openstack_exporter_collector_timeouts_total{{collector="{H}"}} 0.0
openstack_exporter_collector_timeouts_total{{collector="{I}"}} 0.0
""".encode()


def test_a_body_gives_cycles_counters_and_servers() -> None:
    body = read_body(BODY, at=1001.0, latency=0.001)
    assert body.status[H] == Status(True, 0.5, 1000.5, 0.0)
    assert body.status[I] == Status(False, 10.1, None, 0.0)
    assert body.requests == {("compute", "200"): 7.0, ("identity", "201"): 1.0}
    assert (body.tokens, body.servers, body.series) == (1.0, 1000.0, 11)


def _add(count: dict[tuple[str, str], float], service: str, n: float) -> None:
    count[(service, "200")] = count.get((service, "200"), 0.0) + n


def _timeline(seconds: int) -> list[Body]:
    """Health every 10 s (0.5 s, 3 compute + 2 placement requests), inventory every 30 s
    (8 s, 40 compute + 60 block-storage requests spread over its run, every other one
    failing), scraped every second."""
    bodies: list[Body] = []
    count: dict[tuple[str, str], float] = {}
    health: Status | None = None
    inventory: Status | None = None
    inv_done = 0.0
    for t in range(seconds + 1):
        now = 100.0 + t
        if t % 30 and t % 30 <= 8:  # inventory running: its requests land one by one
            _add(count, "compute", 5)
            _add(count, "block-storage", 7.5)
        if t % 30 == 8:
            inv_done += 1
            ok = inv_done % 2 == 1
            inventory = Status(ok, 8.0, now if ok else None, 0.0)
        if t % 10 == 0:  # a health cycle ends: its requests, then the counter snapshot
            _add(count, "compute", 3)
            _add(count, "placement", 2)
            health = Status(True, 0.5 + t / 1000, now, 0.0)
            snapshot = dict(count)
        status = {k: v for k, v in ((H, health), (I, inventory)) if v is not None}
        if health is not None:
            bodies.append(Body(now + 0.1, 0.001, status, snapshot, 1.0, 1000.0, 10))
    return bodies


def test_failed_cycles_are_seen_too() -> None:
    cycles = cycles_of(_timeline(120), I)
    assert [c.ok for c in cycles] == [True, False, True, False]
    assert cycles[1].end == 138.1  # the first scrape that showed the failed cycle


def test_requests_split_between_health_and_inventory() -> None:
    got = requests_per_cycle(_timeline(240), H, I, since=100.0)
    assert got["health"] == {"compute": 3, "placement": 2}
    assert got["inventory"] == {"block-storage": 60, "compute": 40}
    assert got["failed_inventory"] == {"block-storage": 60, "compute": 40}
    assert got["health_samples"] >= 3
    assert got["inventory_samples"] >= 2
    assert len(got["failed_inventory_totals"]) >= 2


def test_pages_count_the_sdks_extra_request() -> None:
    assert [pages(n) for n in (0, 10, 1000, 1001)] == [1, 2, 2, 3]


def test_one_login_per_token_lifetime() -> None:
    logins = [Seen(t, "POST", "/v3/auth/tokens", 201) for t in (0.0, 181.0, 362.0)]
    ok = token_figures(logins, 3.0, 400.0, 300)
    assert ok["ok"]
    assert ok["allowed"] == 3
    early = token_figures(
        [*logins[:2], Seen(200.0, "POST", "/v3/auth/tokens", 201)], 3.0, 400.0, 300
    )
    assert not early["ok"]
