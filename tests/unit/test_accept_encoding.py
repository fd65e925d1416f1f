"""Content-coding negotiation for /metrics."""

from __future__ import annotations

import pytest

from exporter.server import choose_encoding


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "identity"),
        ("", "identity"),
        ("gzip", "gzip"),
        ("gzip, deflate, br", "gzip"),
        ("GZIP;q=0.5", "gzip"),
        ("deflate", "identity"),
        ("br;q=1, identity;q=0.5", "identity"),
        ("*", "gzip"),
        ("gzip;q=0", "identity"),
        ("identity;q=0", None),
        ("identity;q=0, *;q=0", None),
        ("*;q=0", None),
        ("*;q=0, gzip", "gzip"),
        ("gzip;q=banana", "identity"),
        ("gzip;q=7", "identity"),
        (",,;;,", "identity"),
        ("\x00\xff", "identity"),
        ("identity;q=0, gzip;q=nope", None),
    ],
)
def test_choose_encoding(header: str | None, expected: str | None) -> None:
    assert choose_encoding(header) == expected
