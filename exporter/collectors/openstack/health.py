"""The health cycle: catalog probes and service states, every 30 s or less.

Requests grow with services and hypervisors, never with servers. Each service's calls run
side by side under one deadline, so a frozen Glance costs ``openstack_glance_up 0`` and
nothing else. ``openstack_<svc>_up`` is 1 only when the service's root answers and every
authenticated check of it succeeds (openstack-exporter says 1 when any one list call worked).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any

import openstack.exceptions as sdk_exc

from exporter.collectors.base import Collection
from exporter.collectors.openstack import agents, placement
from exporter.collectors.openstack.catalog import Endpoint, endpoints
from exporter.collectors.openstack.families import Checked, Scope
from exporter.collectors.openstack.http import get_json
from exporter.collectors.openstack.session import CloudSession
from exporter.collectors.openstack.tasks import Calls, Outcome, Started
from exporter.metric import MetricFamily
from otb_common.cloud import cloud_errors

log = logging.getLogger(__name__)

FORBIDDEN = "403 "
"""How ``describe`` starts a refusal by policy."""

DEADLINE_SHARE = 0.8
"""Of the cycle's timeout, the part its calls may use: the cycle itself must end in time."""

CINDER_TYPES = ("block-storage", "volumev3", "volume", "volumev2")

# Authenticated checks: (part that turns it off or None, catalog type, SDK proxy, function).
Check = Callable[[Scope, Any], "list[MetricFamily] | Checked"]


def _identity(
    scope: Scope,
    identity: Any,
    *,
    token: str,
    current: Callable[[], str],
    renew: Callable[[], str],
) -> list[MetricFamily]:
    """Keystone validates our own token: what every other service asks it to do.

    A revoked token is answered 401: keystoneauth then logs in and repeats the request with
    the new token, but the subject is still the old one, which Keystone no longer knows (404).
    Keystone works and our login too: validate the new token (``current()``, no request).
    Keystone may also go on accepting the revoked token as our credential for a while (it
    caches validations) and answer 404 for it as the subject only: then log in anew
    (``renew()``) and validate that token, instead of failing every cycle until the cache
    forgets."""
    try:
        get_json(identity, "/auth/tokens", headers={"X-Subject-Token": token})
    except sdk_exc.HttpException as exc:
        if exc.status_code != HTTPStatus.NOT_FOUND:
            raise
        renewed = current()
        if renewed == token:
            renewed = renew()
        get_json(identity, "/auth/tokens", headers={"X-Subject-Token": renewed})
    return []


def _glance(scope: Scope, image: Any) -> list[MetricFamily]:
    get_json(image, "/images", params={"limit": 1})
    return []


CHECKS: tuple[tuple[str | None, str, str, Check], ...] = (
    ("nova_services", "compute", "compute", agents.nova_services),
    ("neutron_agents", "network", "network", agents.neutron_agents),
    ("cinder_services", "block-storage", "block_storage", agents.cinder_services),
    ("heat_engines", "orchestration", "orchestration", agents.heat_engines),
    ("placement", "placement", "placement", placement.providers),
    (None, "image", "image", _glance),
)


def authenticate(session: CloudSession) -> tuple[list[dict[str, Any]], str, str, str]:
    """The catalog, region, interface and token: a login unless the token is still good."""
    catalog = session.catalog()
    return catalog, session.region, session.interface, session.token()


def probe(session: CloudSession, ep: Endpoint) -> int:
    """Unauthenticated GET of the service's root (its version document): the status."""
    conn = session.connection()
    response = conn.session.get(
        ep.probe_url,
        authenticated=False,
        raise_exc=False,
        timeout=session.config.api_timeout,
    )
    return int(response.status_code)


@dataclass(frozen=True, slots=True)
class ServiceCall:
    """One call of the cycle: a probe of ``service_type``'s root, or an authenticated check
    (``name``) that speaks for the service ``owner`` (its internal name) in ``_up``."""

    kind: str
    service_type: str
    name: str
    owner: str
    fn: Callable[[], Any]


def probe_calls(session: CloudSession, eps: list[Endpoint]) -> dict[str, ServiceCall]:
    """The unauthenticated probes of ``eps`` (none when the configuration turns them off)."""
    if not session.config.runs("probes"):
        return {}
    return {
        probe_key(ep): ServiceCall(
            "probe", ep.service_type, "probe", ep.internal_name or "", partial(probe, session, ep)
        )
        for ep in eps
    }


def probe_key(ep: Endpoint) -> str:
    return f"probe:{ep.service_type}"


def service_calls(
    session: CloudSession, scope: Scope, eps: list[Endpoint], token: str | None
) -> dict[str, ServiceCall]:
    """The probes, and with a token the authenticated checks, that the configuration keeps,
    by key (``probe:compute``, ``check:nova_services``)."""
    cfg = session.config
    present = {ep.service_type for ep in eps}
    calls = probe_calls(session, eps)
    if token is None:
        return calls
    if "identity" in present:
        calls["check:identity"] = ServiceCall(
            "check",
            "identity",
            "token validation",
            "identity",
            partial(
                _check,
                session,
                partial(_identity, token=token, current=session.token, renew=session.renew_token),
                scope,
                "identity",
            ),
        )
    for part, listed, attribute, fn in CHECKS:
        kind = listed
        if listed == "block-storage":
            kind = next((k for k in CINDER_TYPES if k in present), listed)
        if kind not in present or (part is not None and not cfg.runs(part)):
            continue
        owner = next(ep.internal_name or "" for ep in eps if ep.service_type == kind)
        calls[f"check:{part or kind}"] = ServiceCall(
            "check", kind, part or kind, owner, partial(_check, session, fn, scope, attribute)
        )
    return calls


def _check(
    session: CloudSession, fn: Check, scope: Scope, attribute: str
) -> list[MetricFamily] | Checked:
    return fn(scope, session.proxy(attribute))


class HealthCollector:
    def __init__(self, session: CloudSession) -> None:
        self.session = session
        self.name = f"openstack:{session.config.label}:health"
        self._calls = Calls()
        self._known: list[Endpoint] = []
        """The last catalog seen: probed, and its services reported down, while Keystone
        cannot give a new one."""
        self._failing: set[str] = set()

    def collect(self) -> Collection:
        cfg = self.session.config
        deadline = time.monotonic() + cfg.health.timeout * DEADLINE_SHARE
        # The last catalog's endpoints are probed beside the login, not after it: a probe
        # needs no token, and a login that hangs until the deadline must not leave them none.
        known = self._known
        early = self._calls.start({k: c.fn for k, c in probe_calls(self.session, known).items()})
        probed = {probe_key(ep): ep.probe_url for ep in known}
        auth = self._calls.run({"auth": self._auth}, deadline)["auth"]
        if not auth.ok:
            log.warning(
                "keystone failed; services reported down",
                extra={"cloud": cfg.label, "error": auth.error},
            )
            scope = Scope(cfg.cloud, self._region_label(None))
            families = self._cycle(scope, known, None, deadline, early)
            return Collection(families, error=f"keystone: {auth.error}")
        catalog, region, interface, token = auth.value
        eps = endpoints(catalog, region or None, interface, cfg.skip_services)
        self._known = eps
        self.session.route(eps)
        scope = Scope(cfg.cloud, self._region_label(region))
        # A probe started early speaks for its endpoint only if the catalog still has it.
        now = {probe_key(ep): ep.probe_url for ep in eps}
        same = {k: c for k, c in early.items() if now.get(k) == probed[k]}
        return Collection(self._cycle(scope, eps, token, deadline, same))

    def _region_label(self, region: str | None) -> str:
        """The region of the series: the catalog's answer, else what clouds.yaml says (read
        without a request), so a failing Keystone does not change the labels."""
        if region is not None:
            return region
        try:
            return self.session.region
        except cloud_errors():
            return self.session.config.region or ""

    def _auth(self) -> tuple[list[dict[str, Any]], str, str, str]:
        return authenticate(self.session)

    def _cycle(
        self,
        scope: Scope,
        eps: list[Endpoint],
        token: str | None,
        deadline: float,
        early: Started,
    ) -> list[MetricFamily]:
        """The calls of ``eps`` (with ``early`` those already started) and their families."""
        calls = service_calls(self.session, scope, eps, token)
        started = self._calls.start({k: c.fn for k, c in calls.items() if k not in early})
        waited = self._calls.wait({**early, **started}, deadline)
        outcomes = {key: waited[key] for key in calls}
        owners = {key: call.owner for key, call in calls.items() if call.kind == "check"}
        return self._families(scope, eps, token is not None, outcomes, owners)

    def _families(
        self,
        scope: Scope,
        eps: list[Endpoint],
        authenticated: bool,
        outcomes: dict[str, Outcome],
        owners: dict[str, str],
    ) -> list[MetricFamily]:
        probe_labels = ["service_type", "service", "interface", "url"]
        probe_up = scope.gauge(
            "openstack_api_probe_up",
            "Whether the endpoint's root answered 2xx or 3xx without a token.",
            probe_labels,
        )
        probe_code = scope.gauge(
            "openstack_api_probe_status_code",
            "HTTP status of the endpoint's root; 0 when it did not answer.",
            probe_labels,
        )
        probe_time = scope.gauge(
            "openstack_api_probe_duration_seconds",
            "How long the endpoint's root took to answer (or to fail).",
            probe_labels,
        )
        check_ok = scope.gauge(
            "openstack_api_check_success",
            "Whether the authenticated check of the service succeeded in the last cycle.",
            ["service", "check"],
        )
        # Keystone failing leaves nothing else known: its own signal is still 0.
        healthy: dict[str, bool] = {} if authenticated else {"identity": False}
        for ep in eps:
            name = ep.internal_name
            if name is not None:
                healthy.setdefault(name, authenticated)
            outcome = outcomes.get(f"probe:{ep.service_type}")
            if outcome is None:
                continue
            code = int(outcome.value) if outcome.ok else 0
            up = 200 <= code < 400
            labels = [ep.service_type, ep.service_name, ep.interface, ep.url]
            probe_up.add(labels, 1.0 if up else 0.0)
            probe_code.add(labels, float(code))
            probe_time.add(labels, outcome.seconds)
            if name is not None and not up:
                healthy[name] = False
        families: list[MetricFamily] = []
        for key, outcome in outcomes.items():
            if not key.startswith("check:"):
                continue
            owner = owners[key]
            value, error = outcome.value, outcome.error
            if isinstance(value, Checked):
                families.extend(value.families)
                error = error or value.error
            elif outcome.ok:
                families.extend(value)
            # A 403 is the API answering a policy decision: the service works, our role does
            # not suffice for this check (its signals are absent, the check says why).
            if error is not None and not error.startswith(FORBIDDEN):
                healthy[owner] = False
            self._log_change(scope.base[0], key[6:], error)
            check_ok.add([owner, key[6:]], 0.0 if error else 1.0)
        ups = [
            scope.value(f"openstack_{name}_up", f"Whether the {name} API is healthy.", float(ok))
            for name, ok in sorted(healthy.items())
        ]
        requests, tokens = self.session.counts()
        counted = scope.counter(
            "openstack_exporter_api_requests_total",
            "HTTP requests this exporter made to the cloud's APIs that got an answer.",
            ["service_type", "code"],
        )
        for (kind, status), n in sorted(requests.items()):
            counted.add((*scope.base, kind, status), float(n))
        token_count = scope.counter(
            "openstack_exporter_token_requests_total",
            "Keystone token requests (logins) this exporter made.",
        )
        token_count.add(scope.base, float(tokens))
        return [
            *ups,
            *families,
            probe_up.family,
            probe_code.family,
            probe_time.family,
            check_ok.family,
            counted,
            token_count,
        ]

    def _log_change(self, cloud: str, check: str, error: str | None) -> None:
        """One warning when a check starts failing, one line when it recovers: a service
        down for an hour is not 120 identical lines."""
        if error is not None and check not in self._failing:
            self._failing.add(check)
            log.warning(
                "service check failed", extra={"cloud": cloud, "check": check, "error": error}
            )
        elif error is None and check in self._failing:
            self._failing.discard(check)
            log.info("service check recovered", extra={"cloud": cloud, "check": check})

    def fallback(self) -> list[MetricFamily]:
        return []

    def close(self) -> None:
        self.session.close()
