"""``python -m testbed.sink PORT FILE``: an HTTP server that records every request it gets.

Alarm webhooks (Aodh's notifier, Alertmanager receivers) are pointed here; each request
becomes one JSON line in FILE (method, path with query, headers, body), flushed at once so
a test can read it while the server runs. Every POST/PUT is answered 200, GET 200 with
the number of requests recorded so far (a health probe).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, TextIO


class Recorder(BaseHTTPRequestHandler):
    out: ClassVar[TextIO]
    lock: ClassVar[threading.Lock] = threading.Lock()
    count: ClassVar[int] = 0
    protocol_version = "HTTP/1.1"

    def _record(self) -> None:
        text = self._body().decode("utf-8", errors="replace")
        body: Any
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = text
        entry = {
            "time": time.time(),
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        with Recorder.lock:
            Recorder.out.write(json.dumps(entry, sort_keys=True) + "\n")
            Recorder.out.flush()
            Recorder.count += 1
        self._answer({"recorded": True})

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _answer(self, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_PUT = _record  # noqa: N815 - names http.server dispatches on

    def do_GET(self) -> None:
        self._answer({"received": Recorder.count})

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m testbed.sink PORT FILE\n")
        return 2
    port, path = int(argv[0]), Path(argv[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        Recorder.out = out
        server = ThreadingHTTPServer(("127.0.0.1", port), Recorder)
        server.daemon_threads = True
        sys.stderr.write(f"recording requests to 127.0.0.1:{port} in {path}\n")
        sys.stderr.flush()
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
