"""How OpenStack processes are started here: WSGI apps under gunicorn, daemons as they are."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from testbed.bed import Bed, Proc

WSGI_DIR = Path(__file__).resolve().parent / "wsgi"
LIMIT_REQUEST_LINE = 8190


def gunicorn(
    bed: Bed,
    service: str,
    name: str,
    app: str,
    port: int,
    *,
    env: Mapping[str, str] | None = None,
    factory: bool = False,
    threads: int = 4,
    timeout: int = 120,
) -> Proc:
    """One gunicorn worker with threads serving ``app`` (``module:attribute``) on loopback.

    ``--no-control-socket``: gunicorn's control socket would otherwise land in the cwd.
    ``--limit-request-line``: gunicorn's default (4094 bytes) refuses, with 414, the long
    query strings OpenStack services send each other. Nova lists the ports of up to 150
    servers in one Neutron request (``device_id=...`` 150 times, about 7,000 bytes), so a
    server listing of more than about 85 servers failed; 8190 is the most gunicorn allows,
    and Apache's default, which deployments usually put in front of these APIs.
    """
    wsgi_env = {
        "TESTBED_WSGI_APP": app,
        "TESTBED_WSGI_PROG": name,
        "TESTBED_WSGI_FACTORY": "1" if factory else "0",
        "PYTHONPATH": str(WSGI_DIR),
    }
    wsgi_env.update(env or {})
    argv = [
        bed.os_bin("gunicorn"),
        "--no-control-socket",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        str(threads),
        "--timeout",
        str(timeout),
        "--graceful-timeout",
        "5",
        "--limit-request-line",
        str(LIMIT_REQUEST_LINE),
        "--name",
        name,
        "tbwsgi:application",
    ]
    return bed.spawn(service, name, argv, env=wsgi_env)
