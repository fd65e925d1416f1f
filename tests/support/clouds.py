"""A throw-away clouds.yaml and collector config file, for config tests of the OpenStack
collectors: nothing connects before the first cycle, so no cloud needs to exist."""

from __future__ import annotations

from pathlib import Path

import pytest

CLOUDS_YAML = """\
clouds:
  east:
    auth: {auth_url: "http://127.0.0.1:9/v3", username: u, password: pw-east, project_name: p}
  west:
    auth: {auth_url: "http://127.0.0.1:9/v3", username: u, password: pw-west, project_name: p}
"""


def use_clouds_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clouds.yaml with two clouds, and no $OS_CLOUD unless a test sets one."""
    path = tmp_path / "clouds.yaml"
    path.write_text(CLOUDS_YAML)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    monkeypatch.delenv("OS_CLOUD", raising=False)
    return path


def collector_file(tmp_path: Path, collector: str, body: str) -> str:
    """A config file whose ``collectors.<collector>`` section is ``body`` (YAML)."""
    path = tmp_path / "config.yml"
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    path.write_text(f"collectors:\n  {collector}:\n{indented}")
    return str(path)
