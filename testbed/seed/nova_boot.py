"""Create the testbed flavor and boot the testbed server to ACTIVE; print their ids as JSON.

Runs in the OpenStack environment. Argument: one JSON object with ``image_id``,
``network_id`` (``null`` boots with no network), ``flavor``, ``server``, ``host`` (the
compute host, waited for: see ``wait_host``) and ``timeout``;
admin credentials in ``OS_AUTH_URL``, ``OS_USERNAME``, ``OS_PASSWORD``, ``OS_PROJECT_NAME``
and ``OS_REGION_NAME``, Nova's broker in ``TRANSPORT_URL``. Safe to re-run (see ``ensure_server``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import oslo_messaging  # type: ignore[import-untyped,import-not-found,unused-ignore]
from os_session import connect  # type: ignore[import-not-found,unused-ignore]
from oslo_config import cfg  # type: ignore[import-untyped,import-not-found,unused-ignore]

FLAVOR = {"vcpus": 1, "ram": 128, "disk": 1}


def ensure_flavor(conn: Any, name: str) -> Any:
    flavor = conn.compute.find_flavor(name, ignore_missing=True)
    if flavor is None:
        flavor = conn.compute.create_flavor(name=name, is_public=True, **FLAVOR)
    return flavor


def ensure_server(conn: Any, spec: dict[str, Any], flavor: Any) -> Any:
    """A server left by an earlier run is kept when ACTIVE on the network, but hard rebooted:
    this compute process is new, and the fake driver holds its guests in memory only."""
    server = conn.compute.find_server(spec["server"], ignore_missing=True)
    if server is not None and (server.status != "ACTIVE" or not on_network(conn, server, spec)):
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=spec["timeout"])
        server = None
    if server is not None:
        conn.compute.reboot_server(server, "HARD")
        return wait_active(conn, server.id, spec["timeout"])
    networks: Any = "none"
    if spec["network_id"]:
        networks = [{"uuid": spec["network_id"]}]
    server = conn.compute.create_server(
        name=spec["server"],
        image_id=spec["image_id"],
        flavor_id=flavor.id,
        networks=networks,
    )
    return wait_active(conn, server.id, spec["timeout"])


def wait_host(conn: Any, host: str, timeout: float) -> None:
    """Until the API lists the host (it is mapped to a cell then) and its compute answers.

    The compute is pinged the way Nova's services ping each other (the ``baseapi`` RPC
    namespace every Nova service serves): an answer means it has finished starting (its
    inventory is in placement) and consumes its queue, so a request sent to it now is
    neither lost nor raced by its own start-up.
    """
    deadline = time.monotonic() + timeout
    while not any(h.name == host for h in conn.compute.hypervisors()):
        if time.monotonic() > deadline:
            raise SystemExit(f"compute host {host} not mapped to a cell after {timeout:.0f}s")
        time.sleep(0.3)
    # The global options: oslo.messaging registers some of its own there only.
    cfg.CONF([], project="testbed", default_config_files=[])
    transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=os.environ["TRANSPORT_URL"])
    target = oslo_messaging.Target(
        exchange="nova", topic="compute", server=host, namespace="baseapi", version="1.1"
    )
    client = oslo_messaging.get_rpc_client(transport, target, timeout=2)
    try:
        while True:
            try:
                client.call({}, "ping", arg=None)
                return
            except oslo_messaging.MessagingTimeout:
                if time.monotonic() > deadline:
                    raise SystemExit(f"nova-compute on {host} does not answer RPC") from None
    finally:
        transport.cleanup()


def on_network(conn: Any, server: Any, spec: dict[str, Any]) -> bool:
    if not spec["network_id"]:
        return True
    return any(conn.network.ports(device_id=server.id, network_id=spec["network_id"]))


def wait_active(conn: Any, server_id: str, timeout: float) -> Any:
    """Poll fast (the fake driver is quick); an ERROR fails with Nova's fault message."""
    deadline = time.monotonic() + timeout
    while True:
        server = conn.compute.get_server(server_id)
        if server.status == "ACTIVE" and not server.task_state:
            return server
        if server.status == "ERROR" or time.monotonic() > deadline:
            fault = server.fault or {}
            raise SystemExit(
                f"server {server_id} is {server.status} (task {server.task_state}): "
                f"{fault.get('message', '')} {fault.get('details', '')}"
            )
        time.sleep(0.3)


def main() -> None:
    spec: dict[str, Any] = json.loads(sys.argv[1])
    conn = connect()
    flavor = ensure_flavor(conn, spec["flavor"])
    wait_host(conn, spec["host"], spec["timeout"])
    server = ensure_server(conn, spec, flavor)
    ports = []
    if spec["network_id"]:
        ports = list(conn.network.ports(device_id=server.id, network_id=spec["network_id"]))
    print(
        json.dumps(
            {
                "server_id": server.id,
                "flavor_id": flavor.id,
                "compute_host": server.compute_host,
                "port_id": ports[0].id if ports else None,
            }
        )
    )


if __name__ == "__main__":
    main()
