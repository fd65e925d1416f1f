"""A small tmpfs the test mounts (root only) and fills to the last byte: a full disk under
the bridge's state file, made and undone on cue."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import require


@contextmanager
def small_tmpfs(mountpoint: Path, size: str = "4m") -> Iterator[Path]:
    """``mountpoint`` as a tmpfs of ``size``, unmounted at the end."""
    require(os.geteuid() == 0, "mounting a tmpfs needs root")
    mountpoint.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mountpoint)],
        check=True,
    )
    try:
        yield mountpoint
    finally:
        done = subprocess.run(["umount", str(mountpoint)], check=False)
        if done.returncode != 0:  # still in use by a process that is going away
            subprocess.run(["umount", "--lazy", str(mountpoint)], check=True)


def fill(directory: Path) -> Path:
    """Write a file in ``directory`` until the file system is full; delete it to free it."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    block = b"\0" * 4096
    try:
        while True:
            os.write(fd, block)
    except OSError as exc:
        if exc.errno != 28:  # ENOSPC: what we are after
            raise
    finally:
        os.close(fd)
    return filler
