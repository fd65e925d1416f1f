"""The bridge's own metrics. Counters count events as they happen; everything read from the
state store (queues, alarms) is computed fresh at scrape time by ``StoreCollector``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from alerts import __version__

if TYPE_CHECKING:
    from alerts.mapping import Mapping
    from alerts.store import Store

# ``*_created`` series double the exposition and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]
NS = "aodh_bridge"
WEBHOOK_OUTCOMES = (
    "accepted",
    "bad_json",
    "unsupported_media_type",
    "too_large",
    "invalid",
    "unauthorized",
    "unavailable",
)

# alerts.reconcile.difference() returns one of these.
DIFFERENCE_KINDS = ("state", "unknown_firing", "deleted", "disabled")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.webhooks = Counter(
            f"{NS}_webhooks_received",
            "Aodh webhooks received, by outcome (accepted, or why they were refused).",
            ["outcome"],
            registry=r,
        )
        for outcome in WEBHOOK_OUTCOMES:
            self.webhooks.labels(outcome)
        self.accept_seconds = Histogram(
            f"{NS}_webhook_accept_duration_seconds",
            "Time from a webhook's arrival to its durable commit (accepted ones only).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.requests = Counter(
            f"{NS}_alertmanager_requests",
            "POSTs to /api/v2/alerts, by Alertmanager, outcome (success, retried, refused,"
            " error) and HTTP status code (none: no answer).",
            ["alertmanager", "outcome", "code"],
            registry=r,
        )
        self.alertmanager_up = Gauge(
            f"{NS}_alertmanager_up",
            "0 while deliveries to that Alertmanager fail (any answer other than an alert's own"
            " refusal), 1 otherwise.",
            ["alertmanager"],
            registry=r,
        )
        self.alerts_sent = Counter(
            f"{NS}_alerts_sent",
            "Alerts in those POSTs, by Alertmanager and outcome.",
            ["alertmanager", "outcome"],
            registry=r,
        )
        self.transitions = Counter(
            f"{NS}_alarm_transitions",
            "Alarm state changes applied, by new state and by source (webhook, aodh_api).",
            ["state", "source"],
            registry=r,
        )
        self.reconcile_runs = Counter(
            f"{NS}_reconcile_runs",
            "Reconciliations against the Aodh API, by outcome (success, error).",
            ["outcome"],
            registry=r,
        )
        self.reconcile_differences = Counter(
            f"{NS}_reconcile_differences",
            "Alarms a reconciliation found different from what the bridge knew, by kind.",
            ["kind"],
            registry=r,
        )
        # Exported at 0 from the start (as worker errors), so that increase() sees the first.
        for outcome in ("success", "error"):
            self.reconcile_runs.labels(outcome)
        for kind in DIFFERENCE_KINDS:
            self.reconcile_differences.labels(kind)
        self.api_requests = Counter(
            f"{NS}_aodh_api_requests",
            "Single-alarm reads from the Aodh API after a webhook, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.last_reconcile = Gauge(
            f"{NS}_last_reconcile_success_timestamp_seconds",
            "When the last successful reconciliation started (Unix time).",
            registry=r,
        )
        # Every worker is exported from the start, at 0, so that increase() sees its first error.
        self.worker_errors = Counter(
            f"{NS}_worker_errors",
            "Unexpected errors a background worker logged with their traceback and survived,"
            " by worker.",
            ["worker"],
            registry=r,
        )
        for worker in ("engine", "aodh-read", "sender", "reconcile", "housekeeper"):
            self.worker_errors.labels(worker)
        info = Gauge(f"{NS}_build_info", "Version of the bridge.", ["version"], registry=r)
        info.labels(__version__).set(1)

    def watch(self, store: Store, names: Callable[[str], str], mapping: Mapping) -> None:
        self.registry.register(StoreCollector(store, names, mapping))


ALARM_LABELS = (
    "alarm_id",
    "alarm_name",
    "severity",
    "state",
    "resource_type",
    "resource_id",
    "project_id",
)


class StoreCollector(Collector):
    def __init__(self, store: Store, names: Callable[[str], str], mapping: Mapping) -> None:
        self._store = store
        self._names = names
        self._mapping = mapping

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = time.time()
        depth = GaugeMetricFamily(
            f"{NS}_queue_alerts",
            "Alerts due for delivery to each Alertmanager and not yet accepted by it.",
            labels=["alertmanager"],
        )
        oldest = GaugeMetricFamily(
            f"{NS}_queue_oldest_age_seconds",
            "How long the oldest alert due for each Alertmanager has waited.",
            labels=["alertmanager"],
        )
        for target, (n, age) in self._store.queue_stats(now).items():
            depth.add_metric([self._names(target)], n)
            oldest.add_metric([self._names(target)], age)
        yield depth
        yield oldest
        alarms = GaugeMetricFamily(
            f"{NS}_alarms", "Alarms the bridge knows, by Aodh state.", labels=["state"]
        )
        firing = 0
        by_state: dict[str, int] = {}
        for (state, is_firing), n in self._store.alarm_counts().items():
            by_state[state] = by_state.get(state, 0) + n
            firing += n if is_firing else 0
        for state, n in sorted(by_state.items()):
            alarms.add_metric([state], n)
        yield alarms
        yield GaugeMetricFamily(
            f"{NS}_firing_alarms", "Alarms sent to Alertmanager as firing.", value=firing
        )
        yield GaugeMetricFamily(
            f"{NS}_inbox_webhooks",
            "Accepted webhooks not yet applied to the alarms' state.",
            value=self._store.inbox_depth(),
        )
        yield self._alarm_firing()

    def _alarm_firing(self) -> GaugeMetricFamily:
        """``aodh_bridge_alarm_firing``: one series per alarm the bridge knows that is not
        deleted or disabled, so that a dashboard can list the alarms on one server (Prometheus
        cannot see what the bridge sends to Alertmanager). 1 while the alarm is sent to
        Alertmanager as firing, else 0: its sum is ``aodh_bridge_firing_alarms``.

        Always the same seven labels (``ALARM_LABELS``): ``severity`` as Alertmanager gets it;
        ``state`` Aodh's (alarm, ok, insufficient data); ``resource_type``, ``resource_id``
        and ``project_id`` from the Aodh API, "" until the API was read (or without
        ``--os-cloud``) and for alarm types whose rule has no resource.

        ``state`` is a label although it changes, because the value cannot say it: under the
        ``keep`` policy a firing alarm stays firing in ``insufficient data``, and an alarm with
        no data is what someone looking at a server needs to see. The family comes from one
        read of the state file, so a scrape holds exactly one series per alarm; a transition
        ends the series under the old state (stale from that scrape on) and starts one under
        the new, never both at once. The cost is one new series per transition, and graphs
        over time aggregate the state away: ``max by (alarm_id, alarm_name) (...)``. Dropping
        ``state`` would keep one series for the alarm's life but hide insufficient data; one
        0/1 series per possible state and alarm would triple the series for the same answer.
        A renamed alarm, a changed severity or resource labels that arrive after the first API
        read also start a new series, as they start a new alert in Alertmanager.
        """
        family = GaugeMetricFamily(
            f"{NS}_alarm_firing",
            "1 while the alarm is sent to Alertmanager as firing, else 0; one series per alarm"
            " not deleted or disabled.",
            labels=list(ALARM_LABELS),
        )
        for a in self._store.alarm_summaries():
            labels = [
                a.alarm_id,
                a.name,
                self._mapping.severity(a.severity),
                a.state,
                a.resource_type,
                a.resource_id,
                a.project_id,
            ]
            family.add_metric(labels, 1 if a.firing else 0)
        return family
