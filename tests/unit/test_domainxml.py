"""Domain XML parsing: Nova metadata, devices, and the cache's invalidation rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.collectors.libvirt.collector import DescriptionCache
from exporter.collectors.libvirt.domainxml import NovaInfo, parse_domain_xml

NOVA_XML = """
<domain type='kvm' id='3'>
  <name>instance-0000002a</name>
  <uuid>0b6ab5f5-6c43-4e4c-9e0d-54d2cb8f1e2b</uuid>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:package version="30.0.0"/>
      <nova:name>web-03</nova:name>
      <nova:flavor name="m1.small"><nova:memory>2048</nova:memory></nova:flavor>
      <nova:owner>
        <nova:user uuid="9f1c">alice</nova:user>
        <nova:project uuid="77ab">web-shop</nova:project>
      </nova:owner>
    </nova:instance>
  </metadata>
  <memory unit='KiB'>2097152</memory>
  <currentMemory unit='KiB'>1048576</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' discard='unmap'/>
      <source file='/var/lib/nova/instances/0b6a/disk'/>
      <target dev='vda' bus='virtio'/>
      <serial>0b6ab5f5</serial>
    </disk>
    <disk type='network' device='disk'>
      <source protocol='rbd' name='volumes/volume-1'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <target dev='sda' bus='sata'/>
    </disk>
    <interface type='bridge'>
      <mac address='fa:16:3e:00:00:01'/>
      <source bridge='br-int'/>
      <target dev='tap81332876-37'/>
      <model type='virtio'/>
      <mtu size='1450'/>
    </interface>
    <interface type='network'><source network='default'/></interface>
  </devices>
</domain>
"""


def test_nova_metadata_and_devices() -> None:
    desc = parse_domain_xml(NOVA_XML)
    assert desc.name == "instance-0000002a"
    assert desc.uuid == "0b6ab5f5-6c43-4e4c-9e0d-54d2cb8f1e2b"
    assert desc.nova == NovaInfo("web-03", "m1.small", "alice", "9f1c", "web-shop", "77ab")
    assert (desc.os_type, desc.os_arch, desc.os_machine) == ("hvm", "x86_64", "pc-q35-7.2")
    assert (desc.max_memory_kib, desc.current_memory_kib) == (2097152, 1048576)
    assert (desc.max_vcpus, desc.current_vcpus) == (2, 1)
    assert [d.target_device for d in desc.disks] == ["vda", "vdb", "sda"]
    assert [d.target_device for d in desc.stat_disks] == ["vda", "vdb"]
    vda, vdb = desc.disks[0], desc.disks[1]
    assert (vda.driver_type, vda.driver_cache, vda.driver_discard, vda.serial) == (
        "qcow2",
        "none",
        "unmap",
        "0b6ab5f5",
    )
    assert (vdb.source_protocol, vdb.source_file) == ("rbd", "volumes/volume-1")
    # An interface without a target device has no stats to match, so it is left out.
    assert [(i.target_device, i.mac_address, i.mtu_size) for i in desc.interfaces] == [
        ("tap81332876-37", "fa:16:3e:00:00:01", "1450")
    ]


def test_nova_1_0_namespace_and_plain_domain() -> None:
    old = NOVA_XML.replace("nova/1.1", "nova/1.0")
    assert parse_domain_xml(old).nova.instance_name == "web-03"
    plain = parse_domain_xml("<domain><name>x</name><uuid>u</uuid></domain>")
    assert plain.nova == NovaInfo()
    assert plain.disks == ()


@pytest.mark.parametrize("xml", ["<domain", "<node/>", ""])
def test_bad_xml_is_value_error(xml: str) -> None:
    with pytest.raises(ValueError, match=r"domain XML|expected <domain>"):
        parse_domain_xml(xml)


class _Dom:
    """Stands in for virDomain: only the two calls the cache makes."""

    def __init__(self, xml: str) -> None:
        self.xml = xml
        self.xml_reads = 0

    def UUIDString(self) -> str:  # noqa: N802 - libvirt's name
        return "0b6ab5f5-6c43-4e4c-9e0d-54d2cb8f1e2b"

    def XMLDesc(self, _flags: int = 0) -> str:  # noqa: N802 - libvirt's name
        self.xml_reads += 1
        return self.xml


def test_cache_reads_xml_once_until_state_or_devices_change() -> None:
    cache = DescriptionCache()
    dom = _Dom(NOVA_XML)
    devices = frozenset({"vda", "tap81332876-37"})
    for _ in range(3):
        cache.get(dom, 1, devices)
    assert dom.xml_reads == 1
    dom.xml = NOVA_XML.replace("m1.small", "m1.large")
    cache.get(dom, 1, devices | {"vdc"})  # hot-plugged volume
    assert dom.xml_reads == 2
    desc = cache.get(dom, 5, None)  # shut off for a resize
    assert dom.xml_reads == 3
    assert desc.nova.flavor_name == "m1.large"
    cache.keep_only(set())
    assert len(cache) == 0


def test_recorded_qemu_domain_xml_parses() -> None:
    path = Path(__file__).parent / "fixtures" / "qemu_domain.xml"
    desc = parse_domain_xml(path.read_text())
    assert desc.nova.instance_name
    assert desc.disks[0].target_device == "vda"
    assert desc.interfaces[0].target_device.startswith("tap")
