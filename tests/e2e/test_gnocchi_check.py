"""``openstack-telemetry-exporter check`` for the gnocchi collector on the testbed: as admin
both lines are ok; as a member the backlog line says the admin role is needed; a configured
type Gnocchi lacks is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.exporter import run_command
from tests.support.testbed import Testbed

pytestmark = [pytest.mark.testbed, pytest.mark.slow]


@pytest.fixture(scope="module")
def bed(testbed: Testbed) -> Testbed:
    return testbed.need("gnocchi", "measures")


def check(clouds_yaml: Path, cloud: str, *extra: str) -> tuple[int, list[str]]:
    proc = run_command(
        ["check", "--no-collector.libvirt", "--collector.gnocchi", "--os-cloud", cloud, *extra],
        env={"OS_CLIENT_CONFIG_FILE": str(clouds_yaml)},
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout.splitlines()


def test_admin_reads_backlog_and_measures(bed: Testbed) -> None:
    code, lines = check(bed.clouds_yaml, "testbed")
    assert code == 0, lines
    [status] = [line for line in lines if "gnocchi status" in line]
    [measures] = [line for line in lines if "gnocchi measures" in line]
    assert status.split()[3] == "ok"
    assert measures.split()[3] == "ok"
    assert "aggregates requests per cycle" in measures
    assert lines[-1] == "2 checks, all ok"


def test_member_is_told_the_backlog_needs_admin(bed: Testbed) -> None:
    code, lines = check(bed.clouds_yaml, "testbed-demo")
    assert code == 1, lines
    [status] = [line for line in lines if "gnocchi status" in line]
    assert "FAIL" in status.split()
    assert status.endswith("403 forbidden: needs the admin role")


def test_a_type_gnocchi_lacks_is_named(bed: Testbed, tmp_path: Path) -> None:
    config = tmp_path / "exporter.yml"
    config.write_text(
        "collectors:\n"
        "  gnocchi:\n"
        "    resource_types:\n"
        "      no_such_type: {metrics: {some.meter: {kind: gauge}}}\n"
    )
    code, lines = check(bed.clouds_yaml, "testbed", "--config.file", str(config))
    assert code == 1, lines
    assert any("FAIL" in line and "'no_such_type' does not exist" in line for line in lines)
    assert any("gnocchi measures" in line and " ok " in line for line in lines), lines
