"""``openstack-telemetry-exporter check`` against the testbed, as a new operator runs it: as
admin every line is ok; as a member the admin-only lines say so; a Keystone that cannot be
reached or refuses the password is one line that says why."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from testbed.__main__ import DEFAULT_SERVICES
from tests.support.exporter import REPO
from tests.support.testbed import Testbed

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

FORBIDDEN = "403 forbidden: needs the admin or reader role"
# The inventory's calls that a member role is refused, and the health checks likewise.
ADMIN_ONLY = (
    "servers (inventory)",
    "hypervisors (inventory)",
    "nova_limits (inventory)",
    "cinder_pools (inventory)",
    "cinder_limits (inventory)",
    "identity (inventory)",
    "nova_services",
    "cinder_services",
)


@pytest.fixture(scope="module")
def bed(testbed: Testbed) -> Testbed:
    return testbed.need(*DEFAULT_SERVICES)


def check(clouds_yaml: Path, cloud: str) -> tuple[int, list[list[str]], str]:
    """Exit status, the result lines split into their four columns, and the summary."""
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds_yaml)}
    env.pop("OS_CLOUD", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter",
            "check",
            "--no-collector.libvirt",
            "--collector.openstack",
            "--os-cloud",
            cloud,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines, proc.stderr
    return proc.returncode, [line.split(maxsplit=3) for line in lines[:-1]], lines[-1]


def test_admin_sees_every_line_ok(bed: Testbed) -> None:
    status, rows, summary = check(bed.clouds_yaml, "testbed")
    assert status == 0, rows
    assert all(row[2] == "ok" for row in rows), rows
    assert summary == f"{len(rows)} checks, all ok"
    assert rows[0][:2] == ["openstack", "testbed"]
    assert rows[0][3].startswith("keystone: authenticated")
    targets = {row[1] for row in rows}
    for kind in ("compute", "network", "block-storage", "image", "placement", "orchestration"):
        assert f"testbed/{kind}" in targets
    details = [row[3] for row in rows]
    for said in (*ADMIN_ONLY, "heat_engines", "placement", "neutron_agents", "token validation"):
        assert any(d.startswith(said) for d in details), (said, details)


def test_a_member_is_told_which_lines_need_the_admin_or_reader_role(bed: Testbed) -> None:
    status, rows, summary = check(bed.clouds_yaml, "testbed-demo")
    assert status == 1
    failed = [row for row in rows if row[2] == "FAIL"]
    assert summary == f"{len(failed)} of {len(rows)} checks failed"
    assert failed
    assert all(row[3].endswith(FORBIDDEN) for row in failed), failed
    for said in ADMIN_ONLY:
        assert any(row[3].startswith(said) for row in failed), (said, failed)
    ok = [row for row in rows if row[2] == "ok"]
    assert ok[0][3].startswith("keystone: authenticated")
    # What a member may read still answers: every probe, Glance, Neutron's agents.
    assert all(row[2] == "ok" for row in rows if row[3].startswith("probe "))
    assert any(row[3].startswith("image: answered") for row in ok)


def _broken_clouds(tmp_path: Path, good: Path) -> Path:
    auth = yaml.safe_load(good.read_text())["clouds"]["testbed"]["auth"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]

    def cloud(auth_url: str, password: str) -> dict[str, object]:
        return {
            "auth": {**auth, "auth_url": auth_url, "password": password},
            "region_name": "RegionOne",
            "identity_api_version": 3,
        }

    path = tmp_path / "clouds.yaml"
    clouds = {
        "refused": cloud(f"http://127.0.0.1:{closed}/v3", auth["password"]),
        "no-dns": cloud("http://no-such-host.invalid:5000/v3", auth["password"]),
        "wrong-password": cloud(auth["auth_url"], "not-the-password"),
    }
    path.write_text(yaml.safe_dump({"clouds": clouds}))
    return path


@pytest.mark.parametrize(
    ("cloud", "reason"),
    [
        ("refused", "keystone: connection refused"),
        ("no-dns", "keystone: DNS: cannot resolve the host"),
        ("wrong-password", "keystone: 401 unauthorized: credentials refused"),
    ],
)
def test_an_unusable_keystone_is_one_line_saying_why(
    bed: Testbed, tmp_path: Path, cloud: str, reason: str
) -> None:
    status, rows, summary = check(_broken_clouds(tmp_path, bed.clouds_yaml), cloud)
    assert status == 1
    assert rows == [["openstack", cloud, "FAIL", reason]]
    assert summary == "1 of 1 check failed"
