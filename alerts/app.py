"""The HTTP side: ``POST /v1/aodh``, ``/metrics``, ``/healthz``, ``/readyz``.

Every answer is JSON (or the metrics text); every refusal is counted and changes nothing; no
exception text ever reaches a client.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from alerts.accept import UnavailableError
from alerts.payload import MAX_BODY, PayloadError, check_content_type, parse

if TYPE_CHECKING:
    from alerts.bridge import Bridge

log = logging.getLogger("aodh-alertmanager-bridge.http")
_ACCEPTED = b'{"status":"accepted"}\n'
_LANDING = """<!doctype html><html><head><title>aodh-alertmanager-bridge</title></head><body>
<h1>aodh-alertmanager-bridge</h1><p>Aodh alarm webhooks: <code>POST /v1/aodh</code></p>
<ul><li><a href="metrics">metrics</a></li><li><a href="healthz">healthz</a></li>
<li><a href="readyz">readyz</a></li></ul></body></html>
"""


def _error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"status": "error", "error": code, "message": message}) + "\n"
    resp = Response(body, status=status, mimetype="application/json")
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Basic realm="aodh-alertmanager-bridge"'
    return resp


_OUTCOME = {
    400: "bad_json",
    401: "unauthorized",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    503: "unavailable",
}


def create_app(bridge: Bridge, clock: Callable[[], float] = time.perf_counter) -> Flask:
    app = Flask("alerts")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    metrics = bridge.metrics
    accepted = metrics.webhooks.labels("accepted")

    def refuse(status: int, code: str, message: str) -> Response:
        metrics.webhooks.labels(_OUTCOME.get(status, "invalid")).inc()
        return _error(status, code, message)

    @app.after_request
    def headers(resp: Response) -> Response:
        for name, value in bridge.config.web.headers.items():
            resp.headers[name] = value
        return resp

    @app.before_request
    def basic_auth() -> Response | None:
        if request.path == "/v1/aodh":
            return None  # checked in the view: Basic or a Keystone token
        if bridge.basic.check(request.headers.get("Authorization")):
            return None
        return _error(401, "unauthorized", "valid credentials required")

    @app.post("/v1/aodh", provide_automatic_options=False)
    def webhook() -> Response:
        started = clock()
        denied = bridge.authorize(
            request.headers.get("Authorization"), request.headers.get("X-Auth-Token")
        )
        if denied is not None:
            return refuse(*denied)
        try:
            check_content_type(request.headers.get("Content-Type"))
            if (request.content_length or 0) > MAX_BODY:
                raise PayloadError(413, "too_large", f"body larger than {MAX_BODY} bytes")
            notification = parse(request.get_data(cache=False))
            bridge.accepter.accept(notification)
        except PayloadError as exc:
            return refuse(exc.status, exc.code, exc.message)
        except RequestEntityTooLarge:
            return refuse(413, "too_large", f"body larger than {MAX_BODY} bytes")
        except UnavailableError:
            return refuse(503, "unavailable", "state store unavailable; not accepted")
        accepted.inc()
        metrics.accept_seconds.observe(clock() - started)
        return Response(_ACCEPTED, status=202, mimetype="application/json")

    @app.get("/metrics", provide_automatic_options=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/healthz", provide_automatic_options=False)
    def healthz() -> Response:
        problems = bridge.problems()
        status = 503 if problems else 200
        body = {"status": "error" if problems else "ok", "problems": problems}
        return Response(json.dumps(body) + "\n", status=status, mimetype="application/json")

    @app.get("/readyz", provide_automatic_options=False)
    def readyz() -> Response:
        problems = bridge.problems() + bridge.not_ready()
        status = 503 if problems else 200
        body = {"status": "error" if problems else "ready", "problems": problems}
        return Response(json.dumps(body) + "\n", status=status, mimetype="application/json")

    @app.get("/", provide_automatic_options=False)
    def landing() -> Response:
        return Response(_LANDING, mimetype="text/html")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if request.path == "/v1/aodh":
            metrics.webhooks.labels(_OUTCOME.get(status, "invalid")).inc()
        return _error(
            status, (exc.name or "error").lower().replace(" ", "_"), exc.description or ""
        )

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.error("unexpected error", exc_info=exc, extra={"path": request.path})
        return _error(500, "internal", "internal error; see the bridge's log")

    return app
