"""An alarm record as an Alertmanager alert: labels say *which* alarm, annotations say *why*.

Labels must be stable for an alarm's whole life (Alertmanager identifies an alert by its label
set); anything that changes between evaluations goes in annotations.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.lifecycle import Record

DEFAULT_SEVERITIES = {"low": "info", "moderate": "warning", "critical": "critical"}


@dataclass(frozen=True, slots=True)
class Mapping:
    severities: dict[str, str]
    static_labels: dict[str, str]
    generator_url: str  # a template with {alarm_id}, or "" for none

    def labels(self, record: Record) -> dict[str, str]:
        labels = {**self.static_labels, **record.labels}
        labels.update(
            alertname=record.name,
            alarm_id=record.alarm_id,
            severity=self.severity(record.severity),
            source="aodh",
        )
        return {k: v for k, v in labels.items() if v != ""}

    def severity(self, aodh: str) -> str:
        """The ``severity`` label for Aodh's severity; one the map does not name is kept."""
        return self.severities.get(aodh, aodh)

    def annotations(self, record: Record) -> dict[str, str]:
        notes = {
            "reason": record.reason,
            "value": record.value,
            "description": record.description,
            "aodh_state": record.state,
        }
        return {k: v for k, v in notes.items() if v}

    def generator(self, record: Record) -> str:
        if not self.generator_url:
            return ""
        return self.generator_url.replace("{alarm_id}", record.alarm_id)
