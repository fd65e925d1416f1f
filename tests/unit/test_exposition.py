"""Our text renderer means exactly what prometheus_client's would, and stays valid."""

from __future__ import annotations

import math

import pytest
from prometheus_client.core import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from exporter.exposition import RenderedFamily, format_value, join_families, render, render_families
from exporter.metric import MetricFamily, counter, gauge

ROWS = [
    (('quote " here', "back\\slash"), 1.5),
    (("new\nline", "plain"), -0.0),
    (("inf", "x"), math.inf),
    (("ninf", "x"), -math.inf),
    (("unicodé ✓", "x"), 1e-9),
    (("%s %d", "{}"), 2.0),
]
HELP = 'Help with \\ backslash\nand "newline".'


def ours() -> list[MetricFamily]:
    g = gauge("x_bytes", HELP, ["a", "b"])
    for labels, value in ROWS:
        g.add(labels, value)
    c = counter("y_total", "A counter.", ["c"])
    c.add(["1"], 12345678901234.0)
    return [g, c, gauge("z", "No labels.", value=3.0)]


def theirs() -> list[Metric]:
    g = GaugeMetricFamily("x_bytes", HELP, labels=["a", "b"])
    for labels, value in ROWS:
        g.add_metric(list(labels), value)
    c = CounterMetricFamily("y_total", "A counter.", labels=["c"])
    c.add_metric(["1"], 12345678901234.0)
    return [g, c, GaugeMetricFamily("z", "No labels.", value=3.0)]


class _Static:
    def collect(self) -> list[Metric]:
        return theirs()


def _parsed(text: str) -> list[tuple[str, str, str, list[tuple[str, dict[str, str], float]]]]:
    return [
        (f.name, f.type, f.documentation, [(s.name, s.labels, s.value) for s in f.samples])
        for f in text_string_to_metric_families(text)
    ]


def test_same_meaning_as_prometheus_client() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Static())
    assert _parsed(render(ours()).decode()) == _parsed(generate_latest(registry).decode())


def test_text_details() -> None:
    text = render(ours()).decode()
    assert '# HELP x_bytes Help with \\\\ backslash\\nand "newline".' in text
    assert 'x_bytes{a="quote \\" here",b="back\\\\slash"} 1.5' in text
    assert 'x_bytes{a="new\\nline",b="plain"} -0.0' in text
    assert 'x_bytes{a="%s %d",b="{}"} 2.0' in text
    assert "# TYPE y_total counter" in text
    assert 'y_total{c="1"} 12345678901234.0' in text
    assert "z 3.0" in text
    assert text.endswith("\n")


def test_format_value_special_cases() -> None:
    assert [format_value(v) for v in (math.inf, -math.inf, math.nan, 2.0, 1e-9)] == [
        "+Inf",
        "-Inf",
        "NaN",
        "2.0",
        "1e-09",
    ]


@pytest.mark.parametrize(
    ("name", "kind", "labels"),
    [
        ("bad-name", "gauge", ()),
        ("ok", "gauge", ("bad-label",)),
        ("c", "counter", ()),
        ("ok", "histogram", ()),
    ],
)
def test_invalid_families_are_refused(name: str, kind: str, labels: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=r"invalid|must end|unsupported"):
        MetricFamily(name, "h", kind, labels)


def _cloud_part(cloud: str) -> list[RenderedFamily]:
    up = gauge("svc_up", "Up.", ["cloud"])
    up.add([cloud], 1.0)
    return render_families([up, gauge(f"only_{cloud}", "Only here.", value=2.0)])


def test_parts_sharing_a_family_merge_into_one_block() -> None:
    text = join_families([_cloud_part("a"), _cloud_part("b")]).decode()
    assert text.count("# TYPE svc_up gauge") == 1
    lines = text.splitlines()
    first = lines.index('svc_up{cloud="a"} 1.0')
    assert lines[first + 1] == 'svc_up{cloud="b"} 1.0'
    assert "only_a 2.0" in lines
    assert "only_b 2.0" in lines
