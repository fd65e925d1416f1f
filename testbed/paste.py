"""Copies of a service's own api-paste.ini that point keystonemiddleware at our config file.

Gnocchi and Aodh load keystonemiddleware's auth_token filter with ``oslo_config_project``
only; the filter then reads its options from the default config locations (none here)
instead of the file we wrote. ``oslo_config_file`` in the filter section fixes that.
"""

from __future__ import annotations

from pathlib import Path

from testbed.bed import Bed, ServiceError


def with_config_file(bed: Bed, service: str, packaged: str, section: str, conf: Path) -> Path:
    """``packaged`` (path under site-packages) copied next to ``conf``, filter ``section`` fixed."""
    found = sorted(bed.venv.glob(f"lib/python3*/site-packages/{packaged}"))
    if not found:
        raise ServiceError(service, f"no {packaged} under {bed.venv}")
    header = f"[{section}]\n"
    text = found[0].read_text()
    if header not in text:
        raise ServiceError(service, f"{found[0]} has no [{section}] section")
    paste = conf.parent / "api-paste.ini"
    paste.write_text(text.replace(header, f"{header}oslo_config_file = {conf}\n"))
    return paste
