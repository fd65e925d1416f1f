"""Create the testbed's Aodh alarm through the API (found in the catalog); print its id.

Argument: one JSON object with ``name``, ``description``, ``severity``, ``webhook`` and
``rule`` (a ``gnocchi_resources_threshold_rule``). An alarm of that name left by an earlier
run is deleted first, so the new one starts in ``insufficient data`` and its first
evaluation is a real transition (which is what triggers the webhook).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from aodhclient import client  # type: ignore[import-untyped,import-not-found,unused-ignore]
from os_session import adapter_options, session  # type: ignore[import-not-found,unused-ignore]


def main() -> None:
    spec: dict[str, Any] = json.loads(sys.argv[1])
    aodh: Any = client.Client("2", session=session(), **adapter_options())
    for old in aodh.alarm.list(filters={"name": spec["name"]}):
        aodh.alarm.delete(old["alarm_id"])
    alarm = aodh.alarm.create(
        {
            "name": spec["name"],
            "description": spec["description"],
            "type": "gnocchi_resources_threshold",
            "severity": spec["severity"],
            "enabled": True,
            "repeat_actions": False,
            "alarm_actions": [spec["webhook"]],
            "gnocchi_resources_threshold_rule": spec["rule"],
        }
    )
    print(json.dumps({"alarm_id": alarm["alarm_id"], "state": alarm["state"]}))


if __name__ == "__main__":
    main()
