"""The one Nova server of the testbed, booted from the Glance image onto the Neutron network.

Its ids are merged into Nova's record (``bed.info("nova")``: server_id, flavor_id, port_id),
where the other services and the tests read them.
"""

from __future__ import annotations

from testbed.bed import Bed, http_json
from testbed.services import keystone, nova

REQUIRES = ("nova", "neutron", "glance")


def start(bed: Bed) -> None:
    seeded = nova.boot(bed)
    bed.record("nova", {**bed.info("nova"), **seeded})
    bed.record("server", {"server_id": seeded["server_id"]})


def healthy(bed: Bed) -> bool:
    """Nova still knows the server (a restarted Nova has a new record without it)."""
    server_id = bed.info("server")["server_id"]
    if bed.info("nova").get("server_id") != server_id:
        return False
    url = f"{bed.info('nova')['url']}/servers/{server_id}"
    status, body, _ = http_json("GET", url, headers={"X-Auth-Token": keystone.admin_token(bed)})
    return status == 200 and isinstance(body, dict) and body["server"]["status"] == "ACTIVE"
