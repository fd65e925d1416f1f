"""The bridge's command line as an operator meets it: bad settings refused in one line with
status 2, a busy port with status 1, the endpoints of a running bridge, a clean SIGTERM, JSON
logs, and no password from an Alertmanager URL in its logs or metrics."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.bridge import BridgeProcess, aodh_payload, run_bridge, start_bridge
from tests.support.exporter import REPO
from tests.support.servers import require
from tests.support.testbed import poll

PROG = "aodh-alertmanager-bridge"
DEAD_AM = "http://127.0.0.1:1"  # nothing listens there: connections are refused at once
SECRET = "secretpw"  # noqa: S105 - the password the logs must never show


def _env() -> dict[str, str]:
    """This environment without OS_* variables: an OS_CLOUD here would change every case."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OS_")}


def _run(
    args: Sequence[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m alerts ARGS`` to completion; for the cases that must exit at start."""
    return subprocess.run(
        [sys.executable, "-m", "alerts", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env if env is not None else _env(),
    )


def _error_lines(stderr: str) -> list[str]:
    """stderr without log lines (the warning about --os-cloud comes before some errors)."""
    return [line for line in stderr.splitlines() if not line.startswith("ts=")]


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_help_and_version_exit_0() -> None:
    helped = _run(["--help"])
    assert helped.returncode == 0, helped.stderr
    for flag in ("--alertmanager.url", "--state.path", "--resend-interval", "--os-cloud"):
        assert flag in helped.stdout
    version = _run(["--version"])
    assert version.returncode == 0
    installed = importlib.metadata.version("openstack-telemetry-bridge")
    assert version.stdout.strip() == f"{PROG} {installed}"


# (id, extra args given after a valid --state.path and listen address, files to write,
# text the one error line must contain). "{tmp}" is replaced by the test's directory.
BAD_CONFIG: list[tuple[str, list[str], dict[str, str], str]] = [
    ("no-alertmanager", [], {}, "no Alertmanager: give --alertmanager.url"),
    ("bad-url-scheme", ["--alertmanager.url", "ftp://am:9093"], {}, "expected http(s)://"),
    (
        "bad-url-port-hides-password",
        ["--alertmanager.url", f"http://user:{SECRET}@am:99999"],
        {},
        "--alertmanager.url 'http://am:99999': bad port",
    ),
    (
        "resend-interval-bare-number",
        ["--alertmanager.url", DEAD_AM, "--resend-interval", "60"],
        {},
        "--resend-interval: invalid duration '60'",
    ),
    (
        "resend-interval-zero",
        ["--alertmanager.url", DEAD_AM, "--resend-interval", "0s"],
        {},
        "--resend-interval: must be greater than zero",
    ),
    (
        "bad-listen-address",
        ["--alertmanager.url", DEAD_AM, "--web.listen-address", "10199"],
        {},
        "--web.listen-address '10199': expected HOST:PORT",
    ),
    ("unknown-flag", ["--alertmanager.uri", DEAD_AM], {}, "(see --help)"),
    (
        "missing-config-file",
        ["--alertmanager.url", DEAD_AM, "--config.file", "{tmp}/nonexistent.yml"],
        {},
        "No such file or directory",
    ),
    (
        "bad-yaml",
        ["--alertmanager.url", DEAD_AM, "--config.file", "{tmp}/c.yml"],
        {"c.yml": "alertmanager:\n  urls: [\n"},
        "c.yml: line 3:",
    ),
    (
        "unknown-key",
        ["--alertmanager.url", DEAD_AM, "--config.file", "{tmp}/c.yml"],
        {"c.yml": "resend_intervall: 60s\n"},
        "resend_intervall: unknown key",
    ),
    (
        "unknown-nested-key",
        ["--alertmanager.url", DEAD_AM, "--config.file", "{tmp}/c.yml"],
        {"c.yml": "aodh:\n  reconcile: 5m\n"},
        "aodh.reconcile: unknown key",
    ),
    (
        "bad-insufficient-data",
        ["--alertmanager.url", DEAD_AM, "--config.file", "{tmp}/c.yml"],
        {"c.yml": "insufficient_data: ignore\n"},
        "insufficient_data 'ignore': expected one of keep, resolve, fire",
    ),
    (
        "bad-label-name",
        ["--alertmanager.url", DEAD_AM, "--config.file", "{tmp}/c.yml"],
        {"c.yml": "labels:\n  region-name: one\n"},
        "labels.region-name: not a valid Prometheus label name",
    ),
    (
        "reserved-label",
        ["--alertmanager.url", DEAD_AM, "--config.file", "{tmp}/c.yml"],
        {"c.yml": "labels:\n  severity: page\n"},
        "labels.severity: set by the bridge itself",
    ),
    (
        "bad-severity-key",
        ["--alertmanager.url", DEAD_AM, "--config.file", "{tmp}/c.yml"],
        {"c.yml": "severity:\n  urgent: page\n"},
        "severity.urgent: not an Aodh severity",
    ),
    (
        "bad-action-match",
        ["--alertmanager.url", DEAD_AM, "--config.file", "{tmp}/c.yml"],
        {"c.yml": "aodh:\n  action_match: '/v1/(aodh'\n"},
        "aodh.action_match: not a regular expression",
    ),
    (
        "bad-synchronous",
        ["--alertmanager.url", DEAD_AM, "--config.file", "{tmp}/c.yml"],
        {"c.yml": "state:\n  synchronous: off\n"},
        "state.synchronous",
    ),
    (
        "bad-threads",
        ["--alertmanager.url", DEAD_AM, "--config.file", "{tmp}/c.yml"],
        {"c.yml": "server:\n  threads: 0\n"},
        "server.threads: expected an integer from 1 to 256",
    ),
    (
        "keystone-tokens-without-cloud",
        ["--alertmanager.url", DEAD_AM, "--config.file", "{tmp}/c.yml"],
        {"c.yml": "webhook:\n  keystone_tokens: true\n"},
        "webhook.keystone_tokens needs --os-cloud",
    ),
    (
        "state-path-unwritable",
        ["--alertmanager.url", DEAD_AM, "--state.path", "/proc/x/state.db"],
        {},
        "--state.path: /proc/x/state.db",
    ),
    (
        "state-path-is-a-directory",
        ["--alertmanager.url", DEAD_AM, "--state.path", "{tmp}"],
        {},
        "--state.path:",
    ),
    (
        "web-config-unknown-option",
        ["--alertmanager.url", DEAD_AM, "--web.config.file", "{tmp}/web.yml"],
        {"web.yml": "rate_limit: 10\n"},
        "--web.config.file: rate_limit: unknown or unsupported option",
    ),
    (
        "web-config-plain-password",
        ["--alertmanager.url", DEAD_AM, "--web.config.file", "{tmp}/web.yml"],
        {"web.yml": f"basic_auth_users:\n  aodh: {SECRET}\n"},
        "basic_auth_users.aodh: expected a bcrypt hash",
    ),
    (
        "web-config-missing",
        ["--alertmanager.url", DEAD_AM, "--web.config.file", "{tmp}/nonexistent.yml"],
        {},
        "--web.config.file",
    ),
]


@pytest.mark.parametrize(
    ("extra", "files", "expected"),
    [pytest.param(a, f, e, id=i) for i, a, f, e in BAD_CONFIG],
)
def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, extra: list[str], files: dict[str, str], expected: str
) -> None:
    for name, text in files.items():
        _write(tmp_path / name, text)
    args = ["--state.path", str(tmp_path / "state.db"), "--web.listen-address", "127.0.0.1:0"]
    args += [a.replace("{tmp}", str(tmp_path)) for a in extra]
    proc = _run(args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{PROG}: error: "), proc.stderr
    assert expected in lines[0], proc.stderr
    assert SECRET not in proc.stderr
    assert proc.stdout == ""


def test_unknown_cloud_exits_2_with_one_line(tmp_path: Path) -> None:
    clouds = _write(tmp_path / "clouds.yaml", "clouds: {}\n")
    env = {**_env(), "OS_CLIENT_CONFIG_FILE": clouds}
    args = ["--state.path", str(tmp_path / "s.db"), "--alertmanager.url", DEAD_AM]
    proc = _run([*args, "--web.listen-address", "127.0.0.1:0", "--os-cloud", "nosuch"], env)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert _error_lines(proc.stderr) == [
        f"{PROG}: error: --os-cloud: cloud 'nosuch': Cloud nosuch was not found."
    ]


def test_listen_address_in_use_exits_1_with_one_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        args = ["--state.path", str(tmp_path / "s.db"), "--alertmanager.url", DEAD_AM]
        proc = _run([*args, "--web.listen-address", f"127.0.0.1:{port}"])
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert _error_lines(proc.stderr) == [
        f"{PROG}: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def _json(resp_body: bytes) -> dict[str, object]:
    data = json.loads(resp_body)
    assert isinstance(data, dict)
    return data


def test_running_bridge_serves_its_endpoints(tmp_path: Path) -> None:
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    require(Path(promtool).exists(), "promtool (Debian package prometheus) is not installed")
    args = ["--state.path", str(tmp_path / "s.db"), "--alertmanager.url", DEAD_AM]
    with run_bridge(args) as bridge:
        landing = bridge.request("GET", "/")
        assert landing.status == 200
        assert landing.headers["content-type"].startswith("text/html")
        assert b"/v1/aodh" in landing.body
        for path, status in (("/healthz", "ok"), ("/readyz", "ready")):
            resp = bridge.request("GET", path)
            assert resp.status == 200, resp
            assert resp.headers["content-type"] == "application/json"
            assert _json(resp.body) == {"status": status, "problems": []}

        assert bridge.post(aodh_payload("cli-1")).status == 202
        metrics = bridge.request("GET", "/metrics")
        assert metrics.status == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        linted = subprocess.run(
            [promtool, "check", "metrics"],
            input=metrics.body,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert linted.returncode == 0, linted.stdout + linted.stderr
        assert linted.stdout + linted.stderr == b"", linted.stdout + linted.stderr
        assert b'aodh_bridge_webhooks_received_total{outcome="accepted"} 1.0' in metrics.body

        missing = bridge.request("GET", "/nonexistent")
        assert missing.status == 404
        assert missing.headers["content-type"] == "application/json"
        assert _json(missing.body)["error"] == "not_found"

        wrong_method = bridge.request("GET", "/v1/aodh")
        assert wrong_method.status == 405
        assert wrong_method.headers["content-type"] == "application/json"
        assert _json(wrong_method.body)["error"] == "method_not_allowed"
        assert "Traceback" not in bridge.logs()


def test_sigterm_exits_0(tmp_path: Path) -> None:
    args = ["--state.path", str(tmp_path / "s.db"), "--alertmanager.url", DEAD_AM]
    bridge = start_bridge(args)
    try:
        assert bridge.post(aodh_payload("term-1")).status == 202
        bridge.proc.send_signal(signal.SIGTERM)
        # A deadline, not a speed measurement: a bridge that ignores SIGTERM never gets here.
        assert bridge.proc.wait(timeout=20) == 0, bridge.logs()
    finally:
        bridge.stop()
    poll("shutdown logged", lambda: "shutting down" in bridge.logs(), timeout=10)
    assert "Traceback" not in bridge.logs()


def test_sighup_is_ignored(tmp_path: Path) -> None:
    """As with the exporter: configuration is read once, and a stray HUP (a log rotation
    script, a closed terminal) must not stop the bridge."""
    args = ["--state.path", str(tmp_path / "s.db"), "--alertmanager.url", DEAD_AM]
    with run_bridge(args) as bridge:
        bridge.proc.send_signal(signal.SIGHUP)
        poll("SIGHUP logged", lambda: "SIGHUP" in bridge.logs() or not bridge.alive(), timeout=20)
        assert bridge.alive(), bridge.logs()
        assert bridge.request("GET", "/healthz").status == 200


@contextmanager
def _json_bridge(args: Sequence[str]) -> Iterator[tuple[BridgeProcess, list[str]]]:
    """Like ``run_bridge``, for ``--log.format json``, whose listening line is an object."""
    cmd = [sys.executable, "-m", "alerts", "--web.listen-address", "127.0.0.1:0", *args]
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env()
    )
    lines: list[str] = []
    ports: list[int] = []

    def pump() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            lines.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("msg") == "listening":
                ports.append(int(str(record["url"]).rsplit(":", 1)[1].split("/", 1)[0]))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    bridge = BridgeProcess(proc, "127.0.0.1", 0, list(args), lines)
    try:
        poll("JSON listening line", lambda: ports or proc.poll() is not None, timeout=60)
        assert ports, "\n".join(lines)
        bridge.port = ports[0]
        yield bridge, lines
    finally:
        bridge.stop()
        reader.join(10)


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    args = ["--state.path", str(tmp_path / "s.db"), "--alertmanager.url", DEAD_AM]
    with _json_bridge([*args, "--log.format", "json", "--log.level", "debug"]) as (bridge, lines):
        assert bridge.post(aodh_payload("json-1")).status == 202
        # The dead Alertmanager makes the sender log its failure: more than start-up lines.
        poll(
            "a failed delivery",
            lambda: bridge.metric(
                "aodh_bridge_alertmanager_requests_total",
                alertmanager=DEAD_AM,
                outcome="error",
                code="none",
            ),
        )
    assert len(lines) >= 3, lines
    records = [json.loads(line) for line in lines]
    assert all(isinstance(r, dict) and {"ts", "level", "msg"} <= set(r) for r in records)
    assert any(r["msg"] == "shutting down" for r in records)


def test_alertmanager_password_never_logged_or_exported(tmp_path: Path) -> None:
    url = f"http://user:{SECRET}@127.0.0.1:1"
    args = ["--state.path", str(tmp_path / "s.db"), "--alertmanager.url", url]
    with run_bridge([*args, "--log.level", "debug"]) as bridge:
        assert bridge.post(aodh_payload("secret-1")).status == 202
        poll(
            "a failed delivery to the redacted URL",
            lambda: bridge.metric(
                "aodh_bridge_alertmanager_requests_total",
                alertmanager=DEAD_AM,
                outcome="error",
                code="none",
            ),
        )
        metrics = bridge.metrics()
        assert f'alertmanager="{DEAD_AM}"' in metrics
        assert SECRET not in metrics
    logs = bridge.logs()
    assert "Alertmanager not accepting alerts" in logs
    assert SECRET not in logs
    assert "user:" not in logs
