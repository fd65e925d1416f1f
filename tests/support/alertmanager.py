"""Reading a real Alertmanager (0.25) back: its API v2 alerts by label, its own counters.

``GET /api/v2/alerts`` never lists a resolved alert (one whose ``endsAt`` has passed), with
or without ``active``: a resolved alert is one that has left that list. That it left because
it was resolved, not because nobody re-sent it, shows in the replica's own counter of
received alerts by status (``alertmanager_alerts_received_total{status="resolved"}``).
"""

from __future__ import annotations

import datetime as dt
import http.client
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from testbed.bed import http_json
from tests.support.metrics import parse_samples


def alerts(url: str, **labels: str) -> list[dict[str, Any]]:
    """The alerts ``url`` holds whose labels include ``labels`` (exact matches)."""
    query = urlencode([("filter", f'{k}="{v}"') for k, v in sorted(labels.items())])
    status, body, _ = http_json("GET", f"{url}/api/v2/alerts?{query}", timeout=5)
    assert status == 200, (url, status, body)
    assert isinstance(body, list), body
    return body


def in_every(urls: Sequence[str], **labels: str) -> list[dict[str, Any]] | None:
    """One matching alert per Alertmanager (in ``urls`` order) when each holds exactly one."""
    found = [alerts(u, **labels) for u in urls]
    return [a[0] for a in found] if all(len(a) == 1 for a in found) else None


def in_none(urls: Sequence[str], **labels: str) -> bool:
    """No Alertmanager holds a matching alert that has not ended."""
    try:
        return not any(alerts(u, **labels) for u in urls)
    except (OSError, AssertionError):
        return False


def peers(url: str) -> int:
    """How many cluster members (itself included) ``url`` sees."""
    status, body, _ = http_json("GET", f"{url}/api/v2/status", timeout=5)
    if status != 200 or not isinstance(body, dict):
        return 0
    return len((body.get("cluster") or {}).get("peers") or [])


def received(url: str, status: str) -> float:
    """``alertmanager_alerts_received_total`` for ``status`` (firing, resolved), all versions."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=5)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        text = resp.read().decode()
    finally:
        conn.close()
    assert resp.status == 200, (url, resp.status)
    return sum(
        value
        for (name, labels), value in parse_samples(text).items()
        if name == "alertmanager_alerts_received_total" and ("status", status) in labels
    )


def timestamp(text: str) -> dt.datetime:
    """An API v2 time (RFC 3339, ``Z`` or an offset, nanoseconds possible)."""
    match = re.fullmatch(r"([^.]+)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    assert match is not None, text
    head, fraction, zone = match.groups()
    micros = (fraction or "")[:6].ljust(6, "0")
    return dt.datetime.fromisoformat(f"{head}.{micros}{'+00:00' if zone == 'Z' else zone}")
