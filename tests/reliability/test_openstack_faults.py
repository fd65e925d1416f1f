"""The central exporter while OpenStack services fail on the testbed, and after.

The real exporter process runs a short health cycle (3 s) against the shared testbed; each
test breaks one thing with testbed/faults.py and follows the scrapes: the broken service's
signals go to 0, every other one stays 1, every scrape answers (each is bounded by a client
timeout: liveness, never a timed assertion), and once the fault ends the signals come back
without a restart. Every test leaves what it touched running and answering.

Token lifetime needs a Keystone of its own with short tokens; the revoked-token case runs the
collector in this process, where its token can be read and revoked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from keystoneauth1.identity.base import BaseIdentityPlugin

from exporter.collectors.base import Collection
from exporter.collectors.openstack.config import CloudConfig
from exporter.collectors.openstack.health import HealthCollector
from exporter.collectors.openstack.session import CloudSession
from exporter.collectors.plugin import Schedule
from testbed import faults
from testbed.services import heat
from tests.support.central import SERVICES, Watch, central_exporter, config_text, running_again
from tests.support.metrics import Samples
from tests.support.proxy import http_proxy
from tests.support.testbed import Testbed, identity, private_testbed

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

# The short cycle: a frozen API's requests end at api_timeout, the cycle's calls at 80 % of
# its timeout, all within the interval.
FAST = config_text("3s", "2500ms", "2s")
INTERVAL = 3.0
# Seen within a few health cycles (a frozen service's call ends at api_timeout).
SOON = 6 * INTERVAL
# A service that comes back answers again: a restart waits for it, a thaw is at once.
BACK = 10 * INTERVAL
# Nova counts a compute down 20 s after its last report (docs/testbed.md): 20-25 s.
AGENT_DOWN = 45.0
# Long enough to see the fault hold, as every scrape meanwhile is checked.
HOLD_CYCLES = 3
ALL_SERVICES = ("nova", "neutron", "cinder", "glance", "heat", "placement")


@pytest.fixture
def healthy(testbed: Testbed, tmp_path: Path) -> Iterator[Watch]:
    """An exporter with the short health cycle (one per test: it costs a second or two),
    once it reports every service up."""
    testbed.need(*ALL_SERVICES)
    with central_exporter(tmp_path / "fast", testbed.clouds_yaml, FAST) as watch:
        watch.until("every service up", watch.all_up, timeout=BACK)
        yield watch


def hold(watch: Watch, cycles: int, timeout: float) -> list[Samples]:
    """Scrape until ``cycles`` more health cycles have been published; every scrape taken."""
    mark = watch.mark()

    def stamp(s: Samples) -> tuple[float | None, float | None]:
        key = frozenset({("collector", watch.health)})
        return watch.last_success(s), s.get(("openstack_exporter_collector_duration_seconds", key))

    seen = [stamp(watch.scrape())]

    def enough(s: Samples) -> bool:
        if stamp(s) != seen[-1]:
            seen.append(stamp(s))
        return len(seen) > cycles

    watch.until(f"{cycles} health cycles", enough, timeout)
    return watch.since(mark)


def only_down(watch: Watch, service: str, cycles: int = HOLD_CYCLES) -> None:
    """``service``'s ``_up`` is 0 within a few cycles and stays so for ``cycles`` more, while
    every other service stays 1 and the health cycle succeeds, in every scrape meanwhile."""
    watch.until(f"openstack_{service}_up 0", lambda s: watch.up(s, service) == 0, timeout=SOON)
    for samples in hold(watch, cycles, timeout=(cycles + 2) * INTERVAL):
        assert watch.up(samples, service) == 0
        others = {n: v for n, v in watch.ups(samples).items() if n != service}
        assert all(v == 1 for v in others.values()), (others, watch.failures())
        assert watch.success(samples) == 1
        assert watch.timeouts(samples) == 0


def back_up(watch: Watch, service: str) -> None:
    watch.until(f"openstack_{service}_up 1 again", lambda s: watch.up(s, service) == 1, BACK)
    watch.until("every service up", watch.all_up, timeout=BACK)


def test_frozen_then_killed_glance_costs_only_glance(testbed: Testbed, healthy: Watch) -> None:
    bed = testbed.bed
    try:
        faults.freeze(bed, "glance")  # connections accepted, never answered
        only_down(healthy, "glance")
        faults.thaw(bed, "glance")
        back_up(healthy, "glance")

        faults.kill(bed, "glance")  # a crash: connections refused
        only_down(healthy, "glance")
        faults.restart(bed, "glance")
        back_up(healthy, "glance")
    finally:
        running_again(bed, "glance")


def _agent_states(watch: Watch, samples: Samples) -> dict[tuple[str, str], float]:
    """Nova's, Neutron's and Cinder's service and agent states by (family, service)."""
    names = {f"openstack_{s}_agent_state" for s in ("nova", "neutron", "cinder")}
    return {
        (name, dict(labels)["service"]): value
        for (name, labels), value in samples.items()
        if name in names and ("cloud", watch.cloud) in labels
    }


def test_a_frozen_nova_compute_is_its_own_agent_state_only(
    testbed: Testbed, healthy: Watch
) -> None:
    """Frozen, not stopped: a restarted compute loses the fake driver's server."""
    bed = testbed.bed
    compute = ("openstack_nova_agent_state", "nova-compute")

    def state(s: Samples) -> float | None:
        return _agent_states(healthy, s).get(compute)

    healthy.until("nova-compute reported up", lambda s: state(s) == 1, timeout=BACK)
    try:
        faults.freeze(bed, "nova", "nova-compute")
        healthy.until("nova-compute reported down", lambda s: state(s) == 0, AGENT_DOWN)
        for samples in hold(healthy, HOLD_CYCLES, timeout=(HOLD_CYCLES + 2) * INTERVAL):
            states = _agent_states(healthy, samples)
            assert states.pop(compute) == 0
            assert states, "no other agent states"
            assert all(v == 1 for v in states.values()), states
            assert healthy.all_up(samples), healthy.ups(samples)
            assert healthy.success(samples) == 1
        faults.thaw(bed, "nova", "nova-compute")
        healthy.until("nova-compute reported up again", lambda s: state(s) == 1, BACK)
    finally:
        running_again(bed, "nova", "nova-compute")


# The patient exporter's cycle: its api_timeout outlasts Heat's RPC timeout.
PATIENT = config_text("20s", "18s", "14s", inventory=None)
PATIENT_WITHIN = 3 * 20.0


def _heat(watch: Watch, samples: Samples) -> tuple[float | None, float | None]:
    """``openstack_heat_engines_up`` and ``openstack_heat_up``."""
    return watch.value(samples, "openstack_heat_engines_up"), watch.up(samples, "heat")


def test_heat_without_engines(testbed: Testbed, tmp_path: Path) -> None:
    """Heat answers 503 "All heat engines are down" only after its RPC timeout (10 s here,
    60 s by default), so this exporter's api_timeout is longer; a short one ends the call
    first (Heat down, its engine count unknown). Only this exporter asks Heat meanwhile:
    each such request holds one of heat-api's four threads for those 10 s."""
    bed = testbed.need(*ALL_SERVICES).bed
    assert heat.RPC_TIMEOUT < 14 * 0.8
    with central_exporter(tmp_path, testbed.clouds_yaml, PATIENT) as slow:
        slow.until("one heat engine up", lambda s: _heat(slow, s) == (1, 1), PATIENT_WITHIN)
        try:
            faults.stop(bed, "heat", "heat-engine")
            seen = slow.until(
                "heat_engines_up 0, heat_up 0", lambda s: _heat(slow, s) == (0, 0), PATIENT_WITHIN
            )
            assert slow.all_up(seen, but=("heat",)), slow.ups(seen)
            assert slow.success(seen) == 1
            faults.restart(bed, "heat", "heat-engine")
            seen = slow.until("heat back", lambda s: _heat(slow, s) == (1, 1), PATIENT_WITHIN)
            assert slow.all_up(seen), slow.ups(seen)
        finally:
            running_again(bed, "heat", "heat-engine")
        for samples in slow.scrapes:
            assert slow.success(samples) == 1
            assert slow.timeouts(samples) == 0


def test_frozen_keystone_never_hangs_a_cycle_or_a_scrape(
    testbed: Testbed, healthy: Watch, tmp_path: Path
) -> None:
    """With a token in hand the cycle goes on: identity_up 0 (Keystone cannot validate our
    token), the other services as their own token caches allow (each validated our token
    before and may still accept it), the cycle a success. An exporter that starts meanwhile
    has no catalog: its cycle fails, identity_up 0. No cycle overruns its deadline, every
    scrape answers, and both recover once Keystone answers, without a restart."""
    bed = testbed.bed
    try:
        faults.freeze(bed, "keystone")
        healthy.until("identity_up 0", lambda s: healthy.up(s, "identity") == 0, SOON)
        with central_exporter(tmp_path, testbed.clouds_yaml, FAST, ready=False) as cold:
            seen = cold.until(
                "the new exporter's failed cycle",
                lambda s: cold.success(s) == 0 and cold.up(s, "identity") == 0,
                SOON,
            )
            assert cold.timeouts(seen) == 0
            assert cold.exporter.get("/readyz").status == 503
            for samples in hold(healthy, HOLD_CYCLES, timeout=(HOLD_CYCLES + 2) * INTERVAL):
                assert healthy.up(samples, "identity") == 0
                assert all(healthy.up(samples, n) in (0, 1) for n in SERVICES), healthy.ups(samples)
                assert healthy.success(samples) == 1
                assert healthy.timeouts(samples) == 0
            faults.thaw(bed, "keystone")
            seen = cold.until(
                "the new exporter recovered",
                lambda s: cold.success(s) == 1 and cold.all_up(s),
                BACK,
            )
            assert cold.timeouts(seen) == 0
        back_up(healthy, "identity")
        assert healthy.timeouts(healthy.scrapes[-1]) == 0
    finally:
        running_again(bed, "keystone")


# keystoneauth renews a token that expires within this many seconds.
RENEW_BEFORE = BaseIdentityPlugin.MIN_TOKEN_LIFE_SECONDS
# Tokens of 150 s are used for 30 s each: two renewals within about a minute.
TOKEN_LIFETIME = RENEW_BEFORE + 30
RENEWALS = 2


def _short_token_clouds(testbed: Testbed, proxy_url: str, path: Path) -> Path:
    """The testbed's clouds.yaml with auth_url through the counting proxy."""
    auth_url = testbed.info("keystone")["auth_url"]
    text = testbed.clouds_yaml.read_text()
    assert auth_url in text
    path.write_text(text.replace(auth_url, proxy_url + "/v3"))
    return path


def test_tokens_are_renewed_once_per_lifetime_without_a_failed_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Keystone of its own with 150 s tokens (about 45 s to start), behind a proxy that
    counts the logins it gets; a 2 s health cycle across two renewals."""
    monkeypatch.setenv("TESTBED_TOKEN_EXPIRATION", str(TOKEN_LIFETIME))
    with private_testbed("keystone") as own:
        assert own.info("keystone")["token_expiration"] == TOKEN_LIFETIME
        upstream = own.info("keystone")["auth_url"]
        with http_proxy(lambda _method, _path: None, upstream=upstream) as proxy:

            def logins() -> int:
                return sum(
                    1 for s in proxy.seen if s.method == "POST" and s.path == "/v3/auth/tokens"
                )

            clouds = _short_token_clouds(own, proxy.url, tmp_path / "clouds.yaml")
            # api_timeout leaves room for a Keystone busy with a login on a loaded machine: the
            # point is the renewal, not a deadline.
            config = config_text("3s", "3s", "2500ms", inventory=None)
            began = time.monotonic()
            with central_exporter(tmp_path, clouds, config) as watch:
                # Until the exporter has logged in RENEWALS more times; then at once (the
                # next login is a token's use later) compare with what Keystone was asked.
                seen = watch.until(
                    f"{RENEWALS} renewals",
                    lambda s: (watch.tokens(s) or 0) >= RENEWALS + 1,
                    timeout=(RENEWALS + 1) * (TOKEN_LIFETIME - RENEW_BEFORE) + 30,
                )
                at_keystone = logins()
                elapsed = time.monotonic() - began
                assert watch.tokens(seen) == at_keystone
                log = watch.exporter.logs()
        cycles = {watch.last_success(s) for s in watch.scrapes}
        # One login, then one per token's use (30 s, less a second of rounding): three in
        # the minute or so this runs, where a login per cycle would be some thirty.
        allowed = 1 + int(elapsed // (TOKEN_LIFETIME - RENEW_BEFORE - 1))
        assert RENEWALS + 1 <= at_keystone <= allowed, (at_keystone, allowed, elapsed)
        assert len(cycles) >= 5 * at_keystone, (len(cycles), at_keystone)
        assert all(watch.success(s) == 1 for s in watch.scrapes)
        assert all(watch.up(s, "identity") == 1 for s in watch.scrapes)
        assert "cycle failed" not in log
        assert "abandoned" not in log


def _in_process(
    testbed: Testbed, monkeypatch: pytest.MonkeyPatch, api_timeout: float, timeout: float
) -> Iterator[HealthCollector]:
    testbed.need(*ALL_SERVICES)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(testbed.clouds_yaml))
    config = CloudConfig(
        cloud="testbed", api_timeout=api_timeout, health=Schedule(INTERVAL, timeout)
    )
    collector = HealthCollector(CloudSession(config))
    yield collector
    collector.close()


@pytest.fixture
def in_process(testbed: Testbed, monkeypatch: pytest.MonkeyPatch) -> Iterator[HealthCollector]:
    """The health collector in this process, with the fast exporter's settings: its session
    (and token) at hand."""
    yield from _in_process(testbed, monkeypatch, 2.0, 2.5)


@pytest.fixture
def patient(testbed: Testbed, monkeypatch: pytest.MonkeyPatch) -> Iterator[HealthCollector]:
    """As ``in_process`` with room for a cycle that logs in again: on a loaded machine a 401,
    a login and two validations outlast the fast settings' 2-second deadline, and a check
    cut short there is not what these tests are about."""
    yield from _in_process(testbed, monkeypatch, 10.0, 30.0)


def _rows(collection: Collection, name: str) -> dict[tuple[str, ...], float]:
    """One family's rows by their labels after cloud and region."""
    return {
        labels[2:]: value
        for fam in collection.families
        if fam.name == name
        for labels, value in fam.rows
    }


def test_a_revoked_token_costs_one_login_and_no_failed_check(
    testbed: Testbed, patient: HealthCollector, caplog: pytest.LogCaptureFixture
) -> None:
    """Its token revoked in Keystone, the next cycle logs in once and every check succeeds
    (the validation of our token included): after a 401, or, while Keystone's validation
    cache still takes the token as a credential, after the 404 for it as a subject."""
    session = patient.session
    first = patient.collect()
    assert first.success, first.error
    before = _rows(first, "openstack_api_check_success")
    assert all(v == 1 for v in before.values()), before
    assert session.counts()[1] == 1
    # Keystone matches a revocation against tokens issued before it, at whole seconds: a
    # token issued in the same second as its revocation stays valid (seen on a fresh testbed,
    # where the login and the revocation came within one second).
    time.sleep(1.1)
    admin = testbed.connect()
    try:
        revoked = identity(admin).delete(
            "/auth/tokens", headers={"X-Subject-Token": session.token()}
        )
        assert revoked.status_code == 204
    finally:
        admin.close()
    after = patient.collect()
    assert after.success, after.error
    checks = _rows(after, "openstack_api_check_success")
    failed = [getattr(r, "error", r.getMessage()) for r in caplog.records]
    assert session.counts()[1] == 2, (checks, failed)
    assert checks, "no authenticated checks"
    assert all(v == 1 for v in checks.values()), checks
    ups = {name: _rows(after, f"openstack_{name}_up").get(()) for name in SERVICES}
    assert all(v == 1 for v in ups.values()), ups


def test_a_login_that_hangs_leaves_the_probes_their_time(
    testbed: Testbed, in_process: HealthCollector
) -> None:
    """A token to renew while Keystone hangs: the cycle fails at its deadline, and the
    endpoints of the last catalog are still probed beside the login (they need no token):
    those that answer say so."""
    bed = testbed.bed
    assert in_process.collect().success
    in_process.session.connection().session.auth.invalidate()  # the next cycle logs in
    try:
        faults.freeze(bed, "keystone")
        failed = in_process.collect()
    finally:
        running_again(bed, "keystone")
    assert not failed.success
    assert "keystone" in str(failed.error)
    assert all(v == 0 for v in _rows(failed, "openstack_identity_up").values())
    probes = {labels[0]: v for labels, v in _rows(failed, "openstack_api_probe_up").items()}
    assert probes.pop("identity") == 0
    assert probes, "no other endpoint probed"
    assert all(v == 1 for v in probes.values()), probes
    assert in_process.collect().success
