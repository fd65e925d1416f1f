"""Prometheus text format (0.0.4), rendered once per change for bodies of 100,000s of samples.

Names are validated when a family is made, so only label values and HELP need escaping here,
and only when they contain a character that needs it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

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


class RenderedFamily(NamedTuple):
    """One family as text: its two header lines and its samples, kept apart so that parts of
    several collectors that expose the same family (two clouds, say) merge into one block."""

    name: str
    header: bytes
    samples: bytes


def _sample_lines(family: MetricFamily) -> list[str]:
    name = family.name
    if not family.labelnames:
        return [f"{name} {format_value(value)}" for _, value in family.rows]
    # One %-template per family: label names are written once, not once per sample.
    template = name + "{" + ",".join(f'{k}="%s"' for k in family.labelnames) + "} %s"
    return [
        template % (*map(_escape_value, values), format_value(value))
        for values, value in family.rows
    ]


def render_families(families: Iterable[MetricFamily]) -> list[RenderedFamily]:
    out: list[RenderedFamily] = []
    for family in families:
        name = family.name
        header = f"# HELP {name} {_escape_help(family.help)}\n# TYPE {name} {family.type}\n"
        lines = _sample_lines(family)
        samples = ("\n".join(lines) + "\n") if lines else ""
        out.append(RenderedFamily(name, header.encode("utf-8"), samples.encode("utf-8")))
    return out


def family_chunks(parts: Iterable[Sequence[RenderedFamily]]) -> list[bytes]:
    """The exposition of several parts, in order, as the parts' own bytes: a family present
    in more than one part is written once, its samples in part order (the text format wants
    each family in one block). Not joined: at 100,000s of samples a joined copy would double
    the memory the rendered parts already hold."""
    blocks: dict[str, list[bytes]] = {}
    for part in parts:
        for family in part:
            block = blocks.get(family.name)
            if block is None:
                blocks[family.name] = [family.header, family.samples]
            else:
                block.append(family.samples)
    return [chunk for block in blocks.values() for chunk in block if chunk]


def join_families(parts: Iterable[Sequence[RenderedFamily]]) -> bytes:
    return b"".join(family_chunks(parts))


def render(families: Iterable[MetricFamily]) -> bytes:
    return join_families([render_families(families)])
