"""Keystone tokens on webhooks: what Aodh sends for ``trust+http(s)://`` alarm actions.

Each token is checked once against Keystone (``GET /v3/auth/tokens``) with the bridge's own
credentials, then remembered by its SHA-256 (never the token itself) until it expires or for
five minutes, whichever is sooner; refusals are remembered for 30 seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any

from alerts.aodh import ApiError

MAX_ENTRIES = 10_000
TRUST_FOR = 300.0
REFUSE_FOR = 30.0


class TokenValidator:
    def __init__(self, conn: Any, roles: tuple[str, ...] = ()) -> None:
        import openstack.exceptions  # noqa: PLC0415
        from keystoneauth1 import exceptions as ksa_exc  # noqa: PLC0415

        self._conn = conn
        self._roles = set(roles)
        self._errors = (ksa_exc.ClientException, openstack.exceptions.SDKException)
        self._cache: OrderedDict[bytes, tuple[bool, float]] = OrderedDict()
        self._lock = threading.Lock()

    def valid(self, token: str) -> bool:
        """True or False for the token; ApiError when Keystone cannot say."""
        key = hashlib.sha256(token.encode("utf-8", "replace")).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[1] > now:
                return hit[0]
        ok, lifetime = self._ask(token)
        with self._lock:
            self._cache[key] = (ok, now + lifetime)
            self._cache.move_to_end(key)
            while len(self._cache) > MAX_ENTRIES:
                self._cache.popitem(last=False)
        return ok

    def _ask(self, token: str) -> tuple[bool, float]:
        try:
            resp = self._conn.identity.get(
                "/auth/tokens", headers={"X-Subject-Token": token}, raise_exc=False
            )
        except self._errors as exc:
            raise ApiError(f"Keystone token check: {type(exc).__name__}") from None
        if resp.status_code in (401, 404):
            return False, REFUSE_FOR
        if resp.status_code != 200:
            raise ApiError(f"Keystone token check answered {resp.status_code}")
        body = resp.json().get("token", {})
        if self._roles and not self._roles & {r.get("name") for r in body.get("roles", [])}:
            return False, REFUSE_FOR
        lifetime = TRUST_FOR
        expires = body.get("expires_at")
        if isinstance(expires, str):
            try:
                left = dt.datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
                lifetime = min(TRUST_FOR, left - time.time())
            except ValueError:
                pass
        if lifetime <= 0:
            return False, REFUSE_FOR  # expired already
        return True, lifetime
