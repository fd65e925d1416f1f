"""logfmt and JSON log lines, in the shape Prometheus' own tools print."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

LOG_LEVELS = ("debug", "info", "warn", "error")
LOG_FORMATS = ("logfmt", "json")

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        + f".{int(record.msecs):03d}Z",
        "level": record.levelname.lower().replace("warning", "warn"),
        "source": f"{record.module}.py:{record.lineno}",
        "msg": record.getMessage(),
    }
    for key, value in vars(record).items():
        if key not in _STANDARD:
            out[key] = value
    if record.exc_info and record.exc_info[1] is not None:
        out["err"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        out["trace"] = logging.Formatter().formatException(record.exc_info)
    return out


def _logfmt_value(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\\\n'):
        return json.dumps(text)
    return text


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
