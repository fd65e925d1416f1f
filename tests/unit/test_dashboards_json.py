"""Every committed dashboard passes dashboards/lint.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboards.lint import lint

ROOT = Path(__file__).resolve().parents[2] / "dashboards" / "json"
FILES = sorted(ROOT.glob("**/*.json"))


def test_there_are_dashboards() -> None:
    assert FILES, f"no dashboard JSON under {ROOT}: generate it with `python -m dashboards`"


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_dashboard_passes_lint(path: Path) -> None:
    problems = lint(json.loads(path.read_text(encoding="utf-8")))
    assert not problems, "\n".join(str(p) for p in problems)
