"""Every dashboard, rendered to the JSON files that Grafana provisions or imports."""

from __future__ import annotations

import json
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
    return written


def differences() -> list[str]:
    """Names of the files whose committed JSON is not what the code generates."""
    expected = {name: text(model) for name, model in dashboards().items()}
    present = {p.name for p in OUT.glob("*.json")} if OUT.is_dir() else set()
    stale = [
        n for n, t in expected.items() if not (OUT / n).is_file() or (OUT / n).read_text() != t
    ]
    return sorted(stale + sorted(present - expected.keys()))
