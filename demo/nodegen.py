"""Generate libvirt ``test`` driver node files that look like a Nova compute host.

The exporter can then be run and demonstrated against
``test:///abs/path/node.xml`` without a real hypervisor, while still seeing
the domain names, Nova metadata and device layout it meets in production.
Output depends only on ``(count, seed, shutoff_every, paused)`` and the ``servers`` given:
domains standing for real Nova servers (``Server``), with their ids, names and owners, so
that the hypervisor's series join what the APIs and Gnocchi say about them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"
TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
NOVA_VERSION = "30.0.0"

# libvirt virDomainState values understood by the test driver's <test:runstate>.
RUNNING = 1
PAUSED = 3
SHUTOFF = 5

# Fixed namespace so project, user and image ids stay the same for every seed,
# as they would across the hosts of one cloud.
_STABLE_NS = uuid.UUID("6f1d3c2a-9b8e-4f7a-a1c5-3e2d4b6a8c90")


def _stable_uuid(key: str) -> uuid.UUID:
    """Seed-independent id, stamped as version 4 like the ones OpenStack mints."""
    return uuid.UUID(bytes=uuid.uuid5(_STABLE_NS, key).bytes, version=4)


# Nova's creationTime is UTC; the first instance on the host is this old.
_FIRST_CREATED = dt.datetime(2026, 1, 5, 9, 0, 0)


@dataclass(frozen=True)
class Flavor:
    """A Nova flavor as it appears in ``<nova:flavor>``."""

    name: str
    memory_mib: int
    vcpus: int
    disk_gib: int


FLAVORS: dict[str, Flavor] = {
    f.name: f
    for f in (
        Flavor("m1.tiny", 512, 1, 1),
        Flavor("m1.small", 2048, 1, 20),
        Flavor("m1.medium", 4096, 2, 40),
        Flavor("m1.large", 8192, 4, 80),
    )
}


@dataclass(frozen=True)
class Server:
    """A Nova server as its compute host would define it in libvirt."""

    uuid: str
    name: str
    domain: str
    """Nova's ``instance_name`` (``instance-%08x``), the libvirt domain name."""
    project_id: str
    project_name: str
    user_id: str
    user_name: str
    flavor: Flavor
    created: dt.datetime
    image_id: str
    mac: str
    ip: str
    runstate: int = 1


@dataclass(frozen=True)
class Role:
    """A kind of workload: its instance name prefix and likely flavors."""

    prefix: str
    flavors: tuple[str, ...]
    volume_chance: float


@dataclass(frozen=True)
class Project:
    """A Keystone project with its members and the roles it runs."""

    name: str
    users: tuple[str, ...]
    roles: tuple[Role, ...]


PROJECTS: tuple[Project, ...] = (
    Project(
        "web-shop",
        ("alice", "bob"),
        (
            Role("web", ("m1.small", "m1.medium"), 0.0),
            Role("api", ("m1.small", "m1.medium"), 0.0),
            Role("db", ("m1.large", "m1.medium"), 1.0),
            Role("cache", ("m1.small",), 0.0),
        ),
    ),
    Project(
        "k8s-prod",
        ("carol",),
        (
            Role("k8s-master", ("m1.medium",), 0.0),
            Role("k8s-worker", ("m1.large", "m1.large", "m1.medium"), 0.5),
        ),
    ),
    Project(
        "data-platform",
        ("dave", "erin"),
        (
            Role("kafka", ("m1.large",), 1.0),
            Role("etl", ("m1.medium", "m1.large"), 0.3),
        ),
    ),
    Project(
        "ci-runners",
        ("frank",),
        (Role("ci-runner", ("m1.tiny", "m1.small", "m1.small"), 0.0),),
    ),
)

# Drawn uniformly so every role shows up early, whatever its project's size.
_WORKLOADS: tuple[tuple[Project, Role], ...] = tuple((p, r) for p in PROJECTS for r in p.roles)

# Cinder's RBD backend: the libvirt secret and Ceph monitors every volume uses.
CEPH_SECRET = str(_stable_uuid("ceph/cinder"))
CEPH_MONS: tuple[str, ...] = ("10.0.40.11", "10.0.40.12", "10.0.40.13")

# Glance images by name; the uuid is derived so it is stable across seeds.
IMAGES: tuple[str, ...] = (
    "ubuntu-24.04",
    "ubuntu-22.04",
    "debian-12",
    "rocky-9",
    "cirros-0.6.2",
)


def keystone_id(kind: str, name: str) -> str:
    """Keystone ids are 32 hex digits without dashes, unlike Nova's uuids."""
    return _stable_uuid(f"{kind}/{name}").hex


def image_id(name: str) -> str:
    """Glance image ids are dashed uuids."""
    return str(_stable_uuid(f"image/{name}"))


def _uuid4(rng: random.Random) -> str:
    """A version-4 uuid drawn from ``rng`` so it follows the seed."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _mac(rng: random.Random) -> str:
    """Neutron's default base MAC is fa:16:3e."""
    tail = ":".join(f"{rng.getrandbits(8):02x}" for _ in range(3))
    return f"fa:16:3e:{tail}"


def _runstates(count: int, shutoff_every: int, paused: int) -> list[int]:
    """Every ``shutoff_every``-th domain is off; the next ``paused`` from index 3 pause."""
    states = [
        SHUTOFF if shutoff_every > 0 and (i + 1) % shutoff_every == 0 else RUNNING
        for i in range(count)
    ]
    left = paused
    for i in range(3, count):
        if left <= 0:
            break
        if states[i] == RUNNING:
            states[i] = PAUSED
            left -= 1
    return states


def _render_domain(
    *,
    domain: str,
    instance_uuid: str,
    display_name: str,
    created: dt.datetime,
    flavor: Flavor,
    owner: tuple[str, str, str, str],
    image_uuid: str,
    volume_uuid: str | None,
    port_uuid: str,
    mac: str,
    ip: str,
    hybrid_plug: bool,
    runstate: int,
) -> str:
    """One ``<domain type='test'>`` element, laid out the way Nova builds it.

    ``owner`` is (user id, user name, project id, project name).
    """
    user_id, user, project_id, project = owner
    mem_kib = flavor.memory_mib * 1024
    tap = f"tap{port_uuid[:11]}"
    inst_dir = f"/var/lib/nova/instances/{instance_uuid}"
    lines = [
        f"  <domain type='test' xmlns:test='{TEST_NS}'>",
        f"    <name>{domain}</name>",
        f"    <uuid>{instance_uuid}</uuid>",
        "    <metadata>",
        f'      <nova:instance xmlns:nova="{NOVA_NS}">',
        f'        <nova:package version="{NOVA_VERSION}"/>',
        f"        <nova:name>{escape(display_name)}</nova:name>",
        f"        <nova:creationTime>{created:%Y-%m-%d %H:%M:%S}</nova:creationTime>",
        f"        <nova:flavor name={quoteattr(flavor.name)}>",
        f"          <nova:memory>{flavor.memory_mib}</nova:memory>",
        f"          <nova:disk>{flavor.disk_gib}</nova:disk>",
        "          <nova:swap>0</nova:swap>",
        "          <nova:ephemeral>0</nova:ephemeral>",
        f"          <nova:vcpus>{flavor.vcpus}</nova:vcpus>",
        "        </nova:flavor>",
        "        <nova:owner>",
        f'          <nova:user uuid="{user_id}">{escape(user)}</nova:user>',
        f'          <nova:project uuid="{project_id}">{escape(project)}</nova:project>',
        "        </nova:owner>",
        f'        <nova:root type="image" uuid="{image_uuid}"/>',
        "        <nova:ports>",
        f'          <nova:port uuid="{port_uuid}">',
        f'            <nova:ip type="fixed" address="{ip}" ipVersion="4"/>',
        "          </nova:port>",
        "        </nova:ports>",
        "      </nova:instance>",
        "    </metadata>",
        f"    <memory unit='KiB'>{mem_kib}</memory>",
        f"    <currentMemory unit='KiB'>{mem_kib}</currentMemory>",
        f"    <vcpu>{flavor.vcpus}</vcpu>",
        "    <sysinfo type='smbios'>",
        "      <system>",
        "        <entry name='manufacturer'>OpenStack Foundation</entry>",
        "        <entry name='product'>OpenStack Nova</entry>",
        f"        <entry name='version'>{NOVA_VERSION}</entry>",
        f"        <entry name='serial'>{instance_uuid}</entry>",
        f"        <entry name='uuid'>{instance_uuid}</entry>",
        "        <entry name='family'>Virtual Machine</entry>",
        "      </system>",
        "    </sysinfo>",
        "    <os>",
        "      <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>",
        "      <boot dev='hd'/>",
        "      <smbios mode='sysinfo'/>",
        "    </os>",
        "    <features>",
        "      <acpi/>",
        "      <apic/>",
        "    </features>",
        "    <clock offset='utc'/>",
        "    <on_poweroff>destroy</on_poweroff>",
        "    <on_reboot>restart</on_reboot>",
        "    <on_crash>destroy</on_crash>",
        "    <devices>",
        "      <disk type='file' device='disk'>",
        "        <driver name='qemu' type='qcow2' cache='none' discard='unmap'/>",
        f"        <source file='{inst_dir}/disk'/>",
        "        <target dev='vda' bus='virtio'/>",
        f"        <serial>{instance_uuid}</serial>",
        "      </disk>",
    ]
    if volume_uuid is not None:
        lines += [
            "      <disk type='network' device='disk'>",
            "        <driver name='qemu' type='raw' cache='none' discard='unmap'/>",
            "        <auth username='cinder'>",
            f"          <secret type='ceph' uuid='{CEPH_SECRET}'/>",
            "        </auth>",
            f"        <source protocol='rbd' name='volumes/volume-{volume_uuid}'>",
            *(f"          <host name='{mon}' port='6789'/>" for mon in CEPH_MONS),
            "        </source>",
            "        <target dev='vdb' bus='virtio'/>",
            f"        <serial>{volume_uuid}</serial>",
            "      </disk>",
        ]
    lines += [
        "      <interface type='bridge'>",
        f"        <mac address='{mac}'/>",
    ]
    if hybrid_plug:
        # iptables-hybrid firewall: tap sits on a per-port Linux bridge.
        lines.append(f"        <source bridge='qbr{port_uuid[:11]}'/>")
    else:
        lines += [
            "        <source bridge='br-int'/>",
            "        <virtualport type='openvswitch'>",
            f"          <parameters interfaceid='{port_uuid}'/>",
            "        </virtualport>",
        ]
    lines += [
        f"        <target dev='{tap}'/>",
        "        <model type='virtio'/>",
        "        <mtu size='1450'/>",
        "      </interface>",
        "      <serial type='pty'>",
        f"        <log file='{inst_dir}/console.log' append='off'/>",
        "      </serial>",
        "      <memballoon model='virtio'>",
        "        <stats period='10'/>",
        "      </memballoon>",
        "      <rng model='virtio'>",
        "        <backend model='random'>/dev/urandom</backend>",
        "      </rng>",
        "    </devices>",
    ]
    if runstate != RUNNING:
        lines.append(f"    <test:runstate>{runstate}</test:runstate>")
    lines.append("  </domain>")
    return "\n".join(lines)


def render_node(
    count: int,
    seed: int = 0,
    shutoff_every: int = 7,
    *,
    paused: int = 1,
    servers: Sequence[Server] = (),
) -> str:
    """Render a ``<node>`` document with ``count`` Nova-style test domains.

    Every ``shutoff_every``-th domain (1-based; 0 disables) is shut off and
    ``paused`` further running domains, from the fourth on, are paused, so
    consumers see the states a real host mixes. The domains of ``servers`` come
    first; a generated domain never takes the name of one of theirs.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    # Reproducible fixture data, not secrets: a seeded PRNG is the point.
    rng = random.Random(seed)  # noqa: S311
    states = _runstates(count, shutoff_every, paused)
    taken = {server.domain for server in servers}
    domains = [_server_domain(server) for server in servers]
    role_seen: dict[str, int] = {}
    ip_seen: dict[str, int] = {}
    instance_id = rng.randint(1, 64)
    created = _FIRST_CREATED
    for runstate in states:
        project, role = rng.choice(_WORKLOADS)
        role_seen[role.prefix] = role_seen.get(role.prefix, 0) + 1
        host = ip_seen.get(project.name, 9) + 1
        ip_seen[project.name] = host
        net = 20 + PROJECTS.index(project)
        volume = _uuid4(rng) if rng.random() < role.volume_chance else None
        while f"instance-{instance_id:08x}" in taken:
            instance_id += 1
        # Drawn in this order so that a seed gives the same node as it always has.
        instance_uuid = _uuid4(rng)
        flavor = FLAVORS[rng.choice(role.flavors)]
        user = rng.choice(project.users)
        owner = (
            keystone_id("user", user),
            user,
            keystone_id("project", project.name),
            project.name,
        )
        domains.append(
            _render_domain(
                domain=f"instance-{instance_id:08x}",
                instance_uuid=instance_uuid,
                display_name=f"{role.prefix}-{role_seen[role.prefix]:02d}",
                created=created,
                flavor=flavor,
                owner=owner,
                image_uuid=image_id(rng.choice(IMAGES)),
                volume_uuid=volume,
                port_uuid=_uuid4(rng),
                mac=_mac(rng),
                ip=f"10.{net}.{host // 254}.{host % 254 + 1}",
                hybrid_plug=rng.random() < 0.3,
                runstate=runstate,
            )
        )
        # Nova ids are global to the cloud, so one host sees gaps between them.
        instance_id += rng.randint(1, 4)
        created += dt.timedelta(seconds=rng.randint(600, 8 * 3600))
    return "<node>\n" + "".join(d + "\n" for d in domains) + "</node>\n"


def _server_domain(server: Server) -> str:
    """The domain of a real server: its own uuid, names, owner, flavor and address."""
    return _render_domain(
        domain=server.domain,
        instance_uuid=server.uuid,
        display_name=server.name,
        created=server.created,
        flavor=server.flavor,
        owner=(server.user_id, server.user_name, server.project_id, server.project_name),
        image_uuid=server.image_id,
        volume_uuid=None,
        port_uuid=str(_stable_uuid(f"port/{server.uuid}")),
        mac=server.mac,
        ip=server.ip,
        hybrid_plug=False,
        runstate=server.runstate,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Write a node file for ``test:///<abs path>``."""
    parser = argparse.ArgumentParser(
        prog="python -m demo.nodegen",
        description="Generate a libvirt test-driver node file of Nova-like domains.",
    )
    parser.add_argument("--domains", type=int, required=True, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shutoff-every", type=int, default=7, metavar="K")
    parser.add_argument("--paused", type=int, default=1)
    parser.add_argument("--output", type=Path, required=True, metavar="PATH")
    args = parser.parse_args(argv)
    if args.domains < 0:
        parser.error("--domains must be >= 0")
    text = render_node(args.domains, args.seed, args.shutoff_every, paused=args.paused)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
