"""The Aodh API through aodhclient, on an openstacksdk session (clouds.yaml / ``OS_CLOUD``).

The API is the authority on an alarm's state: Aodh's evaluator writes the new state (with its
``state_timestamp``) before it hands the notification to the notifier, so a read that starts
after a webhook arrived sees that transition or a later one.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from alerts.lifecycle import ApiAlarm
from otb_common.cloud import CloudError, cloud_errors, connect

log = logging.getLogger("aodh-alertmanager-bridge.aodh")
PAGE = 1000
# Rule fields that identify what an alarm watches; they never change between evaluations.
_RULE_LABELS = ("resource_id", "resource_type", "metric")


class ApiError(Exception):
    """The Aodh or Keystone API could not answer; the message is safe to log."""


def _ts(text: object) -> float:
    if not isinstance(text, str):
        raise ApiError(f"state_timestamp {text!r} is not a timestamp")
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(f"state_timestamp {text!r} is not a timestamp") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)  # Aodh stores UTC without an offset
    return when.timestamp()


def _labels(alarm: dict[str, Any]) -> dict[str, str]:
    kind = str(alarm.get("type") or "")
    labels = {"project_id": str(alarm.get("project_id") or ""), "alarm_type": kind}
    rule = alarm.get(f"{kind}_rule") or alarm.get("rule")
    if isinstance(rule, dict):
        for key in _RULE_LABELS:
            value = rule.get(key)
            if isinstance(value, str) and value:
                labels[key] = value
    return {k: v for k, v in labels.items() if v}


def to_api_alarm(alarm: dict[str, Any]) -> ApiAlarm:
    try:
        return ApiAlarm(
            alarm_id=str(alarm["alarm_id"]),
            name=str(alarm["name"]),
            severity=str(alarm.get("severity") or "low"),
            state=str(alarm["state"]),
            state_ts=_ts(alarm.get("state_timestamp")),
            state_reason=str(alarm.get("state_reason") or ""),
            enabled=bool(alarm.get("enabled", True)),
            description=str(alarm.get("description") or ""),
            labels=_labels(alarm),
        )
    except KeyError as exc:
        raise ApiError(f"alarm without {exc.args[0]!r}") from None


def actions(alarm: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key in ("alarm_actions", "ok_actions", "insufficient_data_actions"):
        value = alarm.get(key)
        if isinstance(value, list):
            out.extend(str(v) for v in value)
    return out


class AodhAPI:
    """Reads alarms for every project; needs a cloud whose user may (admin, usually)."""

    def __init__(self, cloud: str, api_timeout: float) -> None:
        # Imported here: a bridge without --os-cloud never pays for these imports.
        from aodhclient import client as aodh_client  # noqa: PLC0415
        from aodhclient import exceptions as aodh_exc  # noqa: PLC0415

        self._not_found: type[Exception] = aodh_exc.NotFound
        self._errors: tuple[type[Exception], ...] = (aodh_exc.ClientException, *cloud_errors())
        try:
            self.conn: Any = connect(cloud, api_timeout)
            config = self.conn.config
            self._client: Any = aodh_client.Client(
                "2",
                session=self.conn.session,
                interface=config.get_interface("alarming"),
                region_name=config.get_region_name("alarming"),
            )
        except CloudError as exc:
            raise ApiError(str(exc)) from None
        except self._errors as exc:
            raise ApiError(f"cloud {cloud!r}: {exc}") from None

    def endpoint(self) -> str:
        try:
            return str(self._client.api.get_endpoint()).rstrip("/")
        except self._errors as exc:
            raise ApiError(f"no alarming endpoint in the catalog: {exc}") from None

    def get(self, alarm_id: str) -> ApiAlarm | None:
        """The alarm, or None when Aodh says it does not exist."""
        try:
            alarm = self._client.alarm.get(alarm_id)
        except self._not_found:
            return None
        except self._errors as exc:
            raise ApiError(f"GET alarm {alarm_id}: {_one_line(exc)}") from None
        except ValueError:  # a 200 whose body is not JSON: a proxy's page, say
            raise ApiError(f"GET alarm {alarm_id}: the answer is not JSON") from None
        if not isinstance(alarm, dict):
            raise ApiError(f"GET alarm {alarm_id}: the answer is not an alarm")
        return to_api_alarm(alarm)

    def list_watched(self, pattern: re.Pattern[str]) -> list[ApiAlarm]:
        """Every alarm (all projects) with an action matching ``pattern``; all pages or none."""
        out: list[ApiAlarm] = []
        marker: str | None = None
        while True:
            try:
                page = self._client.alarm.list(
                    filters={"all_projects": "true"},
                    limit=PAGE,
                    marker=marker,
                    sorts=["alarm_id:asc"],
                )
            except self._errors as exc:
                raise ApiError(f"list alarms: {_one_line(exc)}") from None
            except ValueError:
                raise ApiError("list alarms: the answer is not JSON") from None
            if not isinstance(page, list) or not all(isinstance(a, dict) for a in page):
                raise ApiError("list alarms: the answer is not a list of alarms")
            for alarm in page:
                if any(pattern.search(a) for a in actions(alarm)):
                    out.append(to_api_alarm(alarm))
            if len(page) < PAGE:
                return out
            marker = str(page[-1]["alarm_id"])


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
