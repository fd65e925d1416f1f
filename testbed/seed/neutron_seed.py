"""The network Nova boots on, and the proof that ports bind on the compute host.

Argument: JSON ``{"network", "subnet", "cidr", "host"}``; admin credentials in ``OS_*``.
Waits for the host's Open vSwitch agent to be alive, creates the shared network and its
subnet if absent, then binds a throwaway port on the host and fails unless ML2 bound it
as ``ovs``. Prints ``{"network_id", "subnet_id", "ovs_agent_id"}`` as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from os_session import connect  # type: ignore[import-not-found,unused-ignore]

AGENT_TYPE = "Open vSwitch agent"


def wait_for_agent(net: Any, host: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        for agent in net.agents(host=host, agent_type=AGENT_TYPE):
            if agent.is_alive:
                return agent
        if time.monotonic() > deadline:
            sys.exit(f"no live {AGENT_TYPE} on {host} after {timeout:.0f}s")
        time.sleep(0.5)


def ensure_network(net: Any, name: str, subnet_name: str, cidr: str) -> tuple[Any, Any]:
    network = net.find_network(name) or net.create_network(name=name, shared=True)
    subnet = net.find_subnet(subnet_name, network_id=network.id) or net.create_subnet(
        name=subnet_name, network_id=network.id, ip_version=4, cidr=cidr, enable_dhcp=True
    )
    return network, subnet


def check_binding(net: Any, network_id: str, host: str) -> None:
    port = net.create_port(
        network_id=network_id, name="testbed-binding-check", binding_host_id=host
    )
    try:
        if port.binding_vif_type != "ovs":
            sys.exit(
                f"port on {host} bound as {port.binding_vif_type!r}, not 'ovs'"
                f" (binding details: {port.binding_vif_details})"
            )
    finally:
        net.delete_port(port.id)


def main() -> None:
    spec = json.loads(sys.argv[1])
    net = connect().network
    agent = wait_for_agent(net, spec["host"])
    network, subnet = ensure_network(net, spec["network"], spec["subnet"], spec["cidr"])
    check_binding(net, network.id, spec["host"])
    print(json.dumps({"network_id": network.id, "subnet_id": subnet.id, "ovs_agent_id": agent.id}))


if __name__ == "__main__":
    main()
