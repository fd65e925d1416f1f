"""Missing servers: a skip on a developer's machine, a failure in CI."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip (outside CI) or fail (under ``CI=true``) when a needed server cannot run."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"required for CI: {reason}")
    pytest.skip(reason)
