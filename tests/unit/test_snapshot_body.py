"""The snapshot's body: the rendered parts' own bytes in order, never a joined copy of them."""

from __future__ import annotations

import gzip

from exporter.exposition import family_chunks, join_families, render_families
from exporter.metric import MetricFamily, gauge
from exporter.snapshot import COALESCE_BELOW, CollectorStatus, Snapshot, build_body
from tests.support.metrics import parse_samples


def big_family(name: str, rows: int) -> MetricFamily:
    family = gauge(name, "Rows enough for a block over the coalescing size.", ["resource_id"])
    for i in range(rows):
        family.add([f"resource-{i:08d}"], float(i))
    return family


def test_large_sample_blocks_are_served_as_rendered_not_copied() -> None:
    part = render_families([big_family("a_bytes", 5000), gauge("small", "One.", value=1.0)])
    assert len(part[0].samples) >= COALESCE_BELOW
    snapshot = Snapshot(["c"])
    snapshot.publish("c", CollectorStatus(success=True, has_data=True), part)
    body = snapshot.body()
    assert any(chunk is part[0].samples for chunk in body.chunks)
    # Headers and small families are joined into few chunks, not one write each.
    assert len(body.chunks) <= 3
    assert body.length == sum(map(len, body.chunks))


def test_plain_and_gzip_say_the_same_as_the_joined_exposition() -> None:
    parts = [
        render_families([big_family("a_bytes", 3000), gauge("b", "B.", value=2.0)]),
        render_families([big_family("a_bytes", 10), gauge("c", "C.", value=3.0)]),
    ]
    body = build_body(family_chunks(parts))
    joined = join_families(parts)
    assert body.plain() == joined
    assert gzip.decompress(body.gzipped) == joined
    lines = joined.decode().splitlines()
    # The family both parts have is one block: one header, then the first part's samples.
    assert lines.count("# TYPE a_bytes gauge") == 1
    block = [line for line in lines if line.startswith("a_bytes{")]
    assert len(block) == 3010
    start = lines.index(block[0])
    assert lines[start : start + 3010] == block
    assert parse_samples(joined.decode())[("b", frozenset())] == 2.0


def test_an_empty_body_is_valid_gzip() -> None:
    body = build_body([])
    assert body.chunks == ()
    assert body.length == 0
    assert gzip.decompress(body.gzipped) == b""
