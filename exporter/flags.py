"""Command-line pieces both programs share: one-line errors (exit 2) and the common flags."""

from __future__ import annotations

import argparse
from typing import NoReturn

from exporter.config import LOG_FORMATS, LOG_LEVELS


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
