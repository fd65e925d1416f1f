"""Change Aodh alarms through the API with aodhclient, as an operator's tooling would.

Argument: a JSON list of operations, run in order in one process (each process pays for the
imports and a Keystone token, so callers batch what they can). Each operation is an object:

- ``{"op": "create", "alarm": {...}}``: the body of ``POST /v2/alarms``;
- ``{"op": "update", "alarm_id": ID, "changes": {...}}``: merged into the alarm (``PUT``);
- ``{"op": "state", "alarm_id": ID, "state": STATE}``: ``PUT /v2/alarms/ID/state``, which
  records the state and notifies nobody;
- ``{"op": "delete", "alarm_id": ID}``: an alarm that is already gone counts as deleted.

Prints one JSON list on the last line: the alarm after each create or update, the new state
after a state change, ``null`` after a delete.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

from aodhclient import client, exceptions  # type: ignore[import-untyped,import-not-found,unused-ignore]
from os_session import adapter_options, session  # type: ignore[import-not-found,unused-ignore]


def run(aodh: Any, op: dict[str, Any]) -> Any:
    kind = op["op"]
    if kind == "create":
        return aodh.alarm.create(op["alarm"])
    if kind == "update":
        return aodh.alarm.update(op["alarm_id"], op["changes"])
    if kind == "state":
        return aodh.alarm.set_state(op["alarm_id"], op["state"])
    if kind == "delete":
        with contextlib.suppress(exceptions.NotFound):
            aodh.alarm.delete(op["alarm_id"])
        return None
    raise SystemExit(f"unknown operation {kind!r}")


def main() -> None:
    ops: list[dict[str, Any]] = json.loads(sys.argv[1])
    aodh: Any = client.Client("2", session=session(), **adapter_options())
    print(json.dumps([run(aodh, op) for op in ops]))


if __name__ == "__main__":
    main()
