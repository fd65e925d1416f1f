"""Command-line pieces both programs share: one-line errors (exit 2) and the common flags."""

from __future__ import annotations

import argparse
import logging
import re
import signal
import threading
from typing import NoReturn

from otb_common.errors import ConfigError
from otb_common.logs import LOG_FORMATS, LOG_LEVELS


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One readable line and status 2, instead of argparse's usage dump."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_web_flags(p: argparse.ArgumentParser, default_listen: str) -> None:
    p.add_argument(
        "--web.listen-address",
        dest="listen_address",
        default=default_listen,
        help=f"address to listen on (default {default_listen})",
    )
    p.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="FILE",
        help="exporter-toolkit web config: TLS and basic-auth users",
    )


def add_log_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log.level", dest="log_level", default="info", choices=LOG_LEVELS)
    p.add_argument("--log.format", dest="log_format", default="logfmt", choices=LOG_FORMATS)


def listen_failure(prog: str, host: str, port: int, exc: OSError) -> str:
    """The one line printed when the listening socket cannot be opened (exit 1)."""
    return f"{prog}: error: cannot listen on {host or '*'}:{port}: {exc.strerror or exc}"


def public_url(tls: bool, host: str, port: int, path: str) -> str:
    """What the ``listening`` log line shows: a URL an operator can paste."""
    shown = host or "localhost"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{'https' if tls else 'http'}://{shown}:{port}{path}"


def stop_on_signals(log: logging.Logger) -> threading.Event:
    """SIGTERM and SIGINT set the returned event; SIGHUP is logged and ignored (the
    configuration is read once, and a SIGHUP must not end the process)."""
    stopping = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stopping.set()

    def _hup(_signum: int, _frame: object) -> None:
        log.warning("SIGHUP ignored: configuration is read once at start; restart to apply")

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, _hup)
    return stopping


def parse_listen_address(text: str) -> tuple[str, int]:
    """Split ``host:port``, ``:port`` or ``[v6]:port``; an empty host means every interface."""
    match = re.fullmatch(r"(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]]*)):(\d{1,5})", text)
    if match is None:
        raise ConfigError(f"--web.listen-address {text!r}: expected HOST:PORT or :PORT")
    port = int(match.group(3))
    if port > 65535:
        raise ConfigError(f"--web.listen-address {text!r}: port out of range")
    return match.group(1) or match.group(2) or "", port
