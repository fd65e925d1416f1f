"""The gnocchi collector's cycle: discovery when due, then every group and the status side
by side under the cycle's deadline.

A group that fails drops its own families for the cycle (nothing stale is served as
current) and fails the cycle; the other groups publish. A refused read (400/404: a policy
changed under a meter) makes the next cycle discover again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

from exporter.collectors.base import Collection
from exporter.collectors.gnocchi.client import GnocchiClient
from exporter.collectors.gnocchi.config import GnocchiConfig
from exporter.collectors.gnocchi.errors import explain, gnocchi_errors
from exporter.collectors.gnocchi.plan import Group, Plan, discover
from exporter.collectors.gnocchi.reader import Read, iso, read_group, timestamp
from exporter.collectors.gnocchi.status import status_families
from exporter.collectors.openstack.catalog import Endpoint
from exporter.collectors.openstack.families import BASE_LABELS as BASE
from exporter.collectors.openstack.session import CloudSession
from exporter.collectors.openstack.tasks import Calls, Outcome
from exporter.metric import MetricFamily

log = logging.getLogger(__name__)

DEADLINE_SHARE = 0.9
REFERENCE_WINDOW = 86400.0
"""How far back the reference meter's newest point is looked for when no fresh one exists."""
REDISCOVER_AFTER = 60.0
"""A refused read discovers again, but not sooner than this after the last discovery."""


class GnocchiCollector:
    def __init__(
        self,
        config: GnocchiConfig,
        session: CloudSession,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.session = session
        self.name = f"gnocchi:{config.label}"
        self.client = GnocchiClient(session)
        self._clock = clock
        self._calls = Calls(gnocchi_errors, explain)
        self._plan: Plan | None = None
        self._planned_at = 0.0
        self._rediscover = False
        self._problems: frozenset[str] = frozenset()
        self._failing: frozenset[str] = frozenset()
        self._reference_id: str | None = None

    def collect(self) -> Collection:
        cfg = self.config
        deadline = time.monotonic() + cfg.schedule.timeout * DEADLINE_SHARE
        base = (cfg.cloud, self.session.region)
        errors: list[tuple[str, str]] = []
        families: list[MetricFamily] = []
        discovered = self._discover(deadline)
        if discovered is not None:
            errors.append(("discovery", discovered))
        plan = self._plan
        calls: dict[str, Callable[[], object]] = {}
        if cfg.status:
            calls["status"] = lambda: status_families(self.client.status(), base)
        groups = {g.key: g for g in plan.groups} if plan else {}
        for key, group in groups.items():
            calls[key] = partial(read_group, self.client, group, base, cfg.stale_after, self._clock)
        outcomes = self._calls.run(calls, deadline)
        reads: dict[str, Read] = {}
        success = MetricFamily(
            "gnocchi_exporter_read_success",
            "Whether the last cycle read the group (one aggregates request per shard); its "
            "families are absent when not.",
            "gauge",
            (*BASE, "resource_type", "archive_policy", "granularity"),
        )
        for key, group in groups.items():
            outcome = outcomes[key]
            success.add(
                (*base, group.resource_type, group.policy, f"{group.granularity:g}"),
                1.0 if outcome.ok else 0.0,
            )
            if outcome.ok:
                reads[key] = outcome.value
            else:
                errors.append((key, outcome.error or ""))
                refused = (outcome.error or "").startswith(("HTTP 400", "HTTP 404"))
                # A group Gnocchi keeps refusing (a meter on another policy on some
                # resources) is not worth a discovery every cycle.
                if refused and time.monotonic() - self._planned_at >= REDISCOVER_AFTER:
                    self._rediscover = True
        families.extend(self._measures(groups, reads, base))
        families.append(success)
        families.extend(self._reference(plan, groups, reads, base, deadline, errors=errors))
        if cfg.status:
            families.extend(self._status(outcomes["status"], base, errors))
        families.extend(self._requests(base))
        self._log_failures(errors)
        return Collection(families, error="; ".join(f"{p}: {e}" for p, e in errors) or None)

    # -- discovery ------------------------------------------------------------------------

    def _discover(self, deadline: float) -> str | None:
        """Discover when due; the error when it failed (the last plan, if any, stays)."""
        due = (
            self._plan is None
            or self._rediscover
            or time.monotonic() - self._planned_at >= self.config.discovery_interval
        )
        if not due:
            return None
        outcome = self._calls.run({"discovery": self._discovery}, deadline)["discovery"]
        if not outcome.ok:
            return outcome.error
        plan: Plan = outcome.value
        self._plan, self._planned_at, self._rediscover = plan, time.monotonic(), False
        problems = frozenset(plan.problems)
        for problem in sorted(problems - self._problems):
            log.warning(
                "gnocchi meter not readable", extra={"cloud": self.config.label, "why": problem}
            )
        self._problems = problems
        return None

    def _discovery(self) -> Plan:
        url = self.client.endpoint()
        self.session.route(
            [Endpoint("metric", "gnocchi", self.session.interface, self.session.region, url)]
        )
        return discover(self.client, self.config)

    # -- families -------------------------------------------------------------------------

    def _measures(
        self, groups: dict[str, Group], reads: dict[str, Read], base: tuple[str, str]
    ) -> list[MetricFamily]:
        out: dict[str, MetricFamily] = {}
        series = MetricFamily(
            "gnocchi_exporter_series",
            "Series of live resources read in the last cycle, by whether their latest point "
            "was fresh (exported) or older than stale_after granularities (not exported).",
            "gauge",
            (*BASE, "resource_type", "metric", "state"),
        )
        resources = MetricFamily(
            "gnocchi_exporter_resources",
            "Live resources (ended_at unset) of each type in the last cycle's reads.",
            "gauge",
            (*BASE, "resource_type"),
        )
        seen_types: dict[str, int] = {}
        for key, group in groups.items():
            read = reads.get(key)
            if read is None:
                continue
            for meter in group.series:
                family = out.get(meter.family)
                if family is None:
                    family = out[meter.family] = MetricFamily(
                        meter.family,
                        meter.help,
                        "counter" if meter.counter else "gauge",
                        group.labelnames,
                    )
                family.rows.extend(read.rows.get(meter.family, ()))
                for state, counts in (("fresh", read.fresh), ("stale", read.stale)):
                    series.add(
                        (*base, group.resource_type, meter.metric, state),
                        float(counts.get(meter.metric, 0)),
                    )
            kind = group.resource_type
            seen_types[kind] = max(seen_types.get(kind, 0), read.resources)
        for kind, count in seen_types.items():
            resources.add((*base, kind), float(count))
        return [*(out[name] for name in sorted(out)), series, resources]

    def _reference(
        self,
        plan: Plan | None,
        groups: dict[str, Group],
        reads: dict[str, Read],
        base: tuple[str, str],
        deadline: float,
        *,
        errors: list[tuple[str, str]],
    ) -> list[MetricFamily]:
        """The age of the reference meter's newest point: from this cycle's reads when one
        is fresh, else one measures request on the metric that was freshest last time."""
        ref = plan.reference if plan else None
        if ref is None:
            return []
        family = MetricFamily(
            "gnocchi_newest_point_age_seconds",
            "Age of the newest aggregated point of the reference meter: grows when "
            "metricd is stuck or nothing is polled.",
            "gauge",
            (*BASE, "resource_type", "metric"),
        )
        newest: tuple[float, str] | None = None
        for key, group in groups.items():
            read = reads.get(key)
            if group.resource_type == ref.resource_type and read is not None:
                found = read.newest.get(ref.metric)
                if found is not None and (newest is None or found[0] > newest[0]):
                    newest = found
        if newest is not None:
            self._reference_id = newest[1]
            stamp: float | None = newest[0]
        else:
            metric_id = self._reference_id or ref.metric_id
            start = iso(self._clock() - REFERENCE_WINDOW)
            call = partial(self.client.measures, metric_id, ref.aggregation, ref.granularity, start)
            outcome = self._calls.run({"reference": call}, deadline)["reference"]
            if not outcome.ok:
                errors.append(("reference", outcome.error or ""))
                return [family]
            points = outcome.value or []
            stamp = timestamp(points[-1][0]) if points else None
        if stamp is not None:
            age = max(0.0, self._clock() - stamp)
            family.add((*base, ref.resource_type, ref.metric), age)
        return [family]

    def _status(
        self, outcome: Outcome, base: tuple[str, str], errors: list[tuple[str, str]]
    ) -> list[MetricFamily]:
        ok = MetricFamily(
            "gnocchi_exporter_status_success",
            "Whether Gnocchi's status (the backlog; needs the admin role) was read.",
            "gauge",
            BASE,
        )
        ok.add(base, 1.0 if outcome.ok else 0.0)
        if not outcome.ok:
            errors.append(("status", outcome.error or ""))
            return [ok]
        families: list[MetricFamily] = outcome.value
        return [*families, ok]

    def _requests(self, base: tuple[str, str]) -> list[MetricFamily]:
        requests, tokens = self.session.counts()
        counted = MetricFamily(
            "gnocchi_exporter_api_requests_total",
            "HTTP requests the gnocchi collector made that got an answer.",
            "counter",
            (*BASE, "service_type", "code"),
        )
        for (kind, status), n in sorted(requests.items()):
            counted.add((*base, kind, status), float(n))
        logins = MetricFamily(
            "gnocchi_exporter_token_requests_total",
            "Keystone token requests (logins) the gnocchi collector made.",
            "counter",
            BASE,
        )
        logins.add(base, float(tokens))
        return [counted, logins]

    def _log_failures(self, errors: list[tuple[str, str]]) -> None:
        """Each failing part once when it starts failing, and once when it recovers."""
        failing = frozenset(part for part, _ in errors)
        for part, error in errors:
            if part not in self._failing:
                log.warning(
                    "gnocchi read failed",
                    extra={"cloud": self.config.label, "part": part, "error": error},
                )
        for part in sorted(self._failing - failing):
            log.info("gnocchi read recovered", extra={"cloud": self.config.label, "part": part})
        self._failing = failing

    def fallback(self) -> list[MetricFamily]:
        return []

    def close(self) -> None:
        self.session.close()
