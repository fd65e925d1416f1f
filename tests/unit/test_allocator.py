"""The allocator's settings reach glibc here (Debian), and leave the operator's own alone."""

from __future__ import annotations

import platform

import pytest

from otb_common import allocator


def test_glibc_is_found_on_this_machine() -> None:
    if platform.libc_ver()[0] != "glibc":
        pytest.fail(f"this test expects glibc, found {platform.libc_ver()}")
    assert allocator._LIBC is not None


def test_the_arena_limit_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert allocator.share_arenas() is True


def test_an_operators_malloc_arena_max_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert allocator.share_arenas() is False


def test_trim_gives_freed_memory_back() -> None:
    """Blocks freed between blocks still in use stay resident until trimmed: the heap's top
    is not free, so glibc cannot shrink it by itself."""

    def rss_kib() -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    allocator.trim()
    before = rss_kib()
    blocks = [bytearray(4000) for _ in range(50_000)]  # about 200 MB below mmap's threshold
    kept = blocks[::10]
    del blocks
    freed = rss_kib()
    allocator.trim()
    trimmed = rss_kib()
    assert len(kept) == 5_000
    assert freed - before > 150_000  # nine blocks in ten free, yet still resident
    assert trimmed - before < 80_000, (before, freed, trimmed)
