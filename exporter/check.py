"""``openstack-telemetry-exporter check``: each enabled collector says, per backend, whether
it is usable and, if not, why, in one line; the status is 0 only when every line is ok.

The collectors do the reaching (``Plugin.check``, optional), each within its own timeouts;
this module only runs them, prints aligned columns and a summary, and picks the exit status.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple, TextIO

from exporter.collectors.plugin import CheckResult
from exporter.config import Config

log = logging.getLogger(__name__)

OK, FAIL, SKIP = "ok", "FAIL", "skip"


class Line(NamedTuple):
    collector: str
    target: str
    status: str
    detail: str


def lines(config: Config) -> list[Line]:
    """Every enabled collector's results, in registry order."""
    out: list[Line] = []
    for configured in config.collectors:
        if not configured.enabled:
            continue
        name = configured.plugin.name
        results: Sequence[CheckResult] | None
        try:
            results = configured.check()
        except Exception as exc:
            # A bug in one collector's check must not hide the others' lines.
            log.exception("check crashed", extra={"collector": name})
            results = [CheckResult(name, "-", False, f"internal error: {type(exc).__name__}")]
        if results is None:
            out.append(Line(name, "-", SKIP, "this collector has no check"))
            continue
        out.extend(Line(r.collector, r.target, OK if r.ok else FAIL, r.detail) for r in results)
    return out


def render(found: Sequence[Line]) -> list[str]:
    """Aligned columns (collector, target, status, detail), then the summary line."""
    if not found:
        return ["nothing to check: no collector is enabled"]
    widths = [max(len(line[i]) for line in found) for i in range(3)]
    rows = [
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(line[:3], widths, strict=True)), line[3]]
        ).rstrip()
        for line in found
    ]
    failed = sum(line.status == FAIL for line in found)
    checked = sum(line.status != SKIP for line in found)
    noun = "check" if checked == 1 else "checks"
    summary = f"{failed} of {checked} {noun} failed" if failed else f"{checked} {noun}, all ok"
    return [*rows, summary]


def passed(found: Sequence[Line]) -> bool:
    """Exit 0 needs at least one check and no failure."""
    return any(line.status == OK for line in found) and not any(
        line.status == FAIL for line in found
    )


def run(config: Config, out: TextIO) -> int:
    found = lines(config)
    for row in render(found):
        print(row, file=out)
    out.flush()
    return 0 if passed(found) else 1
