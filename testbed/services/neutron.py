"""Neutron 29 with ML2/Open vSwitch on MariaDB: the API under gunicorn, the RPC server and
the metadata agent as real processes over RabbitMQ.

There is no Open vSwitch here, so no real OVS (or DHCP, which plugs into OVS) agent can
run. What Nova's port binding needs from one is its state in Neutron's agents table; that
comes from ``seed/neutron_ovs_agent.py``, which reports through Neutron's own agent RPC
client as the OVS agent on the compute host would, and marks ports bound there as up.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from testbed import ini
from testbed.bed import Bed, Proc, ServiceError, answers
from testbed.launch import gunicorn
from testbed.services import keystone, rabbitmq

# neutron_db: the migrations, which run while Keystone starts.
REQUIRES = ("keystone", "neutron_db", "rabbitmq")
SEED = Path(__file__).resolve().parent.parent / "seed"
COMPUTE_HOST = "testbed-compute-1"
CONTROLLER_HOST = "testbed-controller"
PHYSNET = "physnet1"
NETWORK = "testbed-net"
SUBNET = "testbed-subnet"
CIDR = "10.20.0.0/24"
# Agents report every REPORT_INTERVAL seconds and are dead (``is_alive`` false) after
# AGENT_DOWN_TIME without a report (Neutron's defaults: 30 and 75), so a test sees a stopped
# agent go down within half a minute.
REPORT_INTERVAL = 5
AGENT_DOWN_TIME = 20
NOVA_AUTH_OPTIONS = (
    "auth_type", "auth_url", "username", "password", "project_name",
    "user_domain_name", "project_domain_name", "region_name",
)  # fmt: skip


def _server_conf(bed: Bed, base: Path, db_url: str) -> dict[str, dict[str, object]]:
    return {
        "DEFAULT": {
            "use_stderr": True,
            "debug": False,
            "host": CONTROLLER_HOST,
            "core_plugin": "ml2",
            "service_plugins": "",
            "auth_strategy": "keystone",
            "transport_url": rabbitmq.transport_url(bed),
            "api_paste_config": base / "api-paste.ini",
            "state_path": base / "state",
            "agent_down_time": AGENT_DOWN_TIME,
            "api_workers": 1,
            "rpc_workers": 1,
            # State reports go to the one RPC worker rather than to a process of their own.
            "rpc_state_report_workers": 0,
            "notify_nova_on_port_status_changes": True,
            "notify_nova_on_port_data_changes": True,
            # No DHCP agent runs (it needs OVS to plug its port into).
            "dhcp_agent_notification": False,
            "nova_metadata_host": "127.0.0.1",
            "nova_metadata_port": bed.port("nova-metadata"),
            "metadata_proxy_shared_secret": bed.secret("metadata-proxy", "testbed-metadata"),
            "metadata_proxy_socket": base / "state" / "metadata_proxy",
            "metadata_workers": 1,
        },
        "database": {"connection": db_url, "max_pool_size": 5, "max_overflow": 10},
        "oslo_concurrency": {"lock_path": base / "lock"},
        "agent": {"report_interval": REPORT_INTERVAL, "root_helper": ""},
    }


ML2: ini.Sections = {
    "ml2": {
        "type_drivers": "flat,vlan,vxlan",
        "tenant_network_types": "vxlan",
        "mechanism_drivers": "openvswitch",
        "extension_drivers": "port_security",
    },
    "ml2_type_flat": {"flat_networks": PHYSNET},
    "ml2_type_vlan": {"network_vlan_ranges": f"{PHYSNET}:100:199"},
    "ml2_type_vxlan": {"vni_ranges": "1:1000"},
    "securitygroup": {"enable_security_group": True, "firewall_driver": "openvswitch"},
}

# What the OVS agent on the compute host reads (seed/neutron_ovs_agent.py uses Neutron's
# own option definitions for these).
OVS_AGENT: ini.Sections = {
    "DEFAULT": {"host": COMPUTE_HOST},
    "ovs": {
        "bridge_mappings": f"{PHYSNET}:br-ex",
        "local_ip": "127.0.0.1",
        "integration_bridge": "br-int",
        "datapath_type": "system",
    },
    "agent": {"tunnel_types": "vxlan", "l2_population": False},
    "securitygroup": {"firewall_driver": "openvswitch"},
}


def _auth_conf(bed: Bed, base: Path, url: str) -> Path:
    """Keystone's part of the configuration, and the catalog entry: no database needed."""
    keystone.register(bed, "network", "neutron", url)
    authtoken = keystone.authtoken(bed, "neutron")
    # Neutron reaches Nova (port events) as the same service user.
    nova = {k: v for k, v in authtoken.items() if k in NOVA_AUTH_OPTIONS}
    return ini.write(
        base / "auth.conf",
        {"keystone_authtoken": authtoken, "nova": {**nova, "endpoint_type": "public"}},
    )


def _args(*files: Path) -> list[str]:
    return [arg for f in files for arg in ("--config-file", str(f))]


def start(bed: Bed) -> None:
    base = bed.service_dir("neutron")
    for sub in ("state", "lock"):
        (base / sub).mkdir(exist_ok=True)
    port = bed.port("neutron")
    url = f"http://127.0.0.1:{port}"
    shutil.copyfile(bed.venv / "etc" / "neutron" / "api-paste.ini", base / "api-paste.ini")
    db_url = bed.info("neutron_db")["connection"]
    server = ini.write(base / "neutron.conf", _server_conf(bed, base, db_url))
    ml2 = ini.write(base / "ml2_conf.ini", ML2)
    agent = ini.write(base / "ovs_agent.ini", OVS_AGENT)
    auth = _auth_conf(bed, base, url)
    files = _args(server, ml2, auth)
    rpc = bed.spawn("neutron", "neutron-rpc-server", [bed.os_bin("neutron-rpc-server"), *files])
    env = {
        "OS_NEUTRON_CONFIG_DIR": str(base),
        "OS_NEUTRON_CONFIG_FILES": ";".join(f.name for f in (server, ml2, auth)),
    }
    api = gunicorn(bed, "neutron", "neutron-api", "neutron.wsgi.api:application", port, env=env)
    ovs = bed.spawn(
        "neutron",
        "neutron-ovs-agent",
        [bed.os_bin("python"), str(SEED / "neutron_ovs_agent.py"), *_args(server, agent)],
    )
    bed.wait_http(api, url, timeout=120)
    # Nothing waits on the metadata agent: it starts once the API no longer needs the CPU.
    metadata = bed.spawn(
        "neutron", "neutron-metadata-agent", [bed.os_bin("neutron-metadata-agent"), *files]
    )
    seeded = _seed(bed, [rpc, ovs, metadata])
    bed.record("neutron", {"url": url, "compute_host": COMPUTE_HOST, **seeded})


def _seed(bed: Bed, procs: list[Proc]) -> dict[str, str]:
    """Network, subnet, and the proof that a port binds on the compute host."""
    out = bed.python(
        "neutron",
        "neutron-seed",
        SEED / "neutron_seed.py",
        json.dumps({"network": NETWORK, "subnet": SUBNET, "cidr": CIDR, "host": COMPUTE_HOST}),
        env=keystone.client_env(bed),
        timeout=180,
    )
    for proc in procs:
        if not proc.running:
            raise ServiceError("neutron", f"{proc.name} exited", proc.log)
    seeded: dict[str, str] = json.loads(out.strip().splitlines()[-1])
    return seeded


def healthy(bed: Bed) -> bool:
    return answers(bed.info("neutron")["url"])
