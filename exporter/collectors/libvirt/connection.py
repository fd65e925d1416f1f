"""One persistent read-only libvirt connection, reopened when lost."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from typing import Any

import libvirt

log = logging.getLogger(__name__)

_silenced = threading.Lock()
_silenced_done = False


def _log_libvirt_error(_ctx: object, err: Any) -> None:
    # libvirt hands every error here before raising it; the raised exception is what we
    # act on, so this only keeps libvirt from printing to stderr behind our back.
    log.debug("libvirt error", extra={"err": str(err[2]) if len(err) > 2 else str(err)})


def silence_libvirt_stderr() -> None:
    global _silenced_done  # noqa: PLW0603 - libvirt's handler is process-wide by nature
    with _silenced:
        if not _silenced_done:
            libvirt.registerErrorHandler(_log_libvirt_error, None)
            _silenced_done = True


def redact_uri(uri: str) -> str:
    """Drop a password from ``driver+transport://user:pass@host/...`` before logging."""
    return re.sub(r"(//[^/@:]*):[^/@]*@", r"\1:***@", uri)


def error_text(exc: libvirt.libvirtError) -> str:
    return str(exc.get_error_message() or exc).strip()


class LibvirtConnection:
    def __init__(self, uri: str) -> None:
        silence_libvirt_stderr()
        self.uri = uri
        self._conn: libvirt.virConnect | None = None

    def get(self) -> libvirt.virConnect:
        """The open connection, (re)opened when absent or dead; raises libvirtError."""
        conn = self._conn
        if conn is not None:
            try:
                if conn.isAlive():
                    return conn
            except libvirt.libvirtError:
                pass
            log.warning(
                "libvirt connection lost; reconnecting", extra={"uri": redact_uri(self.uri)}
            )
            self.reset()
        conn = libvirt.openReadOnly(self.uri)
        if conn is None:  # very old bindings returned None instead of raising
            raise libvirt.libvirtError(f"cannot open {redact_uri(self.uri)}")
        log.info("connected to libvirt", extra={"uri": redact_uri(self.uri)})
        self._conn = conn
        return conn

    def alive(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            return bool(conn.isAlive())
        except libvirt.libvirtError:
            return False

    def reset(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(libvirt.libvirtError):
                conn.close()
