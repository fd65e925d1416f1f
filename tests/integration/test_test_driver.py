"""In-process: the collector against libvirt's test driver on a generated Nova-like node file."""

from __future__ import annotations

from pathlib import Path

import libvirt
from prometheus_client.parser import text_string_to_metric_families

from demo.nodegen import render_node
from exporter.collectors.libvirt.collector import LibvirtCollector
from exporter.collectors.libvirt.domainxml import parse_domain_xml
from exporter.exposition import render


def _by_name(text: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append({**s.labels, "__value__": str(s.value)})
    return out


def test_every_domain_of_the_node_file_is_exported(tmp_path: Path) -> None:
    node = tmp_path / "node.xml"
    node.write_text(render_node(60, seed=3))
    uri = f"test://{node}"
    collector = LibvirtCollector(uri)
    result = collector.collect()
    assert result.success, result.error
    assert collector.mode == "per-domain"
    got = _by_name(render(result.families).decode())

    conn = libvirt.openReadOnly(uri)
    domains = conn.listAllDomains(0)
    assert got["libvirt_domains"][0]["__value__"] == str(float(len(domains)))
    running = {d.name() for d in domains if d.isActive()}
    assert 0 < len(running) < len(domains)  # the file has shut-off domains too

    infos = {s["domain"]: s for s in got["libvirt_domain_openstack_info"]}
    assert set(infos) == {d.name() for d in domains}
    for dom in domains:
        desc = parse_domain_xml(dom.XMLDesc(0))
        labels = infos[dom.name()]
        assert labels["instance_id"] == dom.UUIDString()
        assert labels["instance_name"] == desc.nova.instance_name != ""
        assert labels["flavor_name"] == desc.nova.flavor_name != ""
        assert labels["project_id"] == desc.nova.project_id != ""
        assert labels["user_name"] == desc.nova.user_name != ""
        state = dom.info()[0]
        states = [s for s in got["libvirt_domain_info_state"] if s["domain"] == dom.name()]
        assert [float(s["__value__"]) for s in states] == [float(state)]

    block_domains = {s["domain"] for s in got["libvirt_domain_block_stats_read_bytes_total"]}
    net_domains = {s["domain"] for s in got["libvirt_domain_interface_stats_receive_bytes_total"]}
    assert block_domains == running
    assert net_domains == running
    for sample in got["libvirt_domain_interface_stats_info"]:
        assert sample["target_device"].startswith("tap")
        assert sample["mac_address"].startswith("fa:16:3e:")


def test_unreachable_uri_reports_down_and_fails() -> None:
    collector = LibvirtCollector("qemu+unix:///system?socket=/nonexistent/libvirt-sock-ro")
    result = collector.collect()
    assert not result.success
    assert result.error is not None
    assert "cannot connect" in result.error
    text = render(result.families).decode()
    assert "libvirt_up 0.0" in text
    assert "libvirt_domain_" not in text
