"""Command line: Prometheus-style flags, a validated config, then serve (or ``--once``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from exporter import __version__
from exporter.collectors.base import Collector
from exporter.config import (
    COLLECTORS,
    DEFAULT_LISTEN_ADDRESS,
    Config,
    Flags,
    build_config,
)
from exporter.errors import ConfigError
from exporter.flags import (
    OneLineParser,
    add_log_flags,
    add_web_flags,
    listen_failure,
    public_url,
    stop_on_signals,
)
from exporter.logs import setup_logging
from exporter.scheduler import CollectorRunner, Scheduler
from exporter.server import ExporterHTTPServer
from exporter.snapshot import Snapshot

PROG = "openstack-telemetry-exporter"
log = logging.getLogger(PROG)


def _parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Prometheus exporter for OpenStack hypervisors.")
    add_web_flags(p, DEFAULT_LISTEN_ADDRESS)
    p.add_argument(
        "--web.telemetry-path",
        dest="telemetry_path",
        default="/metrics",
        help="path of the metrics (default /metrics)",
    )
    p.add_argument(
        "--config.file",
        dest="config_file",
        metavar="FILE",
        help="YAML configuration (collector intervals, deadlines, ...)",
    )
    for name in COLLECTORS:
        p.add_argument(
            f"--collector.{name}",
            dest=f"collector_{name}",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"enable the {name} collector (default: enabled)",
        )
    p.add_argument(
        "--libvirt.uri",
        dest="libvirt_uri",
        metavar="URI",
        help="libvirt URI, opened read-only (default qemu:///system)",
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="collect once, print the exposition to stdout and exit "
        "(status 1 if a collector failed)",
    )
    add_log_flags(p)
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return p


def parse_flags(argv: Sequence[str] | None) -> Flags:
    ns = _parser().parse_args(argv)
    return Flags(
        listen_address=ns.listen_address,
        telemetry_path=ns.telemetry_path,
        web_config_file=ns.web_config_file,
        config_file=ns.config_file,
        collectors={name: getattr(ns, f"collector_{name}") for name in COLLECTORS},
        libvirt_uri=ns.libvirt_uri,
        once=ns.once,
        log_level=ns.log_level,
        log_format=ns.log_format,
    )


def build_runners(config: Config, snapshot: Snapshot) -> list[CollectorRunner]:
    runners = []
    for name in config.enabled:
        collector: Collector
        if name == "libvirt":
            from exporter.collectors.libvirt.collector import LibvirtCollector  # noqa: PLC0415

            collector = LibvirtCollector(config.libvirt.uri)
            runners.append(
                CollectorRunner(
                    collector, config.libvirt.interval, config.libvirt.timeout, snapshot
                )
            )
    return runners


def serve(config: Config) -> int:
    snapshot = Snapshot(config.enabled)
    scheduler = Scheduler(build_runners(config, snapshot))
    if config.once:
        ok = scheduler.run_once()
        sys.stdout.buffer.write(snapshot.body()[0])
        sys.stdout.flush()
        scheduler.stop()
        return 0 if ok else 1
    try:
        server = ExporterHTTPServer(
            config.listen_host, config.listen_port, snapshot, config.telemetry_path, config.web
        )
    except OSError as exc:
        print(listen_failure(PROG, config.listen_host, config.listen_port, exc), file=sys.stderr)
        return 1
    # Collection and rendering are CPU-bound Python in a background thread; a shorter GIL
    # switch interval lets a scrape thread in within ~1 ms instead of up to 5 ms per hop
    # (measured at 1,000 domains: scrape p99 during cycles 16 ms -> 10 ms).
    sys.setswitchinterval(0.001)
    stopping = stop_on_signals(log)
    scheduler.start()
    server.serve_in_thread()
    url = public_url(bool(config.web.tls), config.listen_host, server.port, config.telemetry_path)
    log.info(
        "listening",
        extra={
            "url": url,
            "collectors": ",".join(config.enabled) or "none",
            "version": __version__,
        },
    )
    stopping.wait()
    log.info("shutting down")
    server.shutdown()
    server.server_close()
    scheduler.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    flags = parse_flags(argv)
    try:
        config = build_config(flags)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    return serve(config)
