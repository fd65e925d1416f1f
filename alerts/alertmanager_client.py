"""HTTP to one Alertmanager's ``/api/v2/alerts``: a kept-alive connection, Basic auth from the
URL, and every answer other than 200 raised as the error that says what the sender may do.

Only 400 and 422 can be about the alerts (Alertmanager's answers to an invalid alert or body);
413 is about the size of the batch; everything else, 4xx included, is about the path to
Alertmanager (a proxy, an auth layer, a wrong prefix) and never a reason to drop an alert.
"""

from __future__ import annotations

import base64
import http.client
import ssl
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from alerts.config import redact_url

# An answer is read up to this; a longer one costs the connection (the unread rest would be
# taken for the answer to the next request), never the delivery.
READ_LIMIT = 64 * 1024
# Statuses that keep their number in the ``code`` label of the metrics; others become their
# class ("4xx"), so a misbehaving front cannot grow the series without bound.
KNOWN_STATUSES = frozenset({200, 400, 401, 403, 404, 405, 408, 413, 422, 429, 500, 502, 503, 504})


def code_label(status: int | None) -> str:
    """``code`` label value: the status, its class, or ``none`` when nothing answered."""
    if status is None:
        return "none"
    if status in KNOWN_STATUSES:
        return str(status)
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


class DeliveryError(Exception):
    """Not accepted, and nothing says the alerts are at fault: keep them, retry later."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(detail if status is None else f"HTTP {status}: {detail}")
        self.status = status

    @property
    def code(self) -> str:
        return code_label(self.status)


class UnreachableError(DeliveryError):
    """No answer: connection failure, timeout, broken HTTP."""


class RefusedError(DeliveryError):
    """400 or 422: the body was found invalid. Maybe one alert of the batch; maybe the whole
    request, when a proxy says it. The sender finds out which before it drops anything."""


class TooLargeError(DeliveryError):
    """413: the batch is too big for something on the way; smaller ones may pass."""


class AlertmanagerClient:
    """A keep-alive connection to one Alertmanager; credentials in the URL become Basic auth."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.name = redact_url(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path.rstrip("/") + "/api/v2/alerts"
        self._timeout = timeout
        self._headers = {
            "Content-Type": "application/json",
            "User-Agent": "aodh-alertmanager-bridge",
        }
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host,
                    self._port,
                    timeout=self._timeout,
                    context=ssl.create_default_context(),
                )
            else:
                self._conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._timeout
                )
        return self._conn

    def post(self, alerts: Sequence[str]) -> None:
        """POST the alerts (JSON texts) as one array; return on 200, raise otherwise."""
        body = ("[" + ",".join(alerts) + "]").encode()
        try:
            conn = self._connection()
            conn.request("POST", self._path, body, self._headers)
            resp = conn.getresponse()
            detail = resp.read(READ_LIMIT).decode("utf-8", "replace").strip()[:300]
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise UnreachableError(None, f"{type(exc).__name__}: {exc}") from None
        if not resp.isclosed():  # answer longer than READ_LIMIT: the connection is spent
            self.close()
        if resp.status == 200:
            return
        if resp.status in (400, 422):
            raise RefusedError(resp.status, detail)
        if resp.status == 413:
            raise TooLargeError(resp.status, detail)
        # Retried after a backoff, on a new connection: behind a load balancer, maybe to
        # another instance.
        self.close()
        raise DeliveryError(resp.status, detail)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
