"""Count the libvirt calls and RPCs of one collector cycle, without touching the exporter.

Runs in its own process (``python -m tests.support.callcount URI LOGFILE``) because libvirt
reads its logging settings once: the parent sets ``LIBVIRT_LOG_FILTERS``/``LIBVIRT_LOG_OUTPUTS`` so
that the client library logs every RPC it sends. The collector gets a connection whose
objects count each Python-level call and the RPCs logged while that call ran. Prints JSON.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import libvirt

from exporter.collectors.libvirt.collector import LibvirtCollector
from exporter.collectors.libvirt.connection import LibvirtConnection

# One line per RPC queued by the client; keepalive messages use another program number.
_RPC = re.compile(rb"RPC_CLIENT_MSG_TX_QUEUE:[^\n]*prog=536903814 ")
LOG_FILTERS = "1:rpc.netclient 4:*"


def child_env(log_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LIBVIRT_LOG_FILTERS": LOG_FILTERS,
        "LIBVIRT_LOG_OUTPUTS": f"1:file:{log_path}",
    }


class RpcCounter:
    def __init__(self, log_path: Path) -> None:
        self._path = log_path
        self._file: Any = None
        self.calls: Counter[str] = Counter()
        self.rpcs: Counter[str] = Counter()

    def drain(self) -> int:
        """RPCs logged since the last drain (libvirt writes each log line with one write)."""
        if self._file is None:
            if not self._path.exists():
                return 0
            self._file = self._path.open("rb")
        return len(_RPC.findall(self._file.read()))

    def record(self, name: str, rpcs: int) -> None:
        self.calls[name] += 1
        self.rpcs[name] += rpcs

    def take(self) -> dict[str, dict[str, int]]:
        out = {
            name: {"calls": self.calls[name], "rpcs": self.rpcs[name]}
            for name in sorted(self.calls)
        }
        self.calls.clear()
        self.rpcs.clear()
        return out

    def wrap(self, value: Any) -> Any:
        if isinstance(value, libvirt.virDomain | libvirt.virConnect):
            return _Counted(value, self)
        if isinstance(value, list):
            return [self.wrap(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.wrap(v) for v in value)
        return value


class _Counted:
    """Stands in for a virConnect or virDomain; counts every method called on it."""

    def __init__(self, target: Any, counter: RpcCounter) -> None:
        self._target = target
        self._counter = counter

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr
        counter = self._counter

        def call(*args: Any, **kwargs: Any) -> Any:
            counter.drain()
            try:
                result = attr(*args, **kwargs)
            finally:
                counter.record(name, counter.drain())
            return counter.wrap(result)

        return call


class CountingConnection(LibvirtConnection):
    def __init__(self, uri: str, counter: RpcCounter) -> None:
        super().__init__(uri)
        self._counter = counter

    def get(self) -> Any:
        self._counter.drain()
        conn = super().get()
        self._counter.record("(open or isAlive)", self._counter.drain())
        return self._counter.wrap(conn)


def count_cycles(uri: str, log_path: Path) -> dict[str, Any]:
    counter = RpcCounter(log_path)

    def factory(u: str) -> LibvirtConnection:
        return CountingConnection(u, counter)

    collector = LibvirtCollector(uri, connect=factory)
    out: dict[str, Any] = {}
    try:
        for label in ("first", "steady"):
            t0 = time.perf_counter()
            result = collector.collect()
            seconds = time.perf_counter() - t0
            if not result.success:
                raise RuntimeError(f"cycle failed: {result.error}")
            per_method = counter.take()
            out[label] = {
                "seconds_with_counting": round(seconds, 3),
                "calls": sum(v["calls"] for v in per_method.values()),
                "rpcs": sum(v["rpcs"] for v in per_method.values()),
                "by_method": per_method,
            }
        out["mode"] = collector.mode
    finally:
        collector.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m tests.support.callcount URI LOGFILE", file=sys.stderr)
        return 2
    print(json.dumps(count_cycles(args[0], Path(args[1]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
