"""``aodh-alertmanager-bridge``: Prometheus-style flags, one validated config, then serve."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from alerts import __version__
from alerts.config import DEFAULT_LISTEN_ADDRESS, DEFAULT_STATE_PATH, Flags, build_config
from otb_common.errors import ConfigError
from otb_common.extras import require
from otb_common.flags import (
    OneLineParser,
    add_log_flags,
    add_web_flags,
    listen_failure,
    public_url,
    stop_on_signals,
)
from otb_common.logs import setup_logging

PROG = "aodh-alertmanager-bridge"
log = logging.getLogger(PROG)


def _parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Aodh alarm webhooks to Alertmanager alerts.")
    add_web_flags(p, DEFAULT_LISTEN_ADDRESS)
    p.add_argument("--config.file", dest="config_file", metavar="FILE", help="YAML configuration")
    p.add_argument(
        "--alertmanager.url",
        dest="alertmanager_urls",
        action="append",
        default=[],
        metavar="URL",
        help="an Alertmanager replica, e.g. http://am-1:9093 (repeat for every replica)",
    )
    p.add_argument(
        "--state.path",
        dest="state_path",
        metavar="FILE",
        help=f"SQLite state file (default {DEFAULT_STATE_PATH})",
    )
    p.add_argument(
        "--resend-interval",
        dest="resend_interval",
        metavar="DURATION",
        help="how often firing alerts are re-sent (default 60s)",
    )
    p.add_argument(
        "--os-cloud",
        dest="os_cloud",
        metavar="CLOUD",
        help="clouds.yaml entry for the Aodh API (enrichment, reconciliation); default $OS_CLOUD",
    )
    add_log_flags(p)
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return p


def parse_flags(argv: Sequence[str] | None) -> Flags:
    ns = _parser().parse_args(argv)
    return Flags(
        listen_address=ns.listen_address,
        web_config_file=ns.web_config_file,
        config_file=ns.config_file,
        alertmanager_urls=tuple(ns.alertmanager_urls),
        state_path=ns.state_path,
        resend_interval=ns.resend_interval,
        os_cloud=ns.os_cloud or os.environ.get("OS_CLOUD") or None,
        log_level=ns.log_level,
        log_format=ns.log_format,
    )


def main(argv: Sequence[str] | None = None) -> int:
    flags = parse_flags(argv)
    try:
        config = build_config(flags)
        require(PROG, "bridge", "flask", "waitress")
        if config.os_cloud:
            require(f"{PROG}: --os-cloud", "bridge", "openstack", "aodhclient")
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    # Flask, waitress and the OpenStack clients load once the extra is known to be there.
    from alerts.aodh import AodhAPI, ApiError  # noqa: PLC0415 - see above
    from alerts.app import create_app  # noqa: PLC0415 - see above
    from alerts.bridge import Bridge  # noqa: PLC0415 - see above
    from alerts.config import redact_url  # noqa: PLC0415 - see above
    from alerts.server import Limits, make_server, serve_in_thread  # noqa: PLC0415 - see above
    from alerts.store import StoreError  # noqa: PLC0415 - see above

    setup_logging(config.log_level, config.log_format)
    api = None
    if config.os_cloud:
        try:
            api = AodhAPI(config.os_cloud, config.api_timeout)
        except ApiError as exc:
            print(f"{PROG}: error: --os-cloud: {exc}", file=sys.stderr)
            return 2
    else:
        log.warning(
            "no --os-cloud: alarms are not enriched or reconciled with the Aodh API; "
            "out-of-order webhooks are applied in arrival order"
        )
    try:
        bridge = Bridge(config, api)
    except StoreError as exc:
        print(f"{PROG}: error: --state.path: {exc}", file=sys.stderr)
        return 2
    app = create_app(bridge)
    try:
        limits = Limits(config.threads, config.max_connections, config.idle_timeout)
        server = make_server(app, config.listen_host, config.listen_port, limits, config.web)
    except OSError as exc:
        print(listen_failure(PROG, config.listen_host, config.listen_port, exc), file=sys.stderr)
        return 1
    stopping = stop_on_signals(log)
    bridge.start()
    serve_in_thread(server)
    log.info(
        "listening",
        extra={
            "url": public_url(bool(config.web.tls), config.listen_host, server.port, "/v1/aodh"),
            "alertmanagers": ",".join(redact_url(u) for u in config.alertmanagers),
            "aodh_api": "yes" if api is not None else "no",
            "version": __version__,
        },
    )
    gone = bridge.watch(stopping)
    if gone:
        # Exit 1: systemd's Restart=on-failure starts the bridge again, and the inbox holds
        # every webhook answered 202 and not applied yet.
        log.error("a worker stopped; exiting for a restart", extra={"problems": "; ".join(gone)})
    log.info("shutting down")
    server.close()
    bridge.stop()
    return 1 if gone else 0
