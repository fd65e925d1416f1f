"""The core knows collectors only through the plug-in API, so a new one never edits it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CORE = ("cli.py", "config.py", "scheduler.py", "snapshot.py", "server.py", "check.py")
PLUGIN_API = {"base", "plugin", "registry"}
PACKAGE = Path(__file__).resolve().parents[2] / "exporter"


@pytest.mark.parametrize("module", CORE)
def test_core_module_does_not_mention_libvirt(module: str) -> None:
    text = (PACKAGE / module).read_text(encoding="utf-8")
    assert "libvirt" not in text.lower()


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_only_the_plugin_api(module: str) -> None:
    text = (PACKAGE / module).read_text(encoding="utf-8")
    used = set(re.findall(r"exporter\.collectors\.(\w+)", text))
    assert used <= PLUGIN_API
