"""How OpenStack processes are started here: WSGI apps under gunicorn, daemons as they are."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from testbed.bed import Bed, Proc

WSGI_DIR = Path(__file__).resolve().parent / "wsgi"


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
        "--name",
        name,
        "tbwsgi:application",
    ]
    return bed.spawn(service, name, argv, env=wsgi_env)
