"""gnocchiclient raises its own exceptions, also for what keystoneauth reports (refused,
timed out): one line for each, in the words the openstack collector uses."""

from __future__ import annotations

import html
import re

from otb_common.cloud import cloud_errors, describe

_TAG = re.compile(r"<[^>]*>")


def gnocchi_errors() -> tuple[type[Exception], ...]:
    from gnocchiclient import exceptions  # noqa: PLC0415 - gnocchiclient loads only where this collector runs

    return (exceptions.ClientException, *cloud_errors())


def explain(exc: BaseException) -> str:  # noqa: PLR0911 - one return per kind of failure reads best
    from gnocchiclient import exceptions  # noqa: PLC0415 - as above

    if not isinstance(exc, exceptions.ClientException):
        return describe(exc)
    if isinstance(exc, exceptions.ConnectionTimeout):
        return "timed out (api_timeout)"
    if isinstance(exc, exceptions.SSLError):
        return f"TLS: {_short(exc.message)}"
    if isinstance(exc, (exceptions.ConnectionFailure, exceptions.UnknownConnectionError)):
        text = str(exc.message)
        if "Connection refused" in text:
            return "connection refused"
        if "Name or service not known" in text or "NameResolution" in text:
            return "DNS: cannot resolve the host"
        return f"cannot connect: {_short(text)}"
    code = getattr(exc, "code", None)
    if code == 401:
        return "401 unauthorized: credentials refused"
    if code == 403:
        return "403 forbidden: needs the admin role"
    return f"HTTP {code}: {_short(exc.message)}" if code else _short(str(exc))


def _short(text: object, limit: int = 200) -> str:
    lines = _gist(str(text)).strip().splitlines()
    return (lines[0] if lines else "")[:limit]


def _gist(text: str) -> str:
    """Gnocchi answers a client that does not ask for JSON (gnocchiclient sends no Accept)
    with webob's HTML page, whose first line is ``<html>``; the reason is its last
    paragraph, after ``<br /><br />`` (else its title)."""
    if not text.lstrip().lower().startswith("<html"):
        return text
    _, separator, detail = text.rpartition("<br /><br />")
    if not separator or not _TAG.sub("", detail).strip():
        title = re.search(r"<title>(.*?)</title>", text, re.DOTALL)
        detail = title.group(1) if title else ""
    return " ".join(html.unescape(_TAG.sub(" ", detail)).split())
