"""oslo.config files written from plain mappings: one section per key, values as given."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

Sections = Mapping[str, Mapping[str, object]]


def render(sections: Sections) -> str:
    lines: list[str] = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        for key, value in options.items():
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            lines.append(f"{key} = {text}")
        lines.append("")
    return "\n".join(lines)


def write(path: Path, sections: Sections) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(sections))
    return path


def merge(*parts: Sections) -> dict[str, dict[str, object]]:
    """Later parts win, option by option."""
    merged: dict[str, dict[str, object]] = {}
    for part in parts:
        for section, options in part.items():
            merged.setdefault(section, {}).update(options)
    return merged
