"""Prometheus text format (0.0.4), rendered once per change for bodies of 100,000s of samples.

Names are validated when a family is made, so only label values and HELP need escaping here,
and only when they contain a character that needs it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from exporter.metric import MetricFamily


def _escape_value(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if value - value == 0.0:  # finite; inf - inf and nan - nan are nan
        return repr(value)
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(value)


def render(families: Iterable[MetricFamily]) -> bytes:
    lines: list[str] = []
    append = lines.append
    for family in families:
        name = family.name
        append(f"# HELP {name} {_escape_help(family.help)}")
        append(f"# TYPE {name} {family.type}")
        if not family.labelnames:
            for _, value in family.rows:
                append(f"{name} {format_value(value)}")
            continue
        # One %-template per family: label names are written once, not once per sample.
        template = name + "{" + ",".join(f'{k}="%s"' for k in family.labelnames) + "} %s"
        for values, value in family.rows:
            append(template % (*map(_escape_value, values), format_value(value)))
    append("")
    return "\n".join(lines).encode("utf-8")
