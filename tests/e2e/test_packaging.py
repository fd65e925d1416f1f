"""The distribution as an operator installs it: ``python -m build`` makes a wheel and an sdist,
each installs into a fresh environment, the bridge's extra alone gives a working bridge (no
libvirt anywhere), and a plain install names the extra a role lacks in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from tests.support import uvenv
from tests.support.alertmanager_process import alertmanagers
from tests.support.bridge import aodh_payload, run_bridge, state_args
from tests.support.exporter import REPO

pytestmark = pytest.mark.slow

VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    built = {p.suffix if p.suffix == ".whl" else "sdist": p for p in out.iterdir()}
    assert set(built) == {".whl", "sdist"}, built
    return {"wheel": built[".whl"], "sdist": built["sdist"]}


def test_the_version_comes_from_pyproject(dist: dict[str, Path]) -> None:
    assert dist["wheel"].name.startswith(f"openstack_telemetry_bridge-{VERSION}-")
    assert dist["sdist"].name == f"openstack_telemetry_bridge-{VERSION}.tar.gz"


def test_the_bridge_extra_alone_gives_a_working_bridge(
    dist: dict[str, Path], tmp_path: Path
) -> None:
    """The wheel with ``[bridge]``: no libvirt-python (nothing to compile, no libvirt-dev),
    and the installed program takes a webhook and delivers it to a real Alertmanager."""
    venv = uvenv.make(tmp_path / "venv", f"{dist['wheel']}[bridge]")
    installed = uvenv.packages(venv)
    assert "libvirt-python" not in installed
    assert {"flask", "waitress", "aodhclient", "openstacksdk"} <= installed
    program = venv / "bin" / "aodh-alertmanager-bridge"
    shown = subprocess.run([program, "--version"], capture_output=True, text=True, check=True)
    assert VERSION in shown.stdout + shown.stderr
    with alertmanagers(tmp_path / "am") as pool:
        am = pool.new("one")
        args = state_args(tmp_path / "state.db", [am.url])
        with run_bridge(args, command=[str(program)], cwd=tmp_path) as bridge:
            assert bridge.post(aodh_payload("packaged")).status == 202
            deadline = time.monotonic() + 30
            while "packaged" not in am.firing_ids():
                assert time.monotonic() < deadline, bridge.logs()
                time.sleep(0.2)


def _run(venv: Path, program: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE")}
    return subprocess.run(
        [venv / "bin" / program, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_a_plain_install_names_the_extra_each_role_needs(
    dist: dict[str, Path], tmp_path: Path
) -> None:
    """The sdist without extras: each program starts, and a role whose libraries are absent
    is refused with exit code 2 and one line naming the extra to install."""
    venv = uvenv.make(tmp_path / "venv", str(dist["sdist"]))
    assert not {"libvirt-python", "openstacksdk", "flask"} & uvenv.packages(venv)
    exporter = "openstack-telemetry-exporter"
    cases = [
        ("hypervisor", exporter, "--once"),
        ("central", exporter, "--no-collector.libvirt", "--collector.openstack", "--once"),
        ("central", exporter, "--no-collector.libvirt", "--collector.gnocchi", "--once"),
        (
            "bridge",
            "aodh-alertmanager-bridge",
            *state_args(tmp_path / "s.db", ["http://127.0.0.1:9093"]),
        ),
    ]
    for extra, program, *args in cases:
        done = _run(venv, program, *args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, (args, done.stderr)
        assert len(lines) == 1, done.stderr
        assert "not installed" in lines[0]
        assert f"pip install 'openstack-telemetry-bridge[{extra}]'" in lines[0]
    # With every collector off the base install still serves its own metrics.
    idle = _run(venv, "openstack-telemetry-exporter", "--no-collector.libvirt", "--once")
    assert idle.returncode == 0, idle.stderr
    assert "# TYPE" in idle.stdout
