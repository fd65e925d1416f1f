"""tests/support/grafana.py without a server: the fixture dashboard's variables resolved over
label values recorded from the demo stack's Prometheus, and its queries interpolated as
Grafana's Prometheus datasource does."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from tests.support import grafana

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "dashboards"
RECORDED = Path(__file__).resolve().parent / "fixtures" / "grafana_recorded.json"
NOW = 1_796_432_000.0
SCRAPE = 5.0


class Recorded:
    """A ``grafana.Source`` answering from recorded series: selectors are matched with
    their parsed matchers, as Prometheus would; anything else is refused."""

    def __init__(self, path: Path) -> None:
        doc = json.loads(path.read_text())
        self.recorded: list[dict[str, Any]] = doc["series"]
        self.names: list[str] = doc["names"]
        self.asked: list[str] = []

    def _select(self, expr: str) -> list[dict[str, Any]]:
        self.asked.append(expr)
        node = promql_parser.parse(expr)
        if not isinstance(node, promql_parser.VectorSelector):
            raise grafana.QueryError(f"the recording answers selectors only: {expr}")
        found = []
        for item in self.recorded:
            labels = item["metric"]
            if node.name and labels.get("__name__") != node.name:
                continue
            if all(_matches(m, labels.get(m.name, "")) for m in node.matchers.matchers):
                found.append(item)
        return found

    def label_values(self, label: str, match: str | None, start: float, end: float) -> list[str]:
        if label == "__name__" and match is None:
            return list(self.names)
        items = self._select(match) if match else self.recorded
        return sorted({i["metric"][label] for i in items if label in i["metric"]})

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        return [dict(i["metric"]) for i in self._select(match)]

    def instant(self, expr: str, at: float) -> dict[str, Any]:
        result = [{"metric": i["metric"], "value": [at, i["value"]]} for i in self._select(expr)]
        return {"resultType": "vector", "result": result}

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Any]:
        raise AssertionError("no range query without a server")


def _matches(matcher: promql_parser.Matcher, value: str) -> bool:
    op = matcher.op
    if op == promql_parser.MatchOp.Equal:
        return bool(value == matcher.value)
    if op == promql_parser.MatchOp.NotEqual:
        return bool(value != matcher.value)
    found = re.fullmatch(matcher.value, value) is not None
    return found if op == promql_parser.MatchOp.Re else not found


@pytest.fixture
def source() -> Recorded:
    return Recorded(RECORDED)


@pytest.fixture
def dashboard() -> grafana.Dashboard:
    [only] = grafana.load(FIXTURE)
    return only


def resolver(source: Recorded, scrape: float = SCRAPE) -> grafana.Resolver:
    return grafana.Resolver(source, scrape=scrape, now=NOW)


def test_variables_resolve_in_order_each_substituted_into_the_next(
    source: Recorded, dashboard: grafana.Dashboard
) -> None:
    found = resolver(source).variables(dashboard)
    assert list(found) == [
        "datasource", "job", "instance", "collector", "project", "server",
        "domain_metric", "quantile", "cloud", "window",
    ]  # fmt: skip
    jobs = ["openstack-telemetry-central", "openstack-telemetry-exporter"]
    assert found["job"].options == jobs
    assert found["job"].is_all
    # All without allValue: every value, regex-escaped, in one group.
    assert found["instance"].query == (
        f'label_values(openstack_exporter_collector_success{{job=~"({"|".join(jobs)})"}}, instance)'
    )
    assert found["instance"].options == ["127.0.0.1:42467", "127.0.0.1:53399"]
    # query_result's texts through the variable's regex: its first group.
    assert found["collector"].options == [
        "gnocchi:testbed",
        "libvirt",
        "openstack:testbed:health",
        "openstack:testbed:inventory",
    ]
    # The saved current value is kept while it is offered; the next one chains on it.
    assert found["project"].selected == ["data-platform"]
    assert found["server"].query == (
        'label_values(libvirt_domain_openstack_info{project_name="data-platform"}, instance_name)'
    )
    assert found["server"].selected == ["kafka-01"]
    assert found["domain_metric"].options == ["libvirt_domain_info_cpu_time_seconds_total"]
    assert (found["quantile"].selected, found["cloud"].selected) == (["0.9"], ["testbed"])
    assert found["window"].options == ["1m", "5m", "10m"]
    assert found["window"].selected == ["5m"]
    assert found["datasource"].selected == ["prometheus"]


def test_targets_are_interpolated_as_grafana_sends_them(
    source: Recorded, dashboard: grafana.Dashboard
) -> None:
    targets = {(t.panel, t.ref_id): t for t in resolver(source).targets(dashboard)}
    # The hidden target and the server-side expression are not run; collapsed rows count.
    assert sorted(targets) == [
        ("API requests", "A"),
        ("API requests", "B"),
        ("Cloud", "A"),
        ("Collectors up", "A"),
        ("Failing collectors", "A"),
        ("Hidden and other sources", "C"),
        ("Server CPU", "A"),
        ("Server CPU", "B"),
    ]
    jobs = "(openstack-telemetry-central|openstack-telemetry-exporter)"
    collectors = "(gnocchi:testbed|libvirt|openstack:testbed:health|openstack:testbed:inventory)"
    assert targets["API requests", "A"].expr == (
        "sum by (service_type) (rate(openstack_exporter_api_requests_total"
        f'{{job=~"{jobs}", instance=~".*"}}[20s]))'
    )
    assert targets["API requests", "B"].expr == f'avg_over_time(up{{job=~"{jobs}"}}[5s])'
    assert targets["Collectors up", "A"].expr == (
        f'count(openstack_exporter_collector_success{{collector=~"{collectors}"}} == 1)'
    )
    assert targets["Server CPU", "A"].expr.endswith(
        '{project_name="data-platform", instance_name="kafka-01"}'
    )
    assert targets["Server CPU", "B"].expr == "max_over_time(libvirt_up[5m])"
    assert targets["Cloud", "A"].instant
    assert targets["Failing collectors", "A"].key == ("otb-fixture", "Failing collectors")
    assert targets["Hidden and other sources", "C"].expr == (
        "count(libvirt_domain_info_cpu_time_seconds_total)"
    )
    for target in targets.values():
        promql_parser.parse(target.expr)  # parses once substituted
        assert "$" not in target.expr, target.expr


def test_rate_interval_follows_the_datasources_scrape_interval(
    source: Recorded, dashboard: grafana.Dashboard
) -> None:
    targets = resolver(source, 15.0).targets(dashboard)
    cpu = next(t for t in targets if (t.panel, t.ref_id) == ("Server CPU", "A"))
    # 30 minutes over 1,000 points is 1.8 s, below the 15 s scrape: max(15 + 15, 4 x 15).
    assert "[1m0s]" in cpu.expr
    assert (cpu.timing.step, cpu.timing.rate_interval) == (15.0, 60.0)
    assert cpu.timing.end == NOW - NOW % 15
    assert cpu.timing.end - cpu.timing.start == 1800.0


def test_timing_as_grafana_computes_it() -> None:
    hour = grafana.Timing.of(NOW - 3600, NOW, 5.0)
    assert (hour.step, hour.rate_interval) == (5.0, 20.0)
    assert hour.builtins()["__interval"] == "5s"
    assert hour.builtins()["__rate_interval"] == "20s"
    assert hour.builtins()["__range_s"] == "3600"
    # A week: 604.8 s a point, rounded to 10 minutes.
    week = grafana.Timing.of(NOW - 7 * 86400, NOW, 15.0)
    assert (week.step, week.builtins()["__interval"]) == (600.0, "10m")
    assert week.rate_interval == 615.0
    assert week.builtins()["__rate_interval"] == "10m15s"
    # A panel's minimum interval raises the step and the browser's interval; the rate
    # interval adds the datasource's scrape interval to it.
    gnocchi = grafana.Timing.of(NOW - 3600, NOW, 5.0, panel_min=120.0)
    assert (gnocchi.step, gnocchi.rate_interval) == (120.0, 125.0)
    assert gnocchi.start % 120 == 0
    assert gnocchi.end % 120 == 0
    # A query's own minimum step stands for the scrape interval.
    stepped = grafana.Timing.of(NOW - 3600, NOW, 5.0, target_min=30.0)
    assert (stepped.step, stepped.rate_interval) == (30.0, 120.0)


def test_formats_and_escapes() -> None:
    many = grafana.Variable("v", "query", ["a.b", "c|d"], [grafana.ALL], True, True)
    assert grafana.interpolate("$v", {"v": many}) == "(a\\\\.b|c\\\\|d)"
    assert grafana.interpolate("${v:regex}", {"v": many}) == "(a\\.b|c\\|d)"
    assert grafana.interpolate("${v:pipe} [[v:csv]]", {"v": many}) == "a.b|c|d a.b,c|d"
    assert grafana.interpolate("${v:json}", {"v": many}) == '["a.b", "c|d"]'
    custom_all = grafana.Variable("v", "query", ["a"], [grafana.ALL], True, True, ".*")
    assert grafana.interpolate('x{a=~"$v"}', {"v": custom_all}) == 'x{a=~".*"}'
    one = grafana.Variable("v", "query", ["it's"], ["it's"])
    assert grafana.interpolate("$v", {"v": one}) == "it\\\\'s"
    # label_replace's "$1" and unknown names stay as they are.
    text = 'label_replace(x, "a", "$1", "b", "(.*)") + $nothing'
    assert grafana.interpolate(text, {"v": one}) == text
    with pytest.raises(ValueError, match="format"):
        grafana.interpolate("${v:nonsense}", {"v": one})


def test_regex_keeps_what_grafana_keeps() -> None:
    texts = ['up{job="a"} 1 1000', 'up{job="b"} 1 1000', "other"]
    assert grafana.apply_regex(texts, '/job="([^"]+)"/') == ["a", "b"]
    assert grafana.apply_regex(texts, '/job="(?<value>[^"]+)"/') == ["a", "b"]
    assert grafana.apply_regex(["a1b2"], "/[a-z](\\d)/g") == ["1", "2"]
    assert grafana.apply_regex(["Keep", "drop"], "/^k/i") == ["Keep"]
    assert grafana.sort_values(["b10", "B2", "a1"], 5) == ["a1", "b10", "B2"]
    assert grafana.sort_values(["b10", "B2", "a1"], 3) == ["a1", "B2", "b10"]
    assert grafana.sort_values(["x10", "x9"], 7) == ["x9", "x10"]


def test_current_value_no_longer_offered_falls_back() -> None:
    assert grafana._select(["a", "b"], ["gone"], multi=False, include_all=False) == ["a"]
    assert grafana._select(["a", "b"], ["gone"], multi=True, include_all=True) == [grafana.ALL]
    assert grafana._select(["a", "b"], ["b", "gone"], multi=True, include_all=True) == ["b"]
    assert grafana._select([], [], multi=False, include_all=False) == []


def test_metric_names_of_a_query() -> None:
    names = grafana.metric_names(
        'sum(rate(a_total[5m])) / on (x) b or {__name__=~"c_.*_up"} or {__name__="d"}'
    )
    assert names.literal == {"a_total", "b", "d"}
    assert names.patterns == {"c_.*_up"}


def test_time_range_of_a_dashboard(dashboard: grafana.Dashboard) -> None:
    assert dashboard.time_range(NOW) == (NOW - 1800, NOW)
    assert grafana.parse_time("now-1d/d", 86400 * 10 + 5) == 86400 * 9
    assert grafana.parse_time("1700000000000", NOW) == 1_700_000_000.0
