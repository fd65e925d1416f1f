"""``flavor_id`` of ``openstack_nova_server_status`` is the flavor's id, never its name."""

from __future__ import annotations

from openstack.compute.v2.flavor import Flavor

from exporter.collectors.openstack.inventory.nova import server_flavor_id

BY_NAME = {"m1.tiny": "b7e2ceee-3ffb-452d-be5a-e6bce44aa2b3"}


def test_embedded_flavor_of_microversion_2_47_is_looked_up_by_name() -> None:
    # openstacksdk answers the name for .id when the body has none: the lookup must not use it.
    embedded = Flavor(original_name="m1.tiny", vcpus=1, ram=128, disk=1)
    assert embedded.id == "m1.tiny"
    assert server_flavor_id(embedded, BY_NAME) == BY_NAME["m1.tiny"]


def test_older_microversions_give_the_id_itself() -> None:
    assert server_flavor_id(Flavor(id="42", links=[]), BY_NAME) == "42"
    assert server_flavor_id({"id": "42"}, BY_NAME) == "42"


def test_a_deleted_flavor_has_no_id() -> None:
    assert server_flavor_id(Flavor(original_name="gone"), BY_NAME) == ""
