"""One bridge process: store, accept thread, engine, one sender per Alertmanager, and (with
``--os-cloud``) the Aodh API reader and reconciler. Built from a ``BridgeConfig``; every
external root (state path, cloud, Alertmanager URLs) comes from it."""

from __future__ import annotations

import logging
import threading
import time

from alerts.accept import Accepter
from alerts.aodh import AodhAPI, ApiError
from alerts.config import BridgeConfig, redact_url
from alerts.engine import Engine
from alerts.keystone import TokenValidator
from alerts.mapping import Mapping
from alerts.metrics import Metrics
from alerts.reconcile import Reconciler
from alerts.sender import Sender
from alerts.store import Store
from alerts.workers import Housekeeper
from otb_common.webconfig import BasicAuth

log = logging.getLogger("aodh-alertmanager-bridge")
HOUSEKEEPING = 60.0
# How often the CLI's main thread looks for a worker that is gone.
WATCH_EVERY = 5.0


class Bridge:
    def __init__(self, config: BridgeConfig, api: AodhAPI | None = None) -> None:
        self.config = config
        self.metrics = Metrics()
        self.basic = BasicAuth(config.web.users)
        self.api = api
        generator = config.generator_url
        if generator is None and api is not None:
            try:
                generator = api.endpoint() + "/v2/alarms/{alarm_id}"
            except ApiError as exc:
                log.warning("no generatorURL: alarming endpoint unknown", extra={"err": str(exc)})
        mapping = Mapping(config.severities, config.static_labels, generator or "")
        self.store = Store(
            config.state_path,
            config.alertmanagers,
            mapping,
            config.insufficient_data,
            config.resolved_resend_for,
            synchronous=config.synchronous,
        )
        self.metrics.watch(self.store, redact_url, mapping)
        self.senders = [
            Sender(
                url,
                self.store,
                self.metrics,
                interval=config.resend_interval,
                # With the Aodh API, firing alerts are re-sent right after each reconciliation
                # confirms them, so a replica never re-fires an alarm another replica saw
                # resolve; the timer (three intervals) is only the fallback while the API is
                # down, and endsAt, four intervals ahead, still covers it.
                firing_interval=config.resend_interval * (3 if api is not None else 1),
                timeout=config.alertmanager_timeout,
                batch_size=config.batch_size,
            )
            for url in config.alertmanagers
        ]
        self.engine = Engine(self.store, self.metrics, self._wake, api)
        self.accepter = Accepter(self.engine.commit)
        self.tokens = (
            TokenValidator(api.conn, config.keystone_roles)
            if api is not None and config.keystone_tokens
            else None
        )
        self.reconciler = (
            Reconciler(
                api,
                self.store,
                self.engine,
                self.metrics,
                interval=config.reconcile_interval,
                pattern=config.action_match,
                wake_senders=self._wake,
            )
            if api is not None
            else None
        )
        self.housekeeper = Housekeeper(self.store, self.metrics, HOUSEKEEPING)

    def _wake(self) -> None:
        for sender in self.senders:
            sender.wake()

    def _threads(self) -> list[threading.Thread]:
        threads: list[threading.Thread] = [
            self.engine,
            *self.engine.readers,
            *self.senders,
            self.housekeeper,
        ]
        if self.reconciler is not None:
            threads.append(self.reconciler)
        return threads

    def start(self) -> None:
        self.store.sync_targets(time.time())
        for thread in self._threads():
            thread.start()
        replayed = self.engine.replay_inbox()
        if replayed:
            log.info("applying webhooks accepted before the restart", extra={"count": replayed})

    def stop(self) -> None:
        self.housekeeper.stop()
        if self.reconciler is not None:
            self.reconciler.stop()
        self.engine.stop()
        self.engine.join(10)
        for sender in self.senders:
            sender.stop()
        for sender in self.senders:
            sender.join(10)
        self.store.close()

    def authorize(self, basic: str | None, token: str | None) -> tuple[int, str, str] | None:
        """None when the webhook may pass; otherwise the refusal."""
        if not self.basic.enabled and self.tokens is None:
            return None
        if basic is not None and self.basic.enabled and self.basic.check(basic):
            return None
        if token is not None and self.tokens is not None:
            try:
                if self.tokens.valid(token):
                    return None
            except ApiError:
                return 503, "unavailable", "Keystone cannot check the token now; not accepted"
        return 401, "unauthorized", "valid credentials required"

    def problems(self) -> list[str]:
        """Why the process is not healthy: a worker thread ended. Every worker is a thread
        of its own (the Aodh reads too: a pool's threads outlive the work that fails in
        them, so a pool would look alive with its reads lost)."""
        return [f"{t.name} stopped" for t in self._threads() if not t.is_alive()]

    def watch(self, stopping: threading.Event, every: float = WATCH_EVERY) -> list[str]:
        """Wait for ``stopping``; return early with ``problems()`` once a worker is gone.
        /healthz alone does not restart anything: systemd's ``Restart=`` acts when the
        process exits, so the CLI exits then."""
        while not stopping.wait(every):
            problems = self.problems()
            if problems:
                return problems
        return []

    def not_ready(self) -> list[str]:
        if self.reconciler is not None and not self.reconciler.first_done.is_set():
            return ["first reconciliation with the Aodh API not done yet"]
        return []
