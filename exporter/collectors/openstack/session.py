"""One long-lived openstacksdk connection per cloud, shared by its health and inventory cycles.

The connection is made on first use and kept: keystoneauth reuses its token until shortly
before expiry (two minutes) and fetches a new one once on a 401, so the cost is one login per
token lifetime whatever the cycle rate. Nothing here is fatal at start: a Keystone that is
down or refuses the credentials fails the cycle, and the next cycle tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from exporter.collectors.openstack.catalog import Endpoint, root_url
from exporter.collectors.openstack.config import CloudConfig
from otb_common.cloud import connect

log = logging.getLogger(__name__)

Connect = Callable[..., Any]


class CloudSession:
    def __init__(self, config: CloudConfig, connector: Connect = connect) -> None:
        self.config = config
        self._connector = connector
        self._lock = threading.Lock()
        self._conn: Any = None
        self._proxy_locks: dict[str, threading.Lock] = {}
        self._routes: Sequence[tuple[str, str]] = ()
        self._counts_lock = threading.Lock()
        self.requests: Counter[tuple[str, str]] = Counter()
        """Answered HTTP requests by (service type, status code), for the request counters."""
        self.token_requests = 0
        self._shared_lock = threading.Lock()
        self._shared: dict[str, tuple[float, Any]] = {}

    @property
    def cloud(self) -> str:
        return self.config.cloud

    def connection(self) -> Any:
        """The connection, made once; openstacksdk reads clouds.yaml here, no request yet."""
        with self._lock:
            if self._conn is None:
                conn = self._connector(
                    self.config.cloud,
                    self.config.api_timeout,
                    region=self.config.region,
                    interface=self.config.interface,
                )
                conn.session.session.hooks["response"].append(self._count)
                self._conn = conn
            return self._conn

    @property
    def region(self) -> str:
        """The region this connection reads: the config's, else clouds.yaml's, else ''."""
        return str(self.connection().config.get_region_name() or "")

    @property
    def interface(self) -> str:
        return str(self.connection().config.get_interface() or "public")

    def catalog(self) -> list[dict[str, Any]]:
        """The token's catalog; authenticates only when there is no token or it nears expiry."""
        conn = self.connection()
        access = conn.session.auth.get_access(conn.session)
        return list(access.service_catalog.catalog)

    def token(self) -> str:
        conn = self.connection()
        return str(conn.session.get_token())

    def renew_token(self) -> str:
        """A new login now: Keystone said our token is no longer valid without a 401."""
        conn = self.connection()
        conn.session.auth.invalidate()
        return str(conn.session.get_token())

    def proxy(self, attribute: str) -> Any:
        """``conn.compute`` and the like. openstacksdk builds a proxy on first access, with a
        version discovery request and no lock: one lock per service keeps two cycles from
        building it twice, and one hanging service from holding up the others. A failed
        discovery is not cached, so a service that comes back is used again."""
        conn = self.connection()
        with self._lock:
            lock = self._proxy_locks.setdefault(attribute, threading.Lock())
        with lock:
            return getattr(conn, attribute)

    def shared(self, key: str, max_age: float, fetch: Callable[[], Any]) -> Any:
        """One fetch of a listing several parts of a cycle need (the projects): the parts run
        side by side, so the others wait for the first one's answer instead of asking again.
        ``max_age`` is short, so the next cycle fetches afresh."""
        with self._shared_lock:
            hit = self._shared.get(key)
            if hit is not None and time.monotonic() - hit[0] < max_age:
                return hit[1]
            value = fetch()
            self._shared[key] = (time.monotonic(), value)
            return value

    def route(self, endpoints: Sequence[Endpoint]) -> None:
        """Which service a request URL belongs to, for the request counters."""
        routes = {root_url(ep.url): ep.service_type for ep in reversed(endpoints)}
        self._routes = sorted(routes.items(), key=lambda kv: -len(kv[0]))

    def _count(self, response: Any, *args: Any, **kwargs: Any) -> None:
        url = str(getattr(response, "url", ""))
        method = str(getattr(getattr(response, "request", None), "method", ""))
        service = next((kind for prefix, kind in self._routes if url.startswith(prefix)), "")
        is_token = method == "POST" and url.rstrip("/").endswith("/auth/tokens")
        with self._counts_lock:
            if is_token:
                self.token_requests += 1
                service = "identity"
            self.requests[(service or "other", str(getattr(response, "status_code", "")))] += 1

    def counts(self) -> tuple[dict[tuple[str, str], int], int]:
        with self._counts_lock:
            return dict(self.requests), self.token_requests

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing the connection failed", exc_info=True)
