"""Every dashboard, rendered to the JSON files that Grafana provisions or imports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from dashboards import aodh, exporters, gnocchi, hypervisors, instance, overview
from dashboards.common import FOLDER, render

ROOT = Path(__file__).resolve().parent
# The folder name is the Grafana folder (foldersFromFilesStructure), as under kolla's
# /etc/kolla/config/grafana/dashboards/.
OUT = ROOT / "json" / FOLDER
MODULES = (overview, hypervisors, instance, gnocchi, aodh, exporters)


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON model."""
    return {f"{m.UID.removeprefix('otb-')}.json": render(m.board()) for m in MODULES}


def text(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write() -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in dashboards().items():
        path = OUT / name
        path.write_text(text(model))
        written.append(path)
    DOC.write_text(doc_text(DOC.read_text()))
    written.append(DOC)
    return written


def differences() -> list[str]:
    """Paths (from the checkout) of the files that are not what the code generates."""
    expected = {name: text(model) for name, model in dashboards().items()}
    present = {p.name for p in OUT.glob("*.json")} if OUT.is_dir() else set()
    stale = [
        n for n, t in expected.items() if not (OUT / n).is_file() or (OUT / n).read_text() != t
    ]
    stale += sorted(present - expected.keys())
    paths = [str((OUT / n).relative_to(ROOT.parent)) for n in stale]
    doc = DOC.read_text()
    if doc_text(doc) != doc:
        paths.append(str(DOC.relative_to(ROOT.parent)))
    return paths


DOC = ROOT.parent / "docs" / "dashboards.md"
_BLOCK = re.compile(r"(<!-- panels:(?P<uid>[\w-]+) -->\n).*?(<!-- /panels -->)", re.S)


def panel_table(model: dict[str, Any]) -> str:
    """The Markdown table of a dashboard's panels, row by row, from their descriptions."""
    lines = ["| Row | Panel | What it shows |", "|---|---|---|"]
    row = ""
    for panel in model["panels"]:
        if panel["type"] == "row":
            row = panel["title"]
            continue
        text = panel["description"].replace("|", "\\|")
        lines.append(f"| {row} | {panel['title']} | {text} |")
    return "\n".join(lines) + "\n"


def doc_text(current: str) -> str:
    """``current`` with every panels block rewritten from the code."""
    models = {m["uid"]: m for m in dashboards().values()}

    def fill(match: re.Match[str]) -> str:
        uid = match.group("uid")
        if uid not in models:
            raise KeyError(f"docs/dashboards.md names an unknown dashboard {uid}")
        return match.group(1) + panel_table(models[uid]) + match.group(3)

    return _BLOCK.sub(fill, current)
