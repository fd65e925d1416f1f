"""The exporters themselves: is every collector succeeding, how long it takes, how big a
scrape is. The first place to look when another dashboard shows gaps."""

from __future__ import annotations

from dashboards.common import Board, Q, Var, flag, grid, series

UID = "otb-exporters"
T = '{job=~"$job", instance=~"$instance"}'
C = '{job=~"$job", instance=~"$instance", collector=~"$collector"}'


def board() -> Board:
    b = Board(
        UID,
        "OpenStack telemetry exporters",
        "openstack-telemetry-exporter's own health: collector success, cycle durations, the"
        " age of the last success, timeouts, API requests and scrape sizes.",
        [
            Var("job", "Job", "label_values(openstack_exporter_build_info, job)"),
            Var(
                "instance",
                "Exporter",
                'label_values(openstack_exporter_build_info{job=~"$job"}, instance)',
            ),
            Var(
                "collector",
                "Collector",
                'label_values(openstack_exporter_collector_success{job=~"$job",'
                ' instance=~"$instance"}, collector)',
            ),
        ],
    )
    b.row(
        "Collectors",
        grid(
            "Collector status",
            "Each collector's last cycle on each exporter: ok, or failed (the exporter's log"
            " says why). A failing collector never fails the scrape; its series go missing.",
            "none",
            Q(f"openstack_exporter_collector_success{C}"),
            width=12,
            mappings=flag("ok", "failing"),
        ),
        grid(
            "Failing collectors",
            "Collectors whose last cycle failed or timed out. Empty while all succeed.",
            "none",
            Q(f"openstack_exporter_collector_success{C} == 0"),
            width=12,
        ),
        series(
            "Cycle duration",
            "Duration of each collector's last cycle, reading its backend and rendering.",
            "s",
            Q(f"openstack_exporter_collector_duration_seconds{C}", "{{instance}} {{collector}}"),
        ),
        series(
            "Since the last success",
            "Age of each collector's last successful cycle: it should stay below its"
            " interval plus its duration.",
            "s",
            Q(
                f"time() - openstack_exporter_collector_last_success_timestamp_seconds{C}",
                "{{instance}} {{collector}}",
            ),
        ),
        series(
            "Timeouts",
            "Cycles abandoned at their deadline.",
            "none",
            Q(
                "sum by (instance, collector) (increase("
                f"openstack_exporter_collector_timeouts_total{C}[$__rate_interval]))",
                "{{instance}} {{collector}}",
            ),
        ),
        grid(
            "Parts and read groups",
            "The openstack collector's inventory parts and the gnocchi collector's read"
            " groups: 1 when the last attempt succeeded. A failed part drops only its own"
            " series.",
            "none",
            Q(f"openstack_exporter_inventory_part_success{T}"),
            Q(f"gnocchi_exporter_read_success{T}"),
            mappings=flag("ok", "failed"),
            width=12,
        ),
    )
    b.row(
        "Backends",
        series(
            "OpenStack API requests",
            "Requests to the cloud's APIs per second, by service type and status code.",
            "reqps",
            Q(
                "sum by (service_type, code) (rate(openstack_exporter_api_requests_total"
                f"{T}[$__rate_interval]))",
                "{{service_type}} {{code}}",
            ),
            Q(
                f"sum by (code) (rate(gnocchi_exporter_api_requests_total{T}[$__rate_interval]))",
                "metric {{code}}",
            ),
        ),
        series(
            "Keystone logins",
            "Tokens fetched per second: one per token lifetime when healthy.",
            "reqps",
            Q(
                "sum by (instance) (rate("
                f"openstack_exporter_token_requests_total{T}[$__rate_interval]))",
                "{{instance}} openstack",
            ),
            Q(
                "sum by (instance) (rate("
                f"gnocchi_exporter_token_requests_total{T}[$__rate_interval]))",
                "{{instance}} gnocchi",
            ),
        ),
        series(
            "libvirt",
            "libvirt's connection on each hypervisor, and domains left out because their"
            " data could not be used (by reason).",
            "none",
            Q(f"libvirt_up{T}", "{{instance}} up"),
            Q(
                f"sum by (instance, reason) (libvirt_domains_skipped{T})",
                "{{instance}} skipped {{reason}}",
            ),
        ),
    )
    b.row(
        "Scrapes",
        series(
            "Samples per scrape",
            "Samples Prometheus took from each exporter per scrape: the exposition's size.",
            "none",
            Q(f"scrape_samples_scraped{T}", "{{instance}}"),
        ),
        series(
            "Scrape duration",
            "Time Prometheus took to scrape each exporter. Scrapes copy a pre-rendered"
            " snapshot, so this stays low even when a backend hangs.",
            "s",
            Q(f"scrape_duration_seconds{T}", "{{instance}}"),
        ),
        grid(
            "Versions",
            "Each exporter's version and Python.",
            "none",
            Q(f"openstack_exporter_build_info{T}"),
            width=24,
            height=5,
        ),
    )
    return b
