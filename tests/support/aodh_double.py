"""A test double of ``AodhAPI`` for in-process bridges: no cloud, and each call does what the
test says (answer, raise), so a worker's reaction to one failure can be watched alone."""

from __future__ import annotations

import re
from collections.abc import Callable

from alerts.aodh import AodhAPI
from alerts.lifecycle import ApiAlarm


def api_alarm(alarm_id: str, state: str = "alarm", at: float = 1.0) -> ApiAlarm:
    return ApiAlarm(alarm_id, f"alarm-{alarm_id}", "moderate", state, at, "test", enabled=True)


def nothing_listed(_pattern: re.Pattern[str]) -> list[ApiAlarm]:
    return []


def not_found(_alarm_id: str) -> ApiAlarm | None:
    return None


class AodhDouble(AodhAPI):
    """Stands in for the Aodh API; ``listing`` and ``reading`` may be swapped at any time."""

    def __init__(self) -> None:
        # AodhAPI.__init__ is not called: it would connect to a cloud.
        self.listing: Callable[[re.Pattern[str]], list[ApiAlarm]] = nothing_listed
        self.reading: Callable[[str], ApiAlarm | None] = not_found

    def endpoint(self) -> str:
        return "http://aodh.invalid"

    def get(self, alarm_id: str) -> ApiAlarm | None:
        return self.reading(alarm_id)

    def list_watched(self, pattern: re.Pattern[str]) -> list[ApiAlarm]:
        return self.listing(pattern)
