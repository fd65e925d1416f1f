"""``openstack-telemetry-healthcheck``: the container image's HEALTHCHECK, with no shell or
curl in the image. It asks the program running as the container's first process for
/healthz, on the address that process was given (``--web.listen-address``, its default
otherwise), over HTTPS when it has a web config. Exit 0 when healthy, 1 otherwise (the
code a container engine's health check reads)."""

from __future__ import annotations

import http.client
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

from otb_common.errors import ConfigError
from otb_common.flags import parse_listen_address

MODULES = {"exporter": "openstack-telemetry-exporter", "alerts": "aodh-alertmanager-bridge"}
DEFAULT_PORTS = {"openstack-telemetry-exporter": ":10198", "aodh-alertmanager-bridge": ":10199"}


def target(argv: Sequence[str]) -> tuple[str, int, bool]:
    """(host, port, https) of the program started with ``argv``."""
    args = list(argv)
    if args and Path(args[0]).name.startswith("python"):
        # A script's shebang shows as ``python3 SCRIPT``; ``python3 -m MODULE`` as is.
        args = args[1:]
        if args[:1] == ["-m"]:
            args = [MODULES.get(args[1], args[1]), *args[2:]]
    program = Path(args[0]).name if args else ""
    address = DEFAULT_PORTS.get(program, ":10198")
    https = False
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if not eq and i + 1 < len(argv):
            value = argv[i + 1]
        if name == "--web.listen-address":
            address = value
        elif name == "--web.config.file":
            https = _serves_tls(Path(value))
    host, port = parse_listen_address(address)
    host = host if host not in ("", "0.0.0.0", "::") else "127.0.0.1"  # noqa: S104 - a listen address mapped to loopback
    return host, port, https


def _serves_tls(path: Path) -> bool:
    try:
        return "tls_server_config" in path.read_text()
    except OSError:
        return False


def check(host: str, port: int, https: bool, timeout: float = 5.0) -> tuple[bool, str]:
    if https:
        # Our own process on loopback: whose certificate it is does not matter here.
        context = ssl._create_unverified_context()  # noqa: S323 - see above
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        body = resp.read(200).decode(errors="replace").strip()
    except OSError as exc:
        return False, f"{host}:{port}: {exc}"
    finally:
        conn.close()
    # 401: basic authentication guards every path; the server answers, which is what the
    # engine's check can know without the password.
    return resp.status in (200, 401), f"/healthz {resp.status} {body}".strip()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        first = args or Path("/proc/1/cmdline").read_bytes().decode().split("\0")[:-1]
        host, port, https = target(first)
    except (OSError, ConfigError, ValueError, IndexError) as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1
    ok, text = check(host, port, https)
    print(text, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
