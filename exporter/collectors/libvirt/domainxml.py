"""What the domain XML says that stats do not: Nova metadata, OS type, disk and NIC details.

Parsing XML for every domain on every cycle would dominate the cycle, so descriptions are
cached per domain UUID and re-read only when the domain changed (see ``DescriptionCache``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

NOVA_NAMESPACES = (
    "http://openstack.org/xmlns/libvirt/nova/1.1",
    "http://openstack.org/xmlns/libvirt/nova/1.0",
)


@dataclass(frozen=True, slots=True)
class NovaInfo:
    instance_name: str = ""
    flavor_name: str = ""
    user_name: str = ""
    user_id: str = ""
    project_name: str = ""
    project_id: str = ""


@dataclass(frozen=True, slots=True)
class Disk:
    target_device: str
    device: str = "disk"
    disk_type: str = ""
    target_bus: str = ""
    driver_name: str = ""
    driver_type: str = ""
    driver_cache: str = ""
    driver_discard: str = ""
    source_file: str = ""
    source_protocol: str = ""
    serial: str = ""

    @property
    def is_media(self) -> bool:
        """cdrom and floppy drives: no useful I/O stats, skipped like other exporters do."""
        return self.device in {"cdrom", "floppy"}


@dataclass(frozen=True, slots=True)
class Interface:
    target_device: str
    interface_type: str = ""
    source_bridge: str = ""
    mac_address: str = ""
    model_type: str = ""
    mtu_size: str = ""


@dataclass(frozen=True, slots=True)
class DomainDescription:
    name: str
    uuid: str
    os_type: str = ""
    os_arch: str = ""
    os_machine: str = ""
    max_memory_kib: int = 0
    current_memory_kib: int = 0
    max_vcpus: int = 0
    current_vcpus: int = 0
    nova: NovaInfo = field(default_factory=NovaInfo)
    disks: tuple[Disk, ...] = ()
    interfaces: tuple[Interface, ...] = ()

    @property
    def stat_disks(self) -> tuple[Disk, ...]:
        return tuple(d for d in self.disks if not d.is_media)


def _attr(element: ET.Element | None, name: str) -> str:
    return "" if element is None else element.get(name, "")


def _text(element: ET.Element | None) -> str:
    return "" if element is None or element.text is None else element.text.strip()


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _nova(root: ET.Element) -> NovaInfo:
    metadata = root.find("metadata")
    if metadata is None:
        return NovaInfo()
    for ns in NOVA_NAMESPACES:
        instance = metadata.find(f"{{{ns}}}instance")
        if instance is None:
            continue
        n = f"{{{ns}}}"
        user = instance.find(f"{n}owner/{n}user")
        project = instance.find(f"{n}owner/{n}project")
        return NovaInfo(
            instance_name=_text(instance.find(f"{n}name")),
            flavor_name=_attr(instance.find(f"{n}flavor"), "name"),
            user_name=_text(user),
            user_id=_attr(user, "uuid"),
            project_name=_text(project),
            project_id=_attr(project, "uuid"),
        )
    return NovaInfo()


def _disk(el: ET.Element) -> Disk | None:
    target = el.find("target")
    dev = _attr(target, "dev")
    if not dev:
        return None
    driver = el.find("driver")
    source = el.find("source")
    source_file = _attr(source, "file") or _attr(source, "dev") or _attr(source, "name")
    return Disk(
        target_device=dev,
        device=el.get("device", "disk"),
        disk_type=el.get("type", ""),
        target_bus=_attr(target, "bus"),
        driver_name=_attr(driver, "name"),
        driver_type=_attr(driver, "type"),
        driver_cache=_attr(driver, "cache"),
        driver_discard=_attr(driver, "discard"),
        source_file=source_file,
        source_protocol=_attr(source, "protocol"),
        serial=_text(el.find("serial")),
    )


def _interface(el: ET.Element) -> Interface | None:
    dev = _attr(el.find("target"), "dev")
    if not dev:
        return None
    source = el.find("source")
    return Interface(
        target_device=dev,
        interface_type=el.get("type", ""),
        source_bridge=_attr(source, "bridge") or _attr(source, "network"),
        mac_address=_attr(el.find("mac"), "address"),
        model_type=_attr(el.find("model"), "type"),
        mtu_size=_attr(el.find("mtu"), "size"),
    )


def parse_domain_xml(xml: str) -> DomainDescription:
    """Parse ``virDomainGetXMLDesc`` output; raises ``ValueError`` if it is not domain XML."""
    try:
        root = ET.fromstring(xml)  # noqa: S314 - libvirt's own output
    except ET.ParseError as exc:
        raise ValueError(f"domain XML does not parse: {exc}") from None
    if root.tag != "domain":
        raise ValueError(f"expected <domain>, got <{root.tag}>")
    os_type = root.find("os/type")
    vcpu = root.find("vcpu")
    max_vcpus = _int(_text(vcpu))
    devices = root.find("devices")
    disks: list[Disk] = []
    interfaces: list[Interface] = []
    if devices is not None:
        disks = [d for d in map(_disk, devices.findall("disk")) if d is not None]
        interfaces = [i for i in map(_interface, devices.findall("interface")) if i is not None]
    return DomainDescription(
        name=_text(root.find("name")),
        uuid=_text(root.find("uuid")),
        os_type=_text(os_type),
        os_arch=_attr(os_type, "arch"),
        os_machine=_attr(os_type, "machine"),
        max_memory_kib=_int(_text(root.find("memory"))),
        current_memory_kib=_int(_text(root.find("currentMemory"))),
        max_vcpus=max_vcpus,
        current_vcpus=_int(_attr(vcpu, "current")) or max_vcpus,
        nova=_nova(root),
        disks=tuple(disks),
        interfaces=tuple(interfaces),
    )
