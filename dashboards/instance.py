"""One instance across sources: libvirt, Gnocchi and Aodh on the same Nova server.

libvirt's counters come from the hypervisor every 15 s; Gnocchi's are Ceilometer's samples
at the archive policy's granularity (60 s or more), so its panels ask for steps of a
minute at least (``GNOCCHI_STEP``): $__rate_interval then spans two of its points.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import timeseries

from dashboards.common import Board, Q, Var, grid, series

UID = "otb-instance"
GNOCCHI_STEP = "1m"
ID = '"$instance_id"'
LV = f"{{instance_id={ID}}}"
INFO = f"libvirt_domain_openstack_info{LV}"
# Gnocchi's instance resource; disks and NICs carry the instance's id as instance_id too.
GN = f'{{instance_id={ID}, resource_type="instance"}}'
GN_ANY = f"{{instance_id={ID}}}"


def on_server(expr: str) -> str:
    """A libvirt series (by instance and domain) restricted to this server's domain."""
    return f"{expr} * on (instance, domain) group_left () {INFO}"


def lrate(metric: str) -> str:
    return on_server(f"sum by (instance, domain) (rate({metric}[$__rate_interval]))")


def grate(metric: str, selector: str = GN_ANY) -> str:
    return f"sum(rate({metric}{selector}[$__rate_interval]))"


def gnocchi(panel_title: str, description: str, unit: str, *queries: Q) -> timeseries.Panel:
    p = series(panel_title, description, unit, *queries)
    return p.interval(GNOCCHI_STEP)


def board() -> Board:
    b = Board(
        UID,
        "OpenStack instance across sources",
        "One Nova server as libvirt, Gnocchi and Aodh see it, side by side: the hypervisor's"
        " counters, Ceilometer's measures and the alarms on it.",
        [
            Var(
                "project",
                "Project",
                "label_values(libvirt_domain_openstack_info, project_name)",
                multi=False,
            ),
            Var(
                "server",
                "Server",
                'label_values(libvirt_domain_openstack_info{project_name=~"$project"},'
                " instance_name)",
                multi=False,
            ),
            Var(
                "instance_id",
                "Server id",
                'label_values(libvirt_domain_openstack_info{project_name=~"$project",'
                ' instance_name=~"$server"}, instance_id)',
                multi=False,
            ),
        ],
    )
    b.row(
        "The server",
        grid(
            "On the hypervisor",
            "libvirt's domain for this server: hypervisor (instance), domain name, flavor,"
            " project and user, from the Nova metadata in its XML.",
            "none",
            Q(INFO),
            width=12,
            height=5,
        ),
        grid(
            "In Nova",
            "The server as the Nova API lists it: status, host, addresses.",
            "none",
            Q(f"openstack_nova_server_status{{id={ID}}}"),
            width=12,
            height=5,
        ),
    )
    b.row(
        "CPU and memory",
        gnocchi(
            "CPU usage",
            "CPU time per second over the server's vCPUs, from libvirt and from Gnocchi's"
            " cpu meter. The two agree within Gnocchi's granularity.",
            "percentunit",
            Q(
                f"({lrate('libvirt_domain_info_cpu_time_seconds_total')})"
                f" / on (instance, domain) libvirt_domain_info_virtual_cpus",
                "libvirt",
            ),
            Q(f"{grate('gnocchi_cpu_seconds_total', GN)} / sum(gnocchi_vcpus{GN})", "gnocchi"),
        ),
        gnocchi(
            "Memory",
            "Memory in use: libvirt's current allocation, and Gnocchi's memory.usage (what"
            " the guest uses) and memory (the flavor's size).",
            "bytes",
            Q(on_server("libvirt_domain_info_memory_usage_bytes"), "libvirt"),
            Q(f"sum(gnocchi_memory_usage_bytes{GN})", "gnocchi usage"),
            Q(f"sum(gnocchi_memory_bytes{GN})", "gnocchi size"),
        ),
    )
    b.row(
        "Disk and network",
        gnocchi(
            "Disk throughput",
            "Bytes read and written per second by the server's disks.",
            "Bps",
            Q(lrate("libvirt_domain_block_stats_read_bytes_total"), "libvirt read"),
            Q(lrate("libvirt_domain_block_stats_write_bytes_total"), "libvirt write"),
            Q(grate("gnocchi_disk_device_read_bytes_total"), "gnocchi read"),
            Q(grate("gnocchi_disk_device_write_bytes_total"), "gnocchi write"),
        ),
        gnocchi(
            "Network throughput",
            "Bytes received and sent per second by the server's interfaces.",
            "Bps",
            Q(lrate("libvirt_domain_interface_stats_receive_bytes_total"), "libvirt receive"),
            Q(lrate("libvirt_domain_interface_stats_transmit_bytes_total"), "libvirt transmit"),
            Q(grate("gnocchi_network_incoming_bytes_total"), "gnocchi incoming"),
            Q(grate("gnocchi_network_outgoing_bytes_total"), "gnocchi outgoing"),
        ),
    )
    b.row(
        "Alarms",
        grid(
            "Aodh alarms on this server",
            "Aodh alarms whose rule watches this server, as the aodh-alertmanager-bridge"
            " knows them: 1 while it sends the alarm to Alertmanager as firing.",
            "none",
            # Every bridge replica knows every alarm: one row per alarm, not per replica.
            Q(f"max without (instance, job) (aodh_bridge_alarm_firing{{resource_id={ID}}})"),
            width=12,
            mappings=(("1", "firing", "red"), ("0", "not firing", "green")),
        ),
        series(
            "Aodh alarm state over time",
            "The same alarms over the time range: 1 while firing.",
            "none",
            Q(
                f"max by (alarm_name, severity) (aodh_bridge_alarm_firing{{resource_id={ID}}})",
                "{{alarm_name}} ({{severity}})",
            ),
        ),
    )
    return b
