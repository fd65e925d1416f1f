"""Aodh alarms and the aodh-alertmanager-bridge that carries them to Alertmanager."""

from __future__ import annotations

from dashboards.common import Board, Q, Var, flag, grid, series, single

UID = "otb-aodh-bridge"
B = '{instance=~"$bridge"}'


def board() -> Board:
    b = Board(
        UID,
        "Aodh alarms and the bridge",
        "Aodh's alarms as aodh-alertmanager-bridge receives and delivers them: alarm states,"
        " webhooks, queues per Alertmanager and reconciliation with the Aodh API.",
        [Var("bridge", "Bridge", "label_values(aodh_bridge_build_info, instance)")],
    )
    b.row(
        "Alarms",
        single(
            "Firing alarms",
            "Alarms the bridge currently sends to Alertmanager as firing.",
            "none",
            Q(f"sum(aodh_bridge_firing_alarms{B})"),
            width=6,
            thresholds=((None, "green"), (1, "orange")),
        ),
        series(
            "Alarms by state",
            "Alarms in the bridge's state file, by Aodh state.",
            "none",
            Q(f"max by (state) (aodh_bridge_alarms{B})", "{{state}}"),
            width=18,
        ),
        grid(
            "Firing Aodh alarms",
            "Every alarm sent as firing, with its severity and the resource it watches.",
            "none",
            # Every bridge replica knows every alarm: one row per alarm, not per replica.
            Q(f"max without (instance, job) (aodh_bridge_alarm_firing{B}) == 1"),
            width=12,
        ),
        grid(
            "Firing Prometheus alerts",
            "Alerts Prometheus's own rules fire now (ALERTS), for comparison with Aodh's:"
            " both reach the same Alertmanagers.",
            "none",
            Q('ALERTS{alertstate="firing"}'),
            width=12,
        ),
    )
    b.row(
        "Webhooks",
        series(
            "Webhooks by outcome",
            "Aodh webhooks received per second: accepted, or why they were refused. Aodh"
            " does not retry, so every refusal is a transition Alertmanager missed.",
            "reqps",
            Q(
                "sum by (outcome) (rate(aodh_bridge_webhooks_received_total"
                f"{B}[$__rate_interval]))",
                "{{outcome}}",
            ),
        ),
        series(
            "Accept latency",
            "From a webhook's arrival to its durable commit, 50th and 99th percentile.",
            "s",
            *(
                Q(
                    f"histogram_quantile({q}, sum by (le) (rate("
                    f"aodh_bridge_webhook_accept_duration_seconds_bucket{B}[$__rate_interval])))",
                    f"p{int(q * 100)}",
                )
                for q in (0.5, 0.99)
            ),
        ),
    )
    b.row(
        "Delivery",
        series(
            "Queue per Alertmanager",
            "Alerts due for each Alertmanager and not yet accepted by it. Grows while it is"
            " down; nothing is lost.",
            "none",
            Q(f"max by (alertmanager) (aodh_bridge_queue_alerts{B})", "{{alertmanager}}"),
            width=8,
        ),
        series(
            "Oldest queued alert",
            "How long the oldest undelivered alert for each Alertmanager has waited.",
            "s",
            Q(
                f"max by (alertmanager) (aodh_bridge_queue_oldest_age_seconds{B})",
                "{{alertmanager}}",
            ),
            width=8,
        ),
        single(
            "Alertmanagers accepting",
            "0 from a failed delivery round to an Alertmanager until one gets through.",
            "none",
            Q(f"min by (alertmanager) (aodh_bridge_alertmanager_up{B})", "{{alertmanager}}"),
            width=8,
            height=8,
            mappings=flag("up", "failing"),
        ),
        series(
            "Deliveries",
            "POSTs to each Alertmanager per second, by outcome.",
            "reqps",
            Q(
                "sum by (alertmanager, outcome) (rate(aodh_bridge_alertmanager_requests_total"
                f"{B}[$__rate_interval]))",
                "{{alertmanager}} {{outcome}}",
            ),
        ),
        series(
            "Alerts sent",
            "Alerts in those POSTs per second, by outcome (refused ones are dropped).",
            "ops",
            Q(
                "sum by (alertmanager, outcome) (rate(aodh_bridge_alerts_sent_total"
                f"{B}[$__rate_interval]))",
                "{{alertmanager}} {{outcome}}",
            ),
        ),
    )
    b.row(
        "Reconciliation",
        series(
            "Reconciliation runs",
            "Reconciliations with the Aodh API, by outcome.",
            "none",
            Q(
                "sum by (outcome) (increase(aodh_bridge_reconcile_runs_total"
                f"{B}[$__rate_interval]))",
                "{{outcome}}",
            ),
        ),
        series(
            "Differences found",
            "Alarms a reconciliation found different from what the bridge knew, by kind: a"
            " lost or reordered webhook (state), an alarm never heard of (unknown_firing), a"
            " deleted or disabled one.",
            "none",
            Q(
                "sum by (kind) (increase(aodh_bridge_reconcile_differences_total"
                f"{B}[$__rate_interval]))",
                "{{kind}}",
            ),
        ),
        series(
            "Since the last successful reconciliation",
            "Time since the last reconciliation that succeeded.",
            "s",
            Q(
                f"time() - (aodh_bridge_last_reconcile_success_timestamp_seconds{B} > 0)",
                "{{instance}}",
            ),
        ),
        series(
            "Alarm transitions",
            "State changes the bridge applied, by new state and source (webhook or API).",
            "none",
            Q(
                "sum by (state, source) (increase(aodh_bridge_alarm_transitions_total"
                f"{B}[$__rate_interval]))",
                "{{state}} ({{source}})",
            ),
        ),
    )
    return b
