"""The openstack collector's check on a fake connection: which lines, in which order, in
which words, and what the configuration leaves out."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from keystoneauth1 import exceptions as ksa_exc

from exporter.collectors.openstack.check import check
from exporter.collectors.openstack.config import CloudConfig, OpenStackConfig

CATALOG = [
    {
        "type": "compute",
        "name": "nova",
        "endpoints": [
            {"interface": "public", "region_id": "R1", "url": "http://nova.example:8774/v2.1"}
        ],
    },
    {
        "type": "image",
        "name": "glance",
        "endpoints": [{"interface": "public", "region_id": "R1", "url": "http://glance.example"}],
    },
]
FORBIDDEN = "403 forbidden: needs the admin or reader role"


class Response:
    def __init__(self, status: int, body: Any = None) -> None:
        self.status_code = status
        self.reason = "Forbidden" if status == 403 else "OK"
        self.headers: dict[str, str] = {}
        self._body = body if body is not None else {}

    def json(self) -> Any:
        return self._body


def connection(auth_error: Exception | None = None) -> mock.MagicMock:
    """Keystone answers with CATALOG; Nova refuses every admin call; Glance answers."""
    conn = mock.MagicMock()
    access = conn.session.auth.get_access
    if auth_error is not None:
        access.side_effect = auth_error
    else:
        access.return_value.service_catalog.catalog = CATALOG
    conn.config.get_region_name.return_value = "R1"
    conn.config.get_interface.return_value = "public"
    conn.session.get_token.return_value = "token"
    conn.session.get.side_effect = lambda url, **_: Response(503 if "nova" in url else 300)
    conn.compute.services.side_effect = ksa_exc.Forbidden()
    conn.compute.servers.side_effect = ksa_exc.Forbidden()
    conn.compute.get.return_value = Response(403, {"forbidden": {"message": "Policy"}})
    conn.image.get.return_value = Response(200, {"images": []})
    conn.identity.projects.return_value = []
    conn.current_project_id = "p1"
    return conn


def lines(cloud: CloudConfig, conn: mock.MagicMock) -> list[tuple[str, bool, str]]:
    results = check("openstack", OpenStackConfig((cloud,)), lambda *_a, **_k: conn)
    assert {r.collector for r in results} == {"openstack"}
    return [(r.target, r.ok, r.detail) for r in results]


def test_keystone_then_per_service_probe_checks_and_admin_calls() -> None:
    assert lines(CloudConfig("c1"), connection()) == [
        (
            "c1",
            True,
            "keystone: authenticated; 2 services in the catalog (region R1, interface public)",
        ),
        ("c1/compute", False, "probe http://nova.example:8774/: HTTP 503 without a token"),
        ("c1/compute", False, f"nova_services: {FORBIDDEN}"),
        ("c1/compute", False, f"servers (inventory): {FORBIDDEN}"),
        ("c1/compute", False, f"hypervisors (inventory): {FORBIDDEN}"),
        ("c1/compute", False, f"nova_limits (inventory): {FORBIDDEN}"),
        ("c1/image", True, "probe http://glance.example/: HTTP 300 without a token"),
        ("c1/image", True, "image: answered"),
    ]


def test_what_the_configuration_turns_off_is_not_checked() -> None:
    cloud = CloudConfig(
        "c1",
        skip_services=frozenset({"image"}),
        disabled=frozenset({"probes", "nova_services"}),
        inventory_enabled=False,
    )
    assert lines(cloud, connection()) == [
        (
            "c1",
            True,
            "keystone: authenticated; 1 services in the catalog (region R1, interface public)",
        )
    ]
    cloud = CloudConfig("c1", disabled=frozenset({"servers", "nova_limits"}))
    targets = [detail.split(":")[0] for _, _, detail in lines(cloud, connection())]
    assert "hypervisors (inventory)" in targets
    assert "servers (inventory)" not in targets
    assert "nova_limits (inventory)" not in targets


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ksa_exc.ConnectFailure("[Errno 111] Connection refused"), "connection refused"),
        (ksa_exc.Unauthorized(), "401 unauthorized: credentials refused"),
        (ksa_exc.ConnectTimeout(), "timed out (api_timeout)"),
    ],
)
def test_a_failing_keystone_is_one_line_and_the_cloud_stops(error: Exception, said: str) -> None:
    conn = connection(error)
    assert lines(CloudConfig("c1", region="R1"), conn) == [("c1:R1", False, f"keystone: {said}")]
    conn.session.get.assert_not_called()


def test_no_endpoint_for_the_region_is_said() -> None:
    conn = connection()
    conn.config.get_region_name.return_value = "elsewhere"
    assert lines(CloudConfig("c1"), conn) == [
        (
            "c1",
            False,
            "keystone: the catalog has no endpoint (region elsewhere, interface public)",
        )
    ]
