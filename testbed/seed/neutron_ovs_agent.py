"""The Open vSwitch agent of the compute host as Neutron sees it, without Open vSwitch.

ML2's openvswitch mechanism driver binds a port only on a host whose OVS agent is alive
and can reach the network's segment (a tunnel type or a bridge mapping). This process
makes that so the way the real agent does, through Neutron's own agent RPC clients over
RabbitMQ: it reports state every ``[agent] report_interval`` with the agent's
``configurations``, syncs its tunnel endpoint, and reports the ports bound to its host as
up (the real agent does that when their device shows up on br-int), so they turn ACTIVE
and Neutron tells Nova ``network-vif-plugged``.

Runs in the OpenStack venv: ``neutron_ovs_agent.py --config-file neutron.conf
--config-file ovs_agent.ini``.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import neutron  # noqa: F401 - importing it first selects oslo.service's threading backend
import oslo_messaging
from neutron.agent import rpc as agent_rpc
from neutron.api.rpc.callbacks import resources
from neutron.common import config as common_config
from neutron.conf.agent import common as agent_conf
from neutron.conf.plugins.ml2.drivers import agent as ml2_agent_conf
from neutron.conf.plugins.ml2.drivers import ovs_conf
from neutron_lib import constants as n_const
from neutron_lib import context as n_context
from neutron_lib.agent import topics
from neutron_lib.api.definitions import portbindings
from neutron_lib.utils import helpers
from oslo_config import cfg

LOG = logging.getLogger("neutron_ovs_agent")
FIRST_REPORT_TIMEOUT = 3
# What ovsdb reports for a kernel-datapath Open vSwitch 3.1 (Debian 12), no DPDK.
OVS_CAPABILITIES = {
    "datapath_types": ["netdev", "system"],
    "iface_types": [
        "bareudp", "erspan", "geneve", "gre", "gtpu", "internal", "ip6erspan", "ip6gre",
        "lisp", "patch", "srv6", "stt", "system", "tap", "vxlan",
    ],
}  # fmt: skip


def agent_state(conf: Any) -> dict[str, Any]:
    """What ``OVSNeutronAgent`` reports, from the same options."""
    return {
        "binary": n_const.AGENT_PROCESS_OVS,
        "host": conf.host,
        "topic": n_const.L2_AGENT_TOPIC,
        "agent_type": n_const.AGENT_TYPE_OVS,
        "start_flag": True,
        "resource_versions": resources.LOCAL_RESOURCE_VERSIONS,
        "configurations": {
            "bridge_mappings": helpers.parse_mappings(conf.OVS.bridge_mappings),
            "tunnel_types": conf.AGENT.tunnel_types,
            "tunneling_ip": conf.OVS.local_ip,
            "integration_bridge": conf.OVS.integration_bridge,
            "datapath_type": conf.OVS.datapath_type,
            "l2_population": conf.AGENT.l2_population,
            "arp_responder_enabled": conf.AGENT.arp_responder,
            "enable_distributed_routing": conf.AGENT.enable_distributed_routing,
            "log_agent_heartbeats": conf.AGENT.log_agent_heartbeats,
            "extensions": [],
            "ovs_capabilities": OVS_CAPABILITIES,
            "vhostuser_socket_dir": conf.OVS.vhostuser_socket_dir,
            portbindings.OVS_HYBRID_PLUG: False,
            "baremetal_smartnic": conf.AGENT.baremetal_smartnic,
            "resource_provider_bandwidths": {},
            "resource_provider_inventory_defaults": {},
            "resource_provider_hypervisors": {},
        },
    }


class Agent:
    def __init__(self, conf: Any) -> None:
        self.conf = conf
        self.host: str = conf.host
        self.agent_id = f"ovs-agent-{self.host}"
        self.context = n_context.get_admin_context_without_session()
        self.state_rpc = agent_rpc.PluginReportStateAPI(topics.REPORTS)
        self.plugin_rpc = agent_rpc.PluginApi(topics.PLUGIN)
        self.state = agent_state(conf)
        self.last_report = 0.0
        self.tunnels_synced = False

    def report(self) -> None:
        first = bool(self.state.get("start_flag"))
        # Until the server has its queue, a call is lost and waits out its whole timeout:
        # the first one is short and retried.
        self.state_rpc.timeout = FIRST_REPORT_TIMEOUT if first else self.conf.AGENT.report_interval
        status = self.state_rpc.report_state(self.context, self.state, use_call=first)
        if first:
            LOG.info("Registered as %s on %s: %s", n_const.AGENT_TYPE_OVS, self.host, status)
            self.state.pop("start_flag", None)
        self.last_report = time.monotonic()

    def sync_tunnels(self) -> None:
        for tunnel_type in self.conf.AGENT.tunnel_types:
            self.plugin_rpc.tunnel_sync(
                self.context, self.conf.OVS.local_ip, tunnel_type, self.host
            )
        self.tunnels_synced = True

    def ports_up(self) -> None:
        """Bound ``ovs`` ports of this host that are not yet ACTIVE become so."""
        ports = self.plugin_rpc.get_ports_by_vnic_type_and_host(
            self.context, portbindings.VNIC_NORMAL, self.host
        )
        waiting = [
            p["id"]
            for p in ports
            if p.get("admin_state_up")
            and p.get("status") != n_const.PORT_STATUS_ACTIVE
            and p.get(portbindings.VIF_TYPE) == portbindings.VIF_TYPE_OVS
        ]
        if not waiting:
            return
        self.plugin_rpc.get_devices_details_list(self.context, waiting, self.agent_id, self.host)
        done = self.plugin_rpc.update_device_list(
            self.context, waiting, [], self.agent_id, self.host
        )
        LOG.info("Ports up on %s: %s (failed: %s)", self.host, done["devices_up"],
                 done["failed_devices_up"])  # fmt: skip

    def step(self) -> None:
        interval = float(self.conf.AGENT.report_interval)
        if self.state.get("start_flag") or time.monotonic() - self.last_report >= interval:
            self.report()
        if not self.tunnels_synced:
            self.sync_tunnels()
        self.ports_up()


def main() -> None:
    common_config.register_common_config_options()
    agent_conf.register_agent_state_opts_helper(cfg.CONF)
    ovs_conf.register_ovs_agent_opts(cfg.CONF)
    ml2_agent_conf.register_agent_opts(cfg.CONF)
    common_config.init(sys.argv[1:])
    common_config.setup_logging()
    agent = Agent(cfg.CONF)
    while True:
        try:
            agent.step()
        except oslo_messaging.MessagingTimeout:
            LOG.warning("No answer from neutron-rpc-server yet; retrying")
        except Exception:  # the server may be starting or restarting
            LOG.exception("Step failed; retrying")
        time.sleep(float(cfg.CONF.AGENT.polling_interval))


if __name__ == "__main__":
    main()
