"""glibc's allocator, asked to share its arenas between threads and to give freed memory back.

The exporter's cycles build large, short-lived structures on several threads (a parsed
Gnocchi answer is many times its JSON, a rendered exposition is megabytes). glibc gives each
thread an arena of its own, up to eight per core; memory freed in one arena is not reused by
another thread, and is not returned to the system until trimmed. The process then keeps the
peak of every thread at once. Two arenas and a trim after each published cycle took the
gnocchi collector at 5,000 servers from about 250 MB over its start to 155-175 MB, and what
its cycles leave resident from about 158 to 82 MB (``bench/bench_gnocchi_memory.py``). A
trim costs about 3 ms there.

Elsewhere than glibc (musl) both calls do nothing. ``MALLOC_ARENA_MAX`` in the environment
is the operator's choice and is left as it is.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols, the C library's among them
    except OSError:
        return None
    if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
        return None
    return libc


_LIBC = _glibc()


def share_arenas(arenas: int = ARENAS) -> bool:
    """Call before threads start. Whether the limit was set."""
    if _LIBC is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(_LIBC.mallopt(M_ARENA_MAX, arenas))


def trim() -> None:
    """Hand the free memory at the top of the heaps and in free pages back to the system."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
