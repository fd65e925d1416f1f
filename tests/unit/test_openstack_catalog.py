"""Which endpoints the health cycle watches, and where it probes them."""

from __future__ import annotations

import pytest

from exporter.collectors.openstack.catalog import endpoints, normalise_interface, root_url


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("http://127.0.0.1:5000/v3", "http://127.0.0.1:5000/"),
        ("http://h:8774/v2.1", "http://h:8774/"),
        ("http://h:8004/v1/7317dd95e06841bdb295a2acd756a493", "http://h:8004/"),
        ("https://api.example.org/compute/v2.1/", "https://api.example.org/compute/"),
        ("https://h/volume/v3/%(project_id)s", "https://h/volume/"),
        ("http://h:9696", "http://h:9696/"),
        ("http://h:9696/", "http://h:9696/"),
        ("http://h:8778/placement", "http://h:8778/placement/"),
        ("http://h:8080/v1/AUTH_%(tenant_id)s", "http://h:8080/"),
    ],
)
def test_the_probe_stops_at_the_version_segment(url: str, root: str) -> None:
    assert root_url(url) == root


def _service(kind: str, name: str, *eps: tuple[str, str, str]) -> dict[str, object]:
    return {
        "type": kind,
        "name": name,
        "endpoints": [{"interface": i, "region_id": r, "url": u} for i, r, u in eps],
    }


CATALOG = [
    _service(
        "compute",
        "nova",
        ("public", "One", "https://pub/compute/v2.1"),
        ("internal", "One", "http://int:8774/v2.1"),
        ("internal", "Two", "http://int2:8774/v2.1"),
    ),
    _service("image", "glance", ("public", "One", "https://pub/image")),
    _service("object-store", "swift", ("internal", "One", "http://int:8080/v1/AUTH_x")),
    _service("network", "neutron"),
]


def test_one_endpoint_per_service_of_the_region_and_interface() -> None:
    got = endpoints(CATALOG, "One", "internal")
    assert [(e.service_type, e.url, e.internal_name) for e in got] == [
        ("compute", "http://int:8774/v2.1", "nova"),
        ("object-store", "http://int:8080/v1/AUTH_x", "object_store"),
    ]
    assert [e.url for e in endpoints(CATALOG, "Two", "internal")] == ["http://int2:8774/v2.1"]


def test_skipped_services_and_url_suffixed_interfaces() -> None:
    assert normalise_interface("internalURL") == "internal"
    got = endpoints(CATALOG, "One", "internalURL", skip=["object-store"])
    assert [e.service_type for e in got] == ["compute"]


def test_no_region_takes_the_first_endpoint_of_the_interface() -> None:
    got = endpoints(CATALOG, None, "public")
    assert [(e.service_type, e.region) for e in got] == [("compute", "One"), ("image", "One")]
    assert got[1].internal_name == "glance"
