"""Hypervisors and instances: libvirt's view of every domain, named by Nova."""

from __future__ import annotations

from dashboards.common import Board, Q, Var, flag, grid, series, single

UID = "otb-hypervisors"
HV = '{instance=~"$hypervisor"}'
INFO = (
    'libvirt_domain_openstack_info{instance=~"$hypervisor", project_name=~"$project",'
    ' instance_name=~"$instance"}'
)
LEGEND = "{{instance_name}} ({{project_name}})"


def named(expr: str) -> str:
    """``expr`` (by instance and domain) with Nova's names, for the selected instances only."""
    return (
        f"{expr} * on (instance, domain)"
        f" group_left (instance_name, project_name, flavor_name) {INFO}"
    )


def rate(metric: str, by: str = "instance, domain") -> str:
    return f"sum by ({by}) (rate({metric}{HV}[$__rate_interval]))"


def board() -> Board:
    b = Board(
        UID,
        "OpenStack hypervisors and instances",
        "libvirt's statistics of every domain, per hypervisor and per Nova instance, from"
        " openstack-telemetry-exporter's libvirt collector on each compute node.",
        [
            Var("hypervisor", "Hypervisor", "label_values(libvirt_up, instance)"),
            Var(
                "project",
                "Project",
                'label_values(libvirt_domain_openstack_info{instance=~"$hypervisor"},'
                " project_name)",
            ),
            Var(
                "instance",
                "Instance",
                'label_values(libvirt_domain_openstack_info{instance=~"$hypervisor",'
                ' project_name=~"$project"}, instance_name)',
            ),
        ],
    )
    b.row(
        "Hypervisors",
        single(
            "libvirt reachable",
            "1 when the exporter's connection to libvirtd works.",
            "none",
            Q(f"libvirt_up{HV}", "{{instance}}"),
            width=8,
            mappings=flag("up", "down"),
        ),
        single(
            "Domains",
            "Domains defined on each hypervisor, in any state.",
            "none",
            Q(f"libvirt_domains{HV}", "{{instance}}"),
            width=8,
        ),
        single(
            "Running domains",
            "Domains in the running state.",
            "none",
            Q(f"count by (instance) (libvirt_domain_info_state{HV} == 1)", "{{instance}}"),
            width=8,
        ),
        series(
            "CPU used by guests",
            "CPU time of all domains per second, in host cores.",
            "none",
            Q(rate("libvirt_domain_info_cpu_time_seconds_total", "instance"), "{{instance}}"),
            width=8,
        ),
        series(
            "Guest memory",
            "Memory currently given to all domains.",
            "bytes",
            Q(f"sum by (instance) (libvirt_domain_info_memory_usage_bytes{HV})", "{{instance}}"),
            width=8,
        ),
        series(
            "Disk and network throughput",
            "Bytes read and written by every domain's disks, and received and sent by its"
            " interfaces.",
            "Bps",
            Q(
                rate("libvirt_domain_block_stats_read_bytes_total", "instance"),
                "{{instance}} disk read",
            ),
            Q(
                rate("libvirt_domain_block_stats_write_bytes_total", "instance"),
                "{{instance}} disk write",
            ),
            Q(
                rate("libvirt_domain_interface_stats_receive_bytes_total", "instance"),
                "{{instance}} receive",
            ),
            Q(
                rate("libvirt_domain_interface_stats_transmit_bytes_total", "instance"),
                "{{instance}} transmit",
            ),
            width=8,
        ),
    )
    b.row(
        "Instances: CPU and memory",
        series(
            "CPU usage",
            "CPU time per second over the instance's vCPUs: 100 % is every vCPU busy.",
            "percentunit",
            Q(
                named(
                    f"({rate('libvirt_domain_info_cpu_time_seconds_total')}"
                    f" / on (instance, domain) libvirt_domain_info_virtual_cpus{HV})"
                ),
                LEGEND,
            ),
        ),
        series(
            "vCPU steal (delay)",
            "Time the instance's vCPUs waited in the host's run queue, over its vCPUs: what"
            " the guest sees as steal time. A busy host shows here first.",
            "percentunit",
            Q(
                named(
                    f"({rate('libvirt_domain_vcpu_delay_seconds_total')}"
                    f" / on (instance, domain) libvirt_domain_info_virtual_cpus{HV})"
                ),
                LEGEND,
            ),
        ),
        series(
            "Memory used",
            "Memory the instance uses (libvirt's current allocation).",
            "bytes",
            Q(named(f"libvirt_domain_info_memory_usage_bytes{HV}"), LEGEND),
        ),
        grid(
            "Instances",
            "Every selected instance with its hypervisor, domain, flavor and project.",
            "none",
            Q(INFO),
            width=12,
        ),
    )
    b.row(
        "Instances: disk and network",
        series(
            "Disk throughput",
            "Bytes read (negative: written) per second by the instance's disks.",
            "Bps",
            Q(named(rate("libvirt_domain_block_stats_read_bytes_total")), f"{LEGEND} read"),
            Q(
                named(f"-{rate('libvirt_domain_block_stats_write_bytes_total')}"),
                f"{LEGEND} write",
            ),
            minimum=None,
        ),
        series(
            "Disk operations",
            "Read and write requests per second of the instance's disks.",
            "iops",
            Q(named(rate("libvirt_domain_block_stats_read_requests_total")), f"{LEGEND} read"),
            Q(
                named(rate("libvirt_domain_block_stats_write_requests_total")),
                f"{LEGEND} write",
            ),
        ),
        series(
            "Network throughput",
            "Bytes received (negative: transmitted) per second by the instance's interfaces.",
            "Bps",
            Q(
                named(rate("libvirt_domain_interface_stats_receive_bytes_total")),
                f"{LEGEND} receive",
            ),
            Q(
                named(f"-{rate('libvirt_domain_interface_stats_transmit_bytes_total')}"),
                f"{LEGEND} transmit",
            ),
            minimum=None,
        ),
        series(
            "Network errors and drops",
            "Packets per second the instance's interfaces failed or dropped, each direction"
            " from its own counter.",
            "pps",
            *(
                Q(
                    named(rate(f"libvirt_domain_interface_stats_{way}_{what}_total")),
                    f"{LEGEND} {way} {what}",
                )
                for way in ("receive", "transmit")
                for what in ("errors", "drops")
            ),
        ),
    )
    return b
