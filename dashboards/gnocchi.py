"""Gnocchi and Ceilometer: what is measured, how fresh it is, and metricd's backlog."""

from __future__ import annotations

from dashboards.common import Board, Q, Var, flag, grid, selector, series, single

UID = "otb-gnocchi"
F = selector(cloud="$cloud", region="$region")
T = selector(cloud="$cloud", region="$region", resource_type="$resource_type")
# Gnocchi's points are 60 s apart at best (Ceilometer's finest archive policy): steps of a
# minute at least, so that $__rate_interval (interval + scrape interval) spans two of them.
STEP = "1m"


def board() -> Board:
    b = Board(
        UID,
        "Gnocchi and Ceilometer",
        "Ceilometer's measures as Gnocchi stores them, read by openstack-telemetry-exporter's"
        " gnocchi collector: series per resource type and meter, staleness, metricd's backlog.",
        [
            Var("cloud", "Cloud", "label_values(gnocchi_exporter_resources, cloud)"),
            Var(
                "region",
                "Region",
                'label_values(gnocchi_exporter_resources{cloud=~"$cloud"}, region)',
            ),
            Var(
                "resource_type",
                "Resource type",
                'label_values(gnocchi_exporter_resources{cloud=~"$cloud", region=~"$region"},'
                " resource_type)",
            ),
        ],
    )
    b.row(
        "Processing",
        series(
            "Measures waiting for metricd",
            "Gnocchi's backlog: measures received and not yet processed into aggregates,"
            " and the metrics that have some. It should return to near 0 after each"
            " Ceilometer polling round; steady growth means metricd cannot keep up or is"
            " stopped.",
            "none",
            Q(f"openstack_gnocchi_status_measures_to_process{F}", "measures {{region}}"),
            Q(
                f"openstack_gnocchi_status_metric_having_measures_to_process{F}",
                "metrics {{region}}",
            ),
        ),
        series(
            "Newest point age",
            "Age of the newest point of the reference meter (instance cpu): how far behind"
            " Ceilometer and metricd are. Above a few granularities, samples are not arriving.",
            "s",
            Q(f"gnocchi_newest_point_age_seconds{F}", "{{resource_type}} {{metric}}"),
        ),
    )
    b.row(
        "Series",
        single(
            "Live resources",
            "Resources without an end time, by type, in the last read.",
            "none",
            Q(f"sum by (resource_type) (gnocchi_exporter_resources{T})", "{{resource_type}}"),
            width=24,
        ),
        grid(
            "Series by resource type and meter",
            "Series read in the last cycle: fresh ones are exported; stale ones belong to"
            " live resources that have no recent point (a stopped server, a broken pollster).",
            "none",
            Q(f"sum by (resource_type, metric, state) (gnocchi_exporter_series{T})"),
            width=12,
            height=10,
        ),
        series(
            "Stale series",
            "Series of live resources whose newest point is older than stale_after"
            " granularities, by resource type.",
            "none",
            Q(
                f'sum by (resource_type) (gnocchi_exporter_series{{state="stale", {T[1:-1]}}})',
                "{{resource_type}}",
            ),
            height=10,
        ),
    )
    b.row(
        "Measures",
        series(
            "Instance CPU (top 10)",
            "CPU time per second of the ten busiest instances, from Gnocchi's cpu meter.",
            "percentunit",
            Q(
                "topk(10, rate(gnocchi_cpu_seconds_total"
                f'{{resource_type="instance", {F[1:-1]}}}[$__rate_interval])'
                " / on (resource_id) group_left () gnocchi_vcpus)",
                "{{resource_id}}",
            ),
        ).interval(STEP),
        series(
            "Instance memory (top 10)",
            "Memory used by the ten largest instances (memory.usage).",
            "bytes",
            Q(f"topk(10, gnocchi_memory_usage_bytes{F})", "{{resource_id}}"),
        ).interval(STEP),
        series(
            "Network traffic (top 10 interfaces)",
            "Bytes received per second on the ten busiest instance interfaces.",
            "Bps",
            Q(
                f"topk(10, rate(gnocchi_network_incoming_bytes_total{F}[$__rate_interval]))",
                "{{instance_id}} {{device}}",
            ),
        ).interval(STEP),
        series(
            "Disk traffic (top 10 disks)",
            "Bytes written per second on the ten busiest instance disks.",
            "Bps",
            Q(
                f"topk(10, rate(gnocchi_disk_device_write_bytes_total{F}[$__rate_interval]))",
                "{{instance_id}} {{device}}",
            ),
        ).interval(STEP),
    )
    b.row(
        "Reads",
        grid(
            "Read groups",
            "Each (resource type, archive policy, granularity) group the collector reads in"
            " one request: 1 when its last read succeeded.",
            "none",
            Q(f"gnocchi_exporter_read_success{T}"),
            width=12,
            mappings=flag("ok", "failed"),
        ),
        series(
            "Gnocchi API requests",
            "Requests the collector sent to Gnocchi, by status code.",
            "reqps",
            Q(
                f"sum by (code) (rate(gnocchi_exporter_api_requests_total{F}[$__rate_interval]))",
                "{{code}}",
            ),
        ),
    )
    return b
