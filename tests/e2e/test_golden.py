"""The expositions, end to end: golden diffs and promtool's lint."""

from __future__ import annotations

import pytest

from tests.e2e.golden import (
    GOLDEN,
    OPENSTACK_GOLDEN,
    differences,
    normalize,
    scrape_demo,
    scrape_openstack,
    shapes,
)
from tests.support.promtool import OPENSTACK_EXPORTER_NAMES, promtool_complaints
from tests.support.testbed import Testbed

OPENSTACK_SERVICES = (
    "nova",
    "neutron",
    "cinder",
    "glance",
    "placement",
    "heat",
    "gnocchi",
    "server",
)


def test_demo_exposition_matches_golden_and_passes_promtool() -> None:
    raw = scrape_demo()
    diff = differences(GOLDEN, normalize(raw))
    assert not diff, "exposition changed (make golden to accept):\n" + diff[:5000]
    assert promtool_complaints(raw) == []


@pytest.mark.testbed
@pytest.mark.slow
def test_openstack_exposition_matches_golden_and_passes_promtool(testbed: Testbed) -> None:
    """Family names, types, HELP and label names of ``--once`` on the testbed; promtool may
    object only to the openstack-exporter names the rules need verbatim."""
    testbed.need(*OPENSTACK_SERVICES)
    raw = scrape_openstack(testbed.clouds_yaml)
    diff = differences(OPENSTACK_GOLDEN, shapes(raw))
    assert not diff, "exposition changed (make golden to accept):\n" + diff[:5000]
    assert promtool_complaints(raw, OPENSTACK_EXPORTER_NAMES) == []


def test_normalize_blanks_only_volatile_values() -> None:
    text = (
        'libvirt_domain_info_cpu_time_seconds_total{domain="a"} 1.5\n'
        'libvirt_domain_info_virtual_cpus{domain="a"} 2.0\n'
        'openstack_exporter_build_info{pythonversion="3.11.7",version="0.1.0"} 1.0\n'
    )
    assert normalize(text).splitlines() == [
        'libvirt_domain_info_cpu_time_seconds_total{domain="a"} <volatile>',
        'libvirt_domain_info_virtual_cpus{domain="a"} 2.0',
        'openstack_exporter_build_info{pythonversion="X",version="0.1.0"} 1.0',
    ]


def test_shapes_keep_help_type_and_each_set_of_label_names_once() -> None:
    text = (
        "# HELP openstack_nova_agent_state x\n"
        "# TYPE openstack_nova_agent_state gauge\n"
        'openstack_nova_agent_state{cloud="a",id="1",disabledReason="x, y=\\"z\\""} 1.0\n'
        'openstack_nova_agent_state{cloud="b",id="2",disabledReason=""} 0.0\n'
        "# HELP openstack_nova_total_vms y\n"
        "# TYPE openstack_nova_total_vms gauge\n"
        "openstack_nova_total_vms 3.0\n"
    )
    assert shapes(text).splitlines() == [
        "# HELP openstack_nova_agent_state x",
        "# TYPE openstack_nova_agent_state gauge",
        "openstack_nova_agent_state{cloud,id,disabledReason}",
        "# HELP openstack_nova_total_vms y",
        "# TYPE openstack_nova_total_vms gauge",
        "openstack_nova_total_vms",
    ]


def test_the_allow_list_excuses_only_the_names_it_lists() -> None:
    text = (
        "# HELP openstack_placement_resource_total t\n"
        "# TYPE openstack_placement_resource_total gauge\n"
        'openstack_placement_resource_total{hostname="h",resourcetype="VCPU"} 2.0\n'
        "# HELP openstack_nova_vms_total t\n"
        "# TYPE openstack_nova_vms_total gauge\n"
        "openstack_nova_vms_total 2.0\n"
    )
    assert promtool_complaints(text, OPENSTACK_EXPORTER_NAMES) == [
        'openstack_nova_vms_total non-counter metrics should not have "_total" suffix'
    ]
