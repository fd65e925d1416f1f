"""``promtool`` for tests: ``check metrics`` on an exposition, with the one list of complaints we
accept, and any other subcommand."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.servers import require

# openstack-exporter's names, kept verbatim because openstack-mixin's and its Helm chart's
# rules and dashboards select on them (docs/metrics.md; the anchor reference, sections 2 and
# 3): camelCase ``adminState``/``disabledReason`` labels, ``_gb`` units, ``_counter`` suffixes
# and ``_total`` on gauges. promtool is right about each; renaming would break those rules.
# Any other complaint is a bug of ours. One line per (family, complaint), as promtool says it.
OPENSTACK_EXPORTER_NAMES = frozenset(
    [
        *(
            f"openstack_{svc}_agent_state label names should be written in 'snake_case' "
            "not 'camelCase'"
            for svc in ("nova", "neutron", "cinder")
        ),
        *(
            f"{name} metric names should not contain abbreviated units"
            for name in (
                "openstack_cinder_volume_gb",
                "openstack_cinder_limits_volume_max_gb",
                "openstack_cinder_limits_volume_used_gb",
                "openstack_cinder_limits_backup_max_gb",
                "openstack_cinder_limits_backup_used_gb",
                "openstack_cinder_pool_capacity_free_gb",
                "openstack_cinder_pool_capacity_total_gb",
            )
        ),
        *(
            f"{name} metric name should not include type 'counter'"
            for name in (
                "openstack_cinder_volume_status_counter",
                "openstack_heat_stack_status_counter",
            )
        ),
        *(
            f'{name} non-counter metrics should not have "_total" suffix'
            for name in (
                "openstack_placement_resource_total",
                "openstack_neutron_network_ip_availabilities_total",
            )
        ),
    ]
)


def promtool(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``promtool ARGS`` to its end, output as text. Skips (a failure under CI) when promtool
    is not installed."""
    binary = shutil.which("promtool")
    require(binary is not None, "promtool (Debian package prometheus) is not installed")
    assert binary is not None
    return subprocess.run(
        [binary, *args],
        input=stdin,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def promtool_complaints(text: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """What ``promtool check metrics`` says about ``text``, minus ``allowed``, each line once."""
    proc = promtool("check", "metrics", stdin=text)
    said = dict.fromkeys(line.strip() for line in (proc.stdout + proc.stderr).splitlines())
    left = [line for line in said if line and line not in allowed]
    if proc.returncode != 0 and not said:
        left.append(f"promtool exited {proc.returncode} without saying why")
    return left
