"""Log lines: logfmt and JSON shapes, and no password from a libvirt URI."""

from __future__ import annotations

import json
import logging

from exporter.collectors.libvirt.connection import redact_uri
from otb_common.logs import JSONFormatter, LogfmtFormatter


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"msg": msg, "levelno": logging.WARNING, "levelname": "WARNING", "module": "x", "lineno": 7}
    )
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_logfmt_quotes_what_needs_quoting() -> None:
    line = LogfmtFormatter().format(
        _record("cycle failed", collector="libvirt", error='no "route" to host')
    )
    assert " level=warn " in line
    assert 'msg="cycle failed"' in line
    assert "collector=libvirt" in line
    assert 'error="no \\"route\\" to host"' in line
    assert "\n" not in line


def test_json_is_one_object_per_line() -> None:
    line = JSONFormatter().format(_record("listening", url="http://127.0.0.1:10198/metrics"))
    data = json.loads(line)
    assert data["msg"] == "listening"
    assert data["level"] == "warn"
    assert data["url"] == "http://127.0.0.1:10198/metrics"
    assert data["source"] == "x.py:7"


def test_exception_is_summarised_without_locals() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys  # noqa: PLC0415 - only here

        record = _record("collector crashed")
        record.exc_info = sys.exc_info()
    data = json.loads(JSONFormatter().format(record))
    assert data["err"] == "RuntimeError: boom"


def test_uri_password_is_redacted() -> None:
    assert redact_uri("qemu+tcp://nova:s3cret@host/system") == "qemu+tcp://nova:***@host/system"
    assert redact_uri("qemu+ssh://root@host/system") == "qemu+ssh://root@host/system"
    assert redact_uri("qemu:///system") == "qemu:///system"
