"""Command line: Prometheus-style flags, a validated config, then serve (or ``--once``), or,
with ``check`` first, tell per backend whether it is usable."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from exporter import __version__, check
from exporter.collectors.plugin import Plugin, RunnerSpec, declared_flags
from exporter.collectors.registry import PLUGINS
from exporter.config import DEFAULT_LISTEN_ADDRESS, Config, Flags, build_config
from exporter.scheduler import CollectorRunner, Scheduler
from exporter.server import ExporterHTTPServer
from exporter.snapshot import Snapshot
from otb_common import allocator
from otb_common.errors import ConfigError
from otb_common.flags import (
    OneLineParser,
    add_log_flags,
    add_web_flags,
    listen_failure,
    public_url,
    stop_on_signals,
)
from otb_common.logs import setup_logging

PROG = "openstack-telemetry-exporter"
CHECK = "check"
"""The one subcommand, given first; the flags after it are the serving ones, unchanged."""
log = logging.getLogger(PROG)


def _parser(plugins: Sequence[Plugin[Any]]) -> OneLineParser:
    p = OneLineParser(
        prog=PROG,
        usage=f"%(prog)s [{CHECK}] [flags]",
        description="Prometheus exporter for OpenStack hypervisors. With 'check' first: reach "
        "the backends of every enabled collector once, print one line each (ok, or FAIL and "
        "why) and exit 0 only when all are ok.",
    )
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
    for plugin in plugins:
        default = "enabled" if plugin.enabled_by_default else "disabled"
        p.add_argument(
            f"--collector.{plugin.name}",
            dest=f"collector:{plugin.name}",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"enable the {plugin.name} collector (default: {default})",
        )
    for flag in declared_flags(plugins):
        p.add_argument(flag.name, dest=f"option:{flag.dest}", metavar=flag.metavar, help=flag.help)
    p.add_argument(
        "--once",
        action="store_true",
        help="collect once, print the exposition to stdout and exit "
        "(status 1 if a collector failed)",
    )
    add_log_flags(p)
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return p


def parse_flags(argv: Sequence[str] | None, plugins: Sequence[Plugin[Any]] = PLUGINS) -> Flags:
    # Collectors' dests carry a prefix no core flag has, so none can shadow another.
    ns = vars(_parser(plugins).parse_args(argv))
    return Flags(
        listen_address=ns["listen_address"],
        telemetry_path=ns["telemetry_path"],
        web_config_file=ns["web_config_file"],
        config_file=ns["config_file"],
        collectors={p.name: ns[f"collector:{p.name}"] for p in plugins},
        once=ns["once"],
        log_level=ns["log_level"],
        log_format=ns["log_format"],
        options={f.dest: ns[f"option:{f.dest}"] for f in declared_flags(plugins)},
    )


def runner_specs(config: Config) -> list[RunnerSpec]:
    """Every enabled collector's runners, each of which gets its own snapshot part."""
    specs = [spec for c in config.collectors if c.enabled for spec in c.runners()]
    names = [spec.collector.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"two runners share a collector name: {names}")
    return specs


def serve(config: Config) -> int:
    allocator.share_arenas()  # before any collector's thread starts
    specs = runner_specs(config)
    snapshot = Snapshot([spec.collector.name for spec in specs])
    scheduler = Scheduler(
        [CollectorRunner(s.collector, s.interval, s.timeout, snapshot) for s in specs]
    )
    if config.once:
        ok = scheduler.run_once()
        sys.stdout.buffer.writelines(snapshot.body().chunks)
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


def main(argv: Sequence[str] | None = None, plugins: Sequence[Plugin[Any]] = PLUGINS) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    checking = args[:1] == [CHECK]
    flags = parse_flags(args[1:] if checking else args, plugins)
    try:
        if checking and flags.once:
            raise ConfigError(f"{CHECK} and --once do not go together")
        config = build_config(flags, plugins)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    return check.run(config, sys.stdout) if checking else serve(config)
