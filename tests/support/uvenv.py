"""Fresh virtual environments for installing the project as an operator would, made with uv
(a test dependency): seconds where pip takes a minute, with the tested versions as
constraints."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.exporter import REPO


def uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    assert found, "uv is a test dependency: reinstall the test extra"
    return found


def make(venv: Path, *requirements: str) -> Path:
    """A new environment at ``venv`` with ``requirements`` installed, and nothing else."""
    subprocess.run(
        [uv(), "venv", "-q", "--python", sys.executable, str(venv)],
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [
            uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
            "--constraint", str(REPO / "constraints.txt"), *requirements,
        ],
        check=False,
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return venv


def packages(venv: Path) -> set[str]:
    """The distributions installed in ``venv``, by normalised name."""
    listed = subprocess.run(
        [uv(), "pip", "list", "--python", str(venv / "bin" / "python"), "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    )
    return {row["name"].lower().replace("_", "-") for row in json.loads(listed.stdout)}
