"""One bad domain costs its own series only; a crashed cycle keeps ``libvirt_up``.

The collector runs against fake libvirt objects so that each way a domain can be bad (XML
the parser refuses, a record with odd values, a per-domain call with an odd answer) can be
set up exactly; tests/e2e/test_bad_domain.py does the same against libvirt's test driver.
"""

from __future__ import annotations

import logging
from typing import Any

import libvirt
import pytest

from exporter.collectors.libvirt.collector import LibvirtCollector
from exporter.collectors.libvirt.connection import LibvirtConnection
from exporter.exposition import render
from exporter.scheduler import CollectorRunner
from exporter.snapshot import Snapshot
from tests.support.metrics import Samples, parse_samples, sample

NOVA = "http://openstack.org/xmlns/libvirt/nova/1.1"


def domain_xml(name: str, uuid: str, flavor_attrs: str = "") -> str:
    return f"""<domain type='kvm'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <metadata>
    <nova:instance xmlns:nova="{NOVA}">
      <nova:name>{name}-display</nova:name>
      <nova:flavor name="m1.small"{flavor_attrs}/>
    </nova:instance>
  </metadata>
  <memory unit='KiB'>1048576</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><target dev='vda' bus='virtio'/></disk>
    <interface type='bridge'><target dev='tap0'/></interface>
  </devices>
</domain>"""


# What libvirt really hands back for metadata with an undeclared prefix (see the e2e test):
# it keeps the attribute, the XML no longer parses.
BAD_XML_ATTRS = ' extra:tier="gold"'


class FakeDomain:
    def __init__(self, name: str, uuid: str, xml: str, calls: dict[str, Any]) -> None:
        self._name = name
        self._uuid = uuid
        self._xml = xml
        self._calls = calls

    def name(self) -> str:
        return self._name

    def UUIDString(self) -> str:  # noqa: N802 - libvirt's name
        return self._uuid

    def XMLDesc(self, _flags: int) -> str:  # noqa: N802 - libvirt's name
        return self._xml

    def info(self) -> list[int]:
        return [1, 1048576, 1048576, 1, 5_000_000_000]

    def memoryStats(self) -> dict[str, int]:  # noqa: N802 - libvirt's name
        return {"rss": 1000}

    def vcpus(self) -> Any:
        return ([(0, 1, 1_000_000_000, 0)], [(True,)])

    def blockStats(self, _dev: str) -> list[int]:  # noqa: N802 - libvirt's name
        return list(self._calls.get("blockStats", [1, 2, 3, 4, -1]))

    def blockInfo(self, _dev: str) -> list[int]:  # noqa: N802 - libvirt's name
        return [1073741824, 0, 0]

    def interfaceStats(self, _dev: str) -> list[int]:  # noqa: N802 - libvirt's name
        return [1, 2, 3, 4, 5, 6, 7, 8]


def libvirt_error(code: int) -> libvirt.libvirtError:
    exc = libvirt.libvirtError("fake")
    exc.err = (code, 0, "fake", 0, "", None, None, 0, 0)
    return exc


class FakeConn:
    def __init__(self, records: list[tuple[FakeDomain, dict[str, Any]]], bulk: bool) -> None:
        self.records = records
        self.bulk = bulk
        self.crash: Exception | None = None

    def getAllDomainStats(  # noqa: N802 - libvirt's name
        self, _groups: int, _flags: int
    ) -> list[tuple[FakeDomain, dict[str, Any]]]:
        if self.crash is not None:
            raise self.crash
        if not self.bulk:
            raise libvirt_error(libvirt.VIR_ERR_NO_SUPPORT)
        return self.records

    def listAllDomains(self, _flags: int) -> list[FakeDomain]:  # noqa: N802 - libvirt's name
        return [dom for dom, _ in self.records]


class FakeConnection(LibvirtConnection):
    def __init__(self, uri: str, conn: FakeConn) -> None:
        super().__init__(uri)
        self.conn = conn

    def get(self) -> Any:
        return self.conn

    def alive(self) -> bool:
        return True

    def reset(self) -> None:
        pass


def make_collector(conn: FakeConn) -> LibvirtCollector:
    def connect(uri: str) -> LibvirtConnection:
        return FakeConnection(uri, conn)

    return LibvirtCollector("test:///fake", connect=connect)


def running(dev_bytes: object = 4096) -> dict[str, Any]:
    return {
        "state.state": 1,
        "cpu.time": 1_000_000_000,
        "balloon.current": 1048576,
        "block.count": 1,
        "block.0.name": "vda",
        "block.0.rd.bytes": dev_bytes,
        "net.count": 1,
        "net.0.name": "tap0",
        "net.0.rx.bytes": 10,
    }


def uuid(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


def dom(n: int, name: str, xml_attrs: str = "", **calls: Any) -> FakeDomain:
    return FakeDomain(name, uuid(n), domain_xml(name, uuid(n), xml_attrs), calls)


def domains_in(got: Samples) -> set[str]:
    return {v for (_, labels) in got for k, v in labels if k == "domain"}


def skipped(got: Samples, reason: str) -> float:
    return sample(got, "libvirt_domains_skipped", reason=reason)


def warnings_for(caplog: pytest.LogCaptureFixture, uuid_: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and getattr(r, "uuid", None) == uuid_
    ]


def test_bulk_path_bad_domains_cost_only_their_own_series(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conn = FakeConn(
        [
            (dom(1, "good-a"), running()),
            (dom(2, "bad-xml", BAD_XML_ATTRS), running()),
            (dom(3, "bad-record"), running(dev_bytes="n/a")),
            (dom(4, "bad-state"), {**running(), "state.state": "running"}),
            (dom(5, "good-b"), running()),
        ],
        bulk=True,
    )
    collector = make_collector(conn)
    caplog.set_level(logging.DEBUG, logger="exporter.collectors.libvirt.collector")
    for _ in range(3):  # several cycles: each bad domain is logged once, not every cycle
        result = collector.collect()
        assert result.success, result.error
        got = parse_samples(render(result.families).decode())
        assert sample(got, "libvirt_up") == 1
        assert sample(got, "libvirt_domains") == 5
        assert skipped(got, "domain_xml") == 1
        assert skipped(got, "stats") == 2
        assert domains_in(got) == {"good-a", "good-b"}
        read = sample(
            got, "libvirt_domain_block_stats_read_bytes_total", domain="good-b", target_device="vda"
        )
        assert read == 4096
    assert collector.mode == "bulk"
    for n, name in ((2, "bad-xml"), (3, "bad-record"), (4, "bad-state")):
        logged = warnings_for(caplog, uuid(n))
        assert len(logged) == 1, (name, logged)
        assert getattr(logged[0], "domain", None) == name
    assert warnings_for(caplog, uuid(1)) == []


def test_a_domain_that_recovers_is_back_and_logged_again_if_it_breaks_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = running()
    conn = FakeConn([(dom(1, "good-a"), running()), (dom(2, "flappy"), good)], bulk=True)
    collector = make_collector(conn)
    caplog.set_level(logging.WARNING, logger="exporter.collectors.libvirt.collector")
    conn.records[1] = (conn.records[1][0], running(dev_bytes=[1]))
    got = parse_samples(render(collector.collect().families).decode())
    assert domains_in(got) == {"good-a"}
    conn.records[1] = (conn.records[1][0], good)
    got = parse_samples(render(collector.collect().families).decode())
    assert domains_in(got) == {"good-a", "flappy"}
    assert skipped(got, "stats") == 0
    conn.records[1] = (conn.records[1][0], running(dev_bytes="x"))
    collector.collect()
    assert len(warnings_for(caplog, uuid(2))) == 2


def test_per_domain_path_bad_domains_cost_only_their_own_series() -> None:
    conn = FakeConn(
        [
            (dom(1, "good-a"), {}),
            (dom(2, "bad-xml", BAD_XML_ATTRS), {}),
            # blockStats answering 3 fields instead of 4 or 5: the record cannot be built.
            (dom(3, "bad-calls", blockStats=[1, 2, 3]), {}),
        ],
        bulk=False,
    )
    collector = make_collector(conn)
    result = collector.collect()
    assert result.success, result.error
    assert collector.mode == "per-domain"
    got = parse_samples(render(result.families).decode())
    assert sample(got, "libvirt_up") == 1
    assert sample(got, "libvirt_domains") == 3
    assert skipped(got, "domain_xml") == 1
    assert skipped(got, "stats") == 1
    assert domains_in(got) == {"good-a"}


def test_an_unexpected_error_after_connecting_keeps_libvirt_up() -> None:
    conn = FakeConn([(dom(1, "good-a"), running())], bulk=True)
    collector = make_collector(conn)
    snapshot = Snapshot(["libvirt"])
    runner = CollectorRunner(collector, interval=1.0, timeout=5.0, snapshot=snapshot)
    assert runner.run_once()
    conn.crash = RuntimeError("a bug in the stats path, secret=hunter2")
    assert not runner.run_once()
    body = snapshot.body().plain().decode()
    got = parse_samples(body)
    assert sample(got, "libvirt_up") == 1
    assert sample(got, "openstack_exporter_collector_success", collector="libvirt") == 0
    assert domains_in(got) == set()  # nothing stale about the domains
    assert "hunter2" not in body
