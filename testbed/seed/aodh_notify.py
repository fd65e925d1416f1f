"""Post alarm notifications through Aodh's own REST notifier, as aodh-notifier would.

Tests of a webhook receiver need what Aodh really sends (its headers, its body, its handling
of ``user:password@`` in the action URL), not a copy of it. Run with the OpenStack
environment's Python. Argument (or stdin): one JSON object or a list of them, each with
``url``, ``alarm_id``, ``alarm_name``, ``severity``, ``previous``, ``current``, ``reason``
and ``reason_data``. Prints one JSON line: per notification the HTTP status (or the error),
the names of the headers sent (never their values), and the seconds spent.

Building Aodh's configuration imports all of Aodh (seconds of CPU), so a run takes a list,
and ``--serve`` keeps one process for many: it prints ``{"ready": true, ...}`` once set up,
then reads one JSON value per stdin line and answers each with one result line, until EOF.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

STARTED = time.monotonic()

# Imported after the clock starts: their cost is part of what a run reports.
import requests  # type: ignore[import-untyped,unused-ignore]  # noqa: E402
from aodh import service  # noqa: E402
from aodh.notifier import rest  # noqa: E402
from oslo_utils import netutils  # noqa: E402

FIELDS = ("alarm_id", "alarm_name", "severity", "previous", "current", "reason", "reason_data")


def _record_responses() -> list[Any]:
    """Keep each response the notifier gets (Aodh only logs it); what is sent is unchanged."""
    seen: list[Any] = []
    original = requests.Session.post

    def post(self: Any, url: str, **kwargs: Any) -> Any:
        response = original(self, url, **kwargs)
        seen.append(response)
        return response

    requests.Session.post = post  # type: ignore[method-assign,assignment]
    return seen


def _notify(notifier: Any, spec: dict[str, Any], seen: list[Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"alarm_id": spec["alarm_id"], "current": spec["current"]}
    before = len(seen)
    try:
        # As AlarmEndpoint._handle_action: the action is split with oslo's urlsplit.
        notifier.notify(netutils.urlsplit(spec["url"]), *(spec[k] for k in FIELDS))
    except Exception as exc:  # noqa: BLE001 - reported to the caller, as Aodh logs it
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result
    response = seen[before]
    result["status"] = response.status_code
    result["body"] = response.text[:300]
    result["headers"] = sorted(h.lower() for h in response.request.headers)
    return result


def _specs(raw: str) -> list[dict[str, Any]]:
    given = json.loads(raw)
    return given if isinstance(given, list) else [given]


def main() -> None:
    _posts()
    # Everything is flushed and nothing is left to clean up, while the interpreter's own
    # teardown of Aodh's imports takes seconds of CPU: skipped.
    sys.stderr.flush()
    os._exit(0)


def _posts() -> None:
    serve = sys.argv[1:] == ["--serve"]
    one_shot = None if serve else _specs(sys.argv[1] if sys.argv[1:] else sys.stdin.read())
    imported = time.monotonic()
    # Aodh logs to stdout when no log file is set: sent to stderr, so stdout holds only
    # result lines.
    out, sys.stdout = sys.stdout, sys.stderr

    def answer(body: dict[str, Any]) -> None:
        print(json.dumps(body), file=out, flush=True)  # not sys.stdout: flushed by nobody

    # The configuration aodh-notifier builds, with no config file (every option at its
    # default); no Guru Meditation signal handler: it reports on a process, posts nothing.
    conf = service.prepare_service(argv=[], config_files=[], with_gmr=False)
    notifier = rest.RestAlarmNotifier(conf)
    seen = _record_responses()
    ready = time.monotonic()
    seconds = {"import": round(imported - STARTED, 3), "config": round(ready - imported, 3)}
    if one_shot is not None:
        results = [_notify(notifier, spec, seen) for spec in one_shot]
        seconds["notify"] = round(time.monotonic() - ready, 3)
        answer({"results": results, "seconds": seconds})
        return
    answer({"ready": True, "seconds": seconds})
    for line in sys.stdin:
        if line.strip():
            began = time.monotonic()
            results = [_notify(notifier, spec, seen) for spec in _specs(line)]
            answer({"results": results, "seconds": {"notify": round(time.monotonic() - began, 3)}})


if __name__ == "__main__":
    main()
