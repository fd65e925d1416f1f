"""Thousands of malformed and hostile requests against one bridge: each is refused with a 4xx
(JSON with an ``error`` key on /v1/aodh), none drops the connection or the process, and none
changes the state: nothing accepted, no alarm, empty ``alarms`` and ``inbox`` tables.

The whole suite runs twice: against a bridge on plain HTTP and against one serving TLS.

Every generated request is invalid by construction (a valid webhook would rightly be
accepted): each carries at least one defect the validator must refuse.
"""

from __future__ import annotations

import http.client
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.payload import MAX_BODY, MAX_NAME, MAX_REASON, SEVERITIES, STATES
from tests.support.bridge import BridgeProcess, aodh_payload, run_bridge, state_args
from tests.support.metrics import parse_samples
from tests.support.tls import tls_web_config

pytestmark = pytest.mark.slow

# Above this the HTTP server itself refuses the body (text/plain 413) before the app sees it;
# below it, every refusal is the app's JSON.
SERVER_MAX_BODY = 8 * 1024 * 1024
JSON = {"Content-Type": "application/json"}
REQUIRED = ("alarm_id", "alarm_name", "severity", "previous", "current", "reason")
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    # One bridge and one connection serve every example; the state is checked after each test.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


@dataclass(frozen=True)
class Raw:
    """A JSON token written as it is (NaN, 1e999, a lone surrogate escape)."""

    text: str


def encode(value: object) -> str:
    """JSON text that may hold ``Raw`` tokens, as values or as keys."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        items = (f"{encode(k)}:{encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)


class Client:
    """One keep-alive connection; a new one only after the server said it closes."""

    def __init__(self, bridge: BridgeProcess) -> None:
        self._bridge = bridge
        self._conn: http.client.HTTPConnection | None = None

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        chunks: list[bytes] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        for reused in (True, False):
            fresh = self._conn is None
            if fresh:
                self._conn = self._bridge.connection(timeout=30)
            conn = self._conn
            assert conn is not None
            try:
                if chunks is not None:
                    conn.request(method, path, iter(chunks), headers or {}, encode_chunked=True)
                else:
                    conn.request(method, path, body, headers or {})
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                # An idle keep-alive connection may have been closed; a fresh one must answer.
                if fresh or not reused:
                    pytest.fail(f"{method} {path[:80]}: connection dropped: {exc!r}")
                continue
            if resp.will_close:
                self.close()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass
class Target:
    bridge: BridgeProcess
    client: Client
    state: Path

    def refused(
        self,
        body: bytes | None,
        headers: dict[str, str] | None = None,
        *,
        method: str = "POST",
        path: str = "/v1/aodh",
        chunks: list[bytes] | None = None,
        statuses: tuple[int, ...] = (),
    ) -> int:
        """Send; assert a 4xx (one of ``statuses`` if given) that names its error."""
        status, got, data = self.client.send(method, path, body, headers, chunks=chunks)
        assert 400 <= status < 500, (status, data[:300])
        if statuses:
            assert status in statuses, (status, data[:300])
        assert b"Traceback" not in data
        size = len(body or b"") + sum(len(c) for c in chunks or [])
        if method != "HEAD" and size <= SERVER_MAX_BODY:
            assert got.get("content-type", "").startswith("application/json"), (status, got)
            assert "error" in json.loads(data), data[:300]
        assert self.bridge.alive(), self.bridge.logs()[-3000:]
        return status


@pytest.fixture(scope="module", params=["plain", "tls"])
def bridge(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BridgeProcess]:
    """One bridge per mode, every test against it; plain HTTP, then TLS."""
    workdir = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    extra: list[str] = []
    tls = None
    if request.param == "tls":
        web, tls = tls_web_config(workdir)
        extra = ["--web.config.file", str(web)]
    # Nothing listens on port 9: no alert may ever exist to be sent.
    args = state_args(workdir / "state.db", ["http://127.0.0.1:9"], *extra)
    with run_bridge(args, tls=tls) as running:
        yield running


@pytest.fixture
def target(bridge: BridgeProcess) -> Iterator[Target]:
    """The shared bridge; after each test, the state is checked to be still empty."""
    state = Path(bridge.args[bridge.args.index("--state.path") + 1])
    client = Client(bridge)
    yield Target(bridge, client, state)
    client.close()
    assert bridge.alive(), bridge.logs()[-3000:]
    samples = parse_samples(bridge.metrics())
    accepted = ("aodh_bridge_webhooks_received_total", frozenset({("outcome", "accepted")}))
    assert samples[accepted] == 0
    assert not [k for k in samples if k[0] == "aodh_bridge_alarms"]
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        for table in ("alarms", "inbox"):
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table  # noqa: S608
    finally:
        db.close()


# -- strategies -------------------------------------------------------------------------------

# Short texts from the first code pages: any Unicode adds little here and slows generation.
CHARS = st.characters(max_codepoint=0x52F, exclude_categories=["Cs"])
HUGE = st.sampled_from(["1e999", "-1e999", "1" * 5000, "1e-99999", "9" * 400, "-0"]).map(Raw)
CONSTANT = st.sampled_from(["NaN", "Infinity", "-Infinity"]).map(Raw)
SURROGATE = st.sampled_from(['"\\ud800"', '"a\\udfffb"', '"\\udc00\\ud800"']).map(Raw)
SCALAR: st.SearchStrategy[object] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(CHARS, max_size=20),
)
NESTED: list[object] = [[], {}, [[[]]], {"a": {"b": [1, None]}}, [{"x": "y"}, 2.5], {"": ""}]
JSONISH: st.SearchStrategy[object] = st.one_of(
    SCALAR,
    st.sampled_from(NESTED),
    st.lists(SCALAR, max_size=3),
    st.dictionaries(st.text(CHARS, max_size=8), SCALAR, max_size=3),
)
NOT_A_STRING: st.SearchStrategy[object] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(JSONISH, max_size=3),
    st.dictionaries(st.text(CHARS, max_size=5), JSONISH, max_size=3),
    HUGE,
)
BLANK = st.sampled_from(["", " ", "\t\n", "\u00a0 "])


def _long(limit: int) -> st.SearchStrategy[object]:
    return st.sampled_from([limit + 1, limit + 2, limit + 4096]).map(lambda n: "x" * n)


def _unknown(allowed: tuple[str, ...]) -> st.SearchStrategy[object]:
    odd = st.sampled_from([a.upper() for a in allowed] + [a + " " for a in allowed])
    return (odd | st.text(CHARS, max_size=30)).filter(lambda s: s not in allowed)


def _defect(field: str) -> st.SearchStrategy[tuple[str, object]]:
    """One way ``field`` can be wrong: (field, bad value), or ("", field) to delete it."""
    choices = [NOT_A_STRING, SURROGATE, CONSTANT]
    if field != "reason":
        choices.append(BLANK)
    choices.append(_long(MAX_REASON if field == "reason" else MAX_NAME))
    if field == "severity":
        choices.append(_unknown(SEVERITIES))
    if field in ("previous", "current"):
        choices.append(_unknown(STATES))
    wrong = st.one_of(*choices).map(lambda v: (field, v))
    return wrong | st.just(("", field))


REASON_DATA_DEFECT: st.SearchStrategy[object] = st.one_of(
    st.booleans(),
    st.integers(),
    st.text(CHARS, max_size=10),
    st.lists(JSONISH, max_size=3),
    CONSTANT,
    SURROGATE,
    HUGE,
    st.builds(lambda c: {"most_recent": c}, CONSTANT),
    st.builds(lambda: {"most_recent": Raw("1e999")}),
)


# Strategies are built once: building them on every draw costs more than drawing.
DEFECTS = {field: _defect(field) for field in REQUIRED}
ALARM_ID = st.text(CHARS, min_size=1, max_size=20).filter(str.strip)
EXTRAS = st.dictionaries(
    st.text(CHARS, max_size=12).filter(lambda k: k not in (*REQUIRED, "reason_data")),
    JSONISH,
    max_size=3,
)
SPOILED = st.lists(st.sampled_from([*REQUIRED, "reason_data"]), min_size=1, max_size=3, unique=True)


@st.composite
def bad_payload(draw: st.DrawFn) -> dict[object, object]:
    """A valid webhook with one to three defects, plus any extra fields."""
    data: dict[object, object] = {}
    data.update(aodh_payload(draw(ALARM_ID)))
    data.update(draw(EXTRAS))
    for field in draw(SPOILED):
        if field == "reason_data":
            data["reason_data"] = draw(REASON_DATA_DEFECT)
            continue
        key, value = draw(DEFECTS[field])
        if key == "":
            del data[field]
        else:
            data[key] = value
    return data


def valid_body() -> bytes:
    return json.dumps(aodh_payload("fuzz-valid")).encode()


def _json_media(value: str | None) -> bool:
    """What the webhook accepts: ``application/json``, any case, any parameters."""
    return (value or "").split(";", 1)[0].strip().lower() == "application/json"


HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
CONTENT_TYPE = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/json5",
            "text/json",
            "application/jsonx",
            "application/ json",
            "application/json,text/plain",
            "application/xml",
            "*/*",
            "application/*",
            "json",
        ]
    ),
    HEADER_TEXT,
).filter(lambda v: not _json_media(v))
ROUTES = {"/v1/aodh"}
PATH_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="?#%")
PATH = st.one_of(
    st.sampled_from(
        [
            "/v1/aodh/",
            "/v1/aodh/x",
            "/V1/AODH",
            "/v1/aodh.json",
            "/v1/aodh;x",
            "/v1",
            "/v2/aodh",
            "/v1/aodh/..",
            "/v1/./aodh",
            "/aodh",
            "/api/v2/alerts",
            "/v1/aodh%00",
            "/%2e%2e/etc",
            "/" + "a" * 8000,
            "*",
        ]
    ),
    st.text(PATH_CHARS, max_size=40).map(lambda s: "/" + s),
).filter(lambda p: "//" not in p and re.sub("/+", "/", unquote(p)) not in ROUTES)
METHODS = st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "HEAD", "TRACE", "FOO", "PROPFIND"])


# -- tests ------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000).filter(lambda b: b"alarm_id" not in b))
def test_random_bytes(target: Target, body: bytes) -> None:
    target.refused(body, JSON, statuses=(400, 422))


@FUZZ
@given(st.data())
def test_truncated_json(target: Target, data: st.DataObject) -> None:
    body = valid_body()
    cut = data.draw(st.integers(0, len(body) - 1))
    target.refused(body[:cut], JSON, statuses=(400,))


@settings(FUZZ, max_examples=1000)
@given(bad_payload())
def test_fields_wrong(target: Target, payload: dict[object, object]) -> None:
    target.refused(encode(payload).encode(), JSON, statuses=(400, 422))


@FUZZ
@given(SCALAR | st.lists(JSONISH, max_size=4))
def test_not_an_object(target: Target, value: object) -> None:
    target.refused(json.dumps(value).encode(), JSON, statuses=(422,))


@settings(FUZZ, max_examples=60)
@given(
    st.sampled_from(sorted(REQUIRED)),
    st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80"]),
)
def test_invalid_utf8(target: Target, field: str, junk: bytes) -> None:
    body = valid_body()
    start = body.index(f'"{field}": "'.encode()) + len(field) + 5
    target.refused(body[:start] + junk + body[start:], JSON, statuses=(400,))


def _nested_list(n: int) -> bytes:
    return b"[" * n + b"]" * n


DEEP: list[Callable[[int], bytes]] = [
    lambda n: b"[" * n,
    lambda n: b"[" * n + b"]" * n,
    lambda n: b'{"a":' * n + b"1" + b"}" * n,
    lambda n: valid_body().replace(
        b'"reason_data": {', b'"reason_data": {"x":' + _nested_list(n) + b","
    ),
]


@pytest.mark.parametrize("depth", [5000, 100_000])
@pytest.mark.parametrize("shape", range(len(DEEP)))
def test_deep_nesting(target: Target, shape: int, depth: int) -> None:
    target.refused(DEEP[shape](depth), JSON, statuses=(400,))


@FUZZ
@given(CONTENT_TYPE)
def test_content_type_not_json(target: Target, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    target.refused(valid_body(), headers, statuses=(415,))


@FUZZ
@given(METHODS, st.booleans())
def test_other_methods(target: Target, method: str, with_body: bool) -> None:
    # OPTIONS is left out: Flask answers it (200, Allow: POST, OPTIONS) for every route.
    body = valid_body() if with_body else None
    target.refused(body, JSON, method=method, statuses=(405,))


@FUZZ
@given(PATH, st.sampled_from(["POST", "GET", "PUT"]))
def test_odd_paths(target: Target, path: str, method: str) -> None:
    if method == "GET" and path in ("/", "/metrics", "/healthz", "/readyz"):
        return
    target.refused(valid_body(), JSON, method=method, path=path)


@pytest.mark.parametrize("size", [MAX_BODY + 1, MAX_BODY + 4096, 2 * MAX_BODY + 1, 3 * MAX_BODY])
@pytest.mark.parametrize("chunked", [False, True])
def test_bodies_over_1mib(target: Target, size: int, chunked: bool) -> None:
    payload: dict[str, Any] = aodh_payload("big")
    payload["reason"] = ""
    base = json.dumps(payload).encode()
    body = base.replace(b'"reason": ""', b'"reason": "' + b"x" * (size - len(base)) + b'"')
    assert len(body) == size
    if chunked:
        parts = [body[i : i + 65536] for i in range(0, size, 65536)]
        target.refused(None, JSON, chunks=parts, statuses=(413,))
    else:
        target.refused(body, JSON, statuses=(413,))


@FUZZ
@given(
    st.one_of(
        bad_payload().map(lambda p: encode(p).encode()),
        st.binary(max_size=500).filter(lambda b: b"alarm_id" not in b),
    ),
    st.data(),
)
def test_chunked_bodies(target: Target, body: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=5)))
    parts = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    target.refused(None, JSON, chunks=[p for p in parts if p], statuses=(400, 422))
