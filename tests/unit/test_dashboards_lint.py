"""dashboards/lint.py: a small valid dashboard passes, and each rule catches what it is for,
alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dashboards.lint import RULES, lint, main

DS = {"type": "prometheus", "uid": "${datasource}"}
CPU = "libvirt_domain_info_cpu_time_seconds_total"


def _variable(name: str, query: object, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "query", "datasource": DS, "refresh": 2, "query": query} | extra


def _target(ref: str, expr: str) -> dict[str, Any]:
    return {"refId": ref, "datasource": DS, "expr": expr}


def board() -> dict[str, Any]:
    """Every kind of thing the rules look at, right: variables of four types, a row, a panel
    with two targets, a collapsed row holding a panel, a text panel."""
    return {
        "uid": "otb-test",
        "id": None,
        "title": "Test",
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                _variable("cloud", "label_values(openstack_identity_up, cloud)"),
                _variable(
                    "server",
                    {
                        "query": 'label_values(libvirt_domain_openstack_info{cloud=~"$cloud"},'
                        " instance_id)",
                        "refId": "PrometheusVariableQueryEditor-VariableQuery",
                    },
                ),
                {"name": "window", "type": "interval", "query": "5m,1h"},
                {"name": "top", "type": "custom", "query": "5,10", "current": {"value": "5"}},
            ]
        },
        "panels": [
            {"id": 1, "type": "row", "title": "Overview", "collapsed": False, "panels": []},
            {
                "id": 2,
                "type": "timeseries",
                "title": "CPU",
                "description": "CPU time per server.",
                "datasource": DS,
                "fieldConfig": {"defaults": {"unit": "percentunit"}, "overrides": []},
                "targets": [
                    _target(
                        "A", f'rate({CPU}{{instance_id=~"${{server:regex}}"}}[$__rate_interval])'
                    ),
                    _target("B", 'avg_over_time(up{cloud=~"$cloud"}[$__range])'),
                ],
            },
            {
                "id": 3,
                "type": "row",
                "title": "Details",
                "collapsed": True,
                "panels": [
                    {
                        "id": 4,
                        "type": "stat",
                        "title": "Up",
                        "description": "Targets up.",
                        "datasource": "$datasource",
                        "fieldConfig": {"defaults": {"unit": "none"}},
                        "targets": [
                            _target("A", 'topk($top, sum by (job) (up{cloud=~"[[cloud]]"}))')
                        ],
                    }
                ],
            },
            {"id": 5, "type": "text", "title": "About", "description": "What this shows."},
        ],
    }


def _var(d: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(v for v in d["templating"]["list"] if v["name"] == name)
    return found


def _cpu(d: dict[str, Any]) -> dict[str, Any]:
    panel: dict[str, Any] = d["panels"][1]
    return panel


def _nested(d: dict[str, Any]) -> dict[str, Any]:
    panel: dict[str, Any] = d["panels"][2]["panels"][0]
    return panel


def _set_expr(expr: str) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        _cpu(d)["targets"][0]["expr"] = expr

    return change


def _set_query(query: str) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        _var(d, "cloud")["query"] = query

    return change


@dataclass(frozen=True)
class Case:
    rule: str
    name: str
    change: Callable[[dict[str, Any]], None]


CASES = [
    Case(
        "template-datasource-rule",
        "missing",
        lambda d: d["templating"]["list"].pop(0),
    ),
    Case(
        "template-datasource-rule",
        "not prometheus",
        lambda d: _var(d, "datasource").update(query="loki"),
    ),
    Case(
        "panel-datasource-rule",
        "panel on a fixed uid",
        lambda d: _cpu(d).update(datasource={"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}),
    ),
    Case(
        "panel-datasource-rule",
        "nested panel on the default",
        lambda d: _nested(d).pop("datasource"),
    ),
    Case(
        "panel-datasource-rule",
        "target on a fixed uid",
        lambda d: _cpu(d)["targets"][1].update(datasource={"uid": "prom"}),
    ),
    Case(
        "panel-datasource-rule",
        "query variable on a fixed name",
        lambda d: _var(d, "cloud").update(datasource="Prometheus"),
    ),
    Case("panel-no-targets-rule", "empty", lambda d: _cpu(d).update(targets=[])),
    Case("target-promql-rule", "unclosed", _set_expr("sum(rate(up[$__rate_interval])")),
    Case("target-promql-rule", "empty", _set_expr(" ")),
    Case("target-promql-rule", "unknown variable", _set_expr("topk($nowhere, up)")),
    Case("target-rate-interval-rule", "rate 5m", _set_expr(f"rate({CPU}[5m])")),
    Case("target-rate-interval-rule", "increase range", _set_expr(f"increase({CPU}[$__range])")),
    Case("target-rate-interval-rule", "deriv interval", _set_expr("deriv(up[$__interval])")),
    Case("target-rate-interval-rule", "irate variable", _set_expr(f"irate({CPU}[$window])")),
    Case("target-rate-interval-rule", "subquery", _set_expr("rate(sum(up)[5m:])")),
    Case(
        "target-rate-interval-rule",
        "nested",
        _set_expr(f"sum(delta(up[1m])) / sum(rate({CPU}[$__rate_interval]))"),
    ),
    Case(
        "panel-units-rule",
        "missing",
        lambda d: _cpu(d)["fieldConfig"]["defaults"].pop("unit"),
    ),
    Case(
        "panel-units-rule",
        "unknown",
        lambda d: _nested(d)["fieldConfig"]["defaults"].update(unit="percentage"),
    ),
    Case(
        "panel-units-rule",
        "unknown override",
        lambda d: _cpu(d)["fieldConfig"]["overrides"].append(
            {
                "matcher": {"id": "byName", "options": "B"},
                "properties": [{"id": "unit", "value": "sec"}],
            }
        ),
    ),
    Case(
        "template-on-time-change-reload-rule",
        "on load",
        lambda d: _var(d, "server").update(refresh=1),
    ),
    Case(
        "template-label-promql-rule", "bad selector", _set_query("label_values(up{cloud=, cloud)")
    ),
    Case("template-label-promql-rule", "bad label", _set_query("label_values(up, 1cloud)")),
    Case(
        "template-label-promql-rule",
        "not a selector",
        _set_query("label_values(rate(up[5m]), job)"),
    ),
    Case("template-label-promql-rule", "query_result", _set_query("query_result(sum(up)")),
    Case("template-label-promql-rule", "bare selector", _set_query("up{")),
    Case("template-label-promql-rule", "empty", _set_query("")),
    Case(
        "panel-title-description-rule",
        "no description",
        lambda d: _nested(d).update(description=" "),
    ),
    Case("panel-title-description-rule", "untitled row", lambda d: d["panels"][0].update(title="")),
    Case("uid-rule", "no uid", lambda d: d.pop("uid")),
    Case("uid-rule", "too long", lambda d: d.update(uid="x" * 41)),
    Case("uid-rule", "slash", lambda d: d.update(uid="otb/test")),
    Case("uid-rule", "numeric id", lambda d: d.update(id=12)),
    Case("panel-id-rule", "duplicate", lambda d: _nested(d).update(id=2)),
    Case("panel-id-rule", "missing", lambda d: d["panels"][3].pop("id")),
    Case("target-refid-rule", "duplicate", lambda d: _cpu(d)["targets"][1].update(refId="A")),
    Case("target-refid-rule", "missing", lambda d: _nested(d)["targets"][0].pop("refId")),
]


def test_valid_dashboard_passes() -> None:
    assert lint(board()) == []


def test_every_rule_has_a_case() -> None:
    assert {c.rule for c in CASES} == set(RULES)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}:{c.name}" for c in CASES])
def test_each_rule_alone(case: Case) -> None:
    d = board()
    case.change(d)
    problems = lint(d)
    assert problems, case
    assert {p.rule for p in problems} == {case.rule}, [str(p) for p in problems]


def test_problem_names_dashboard_and_place() -> None:
    d = board()
    _nested(d)["fieldConfig"]["defaults"]["unit"] = "percentage"
    (problem,) = lint(d)
    assert (problem.dashboard, problem.where, problem.rule) == (
        "otb-test",
        'panel 4 "Up"',
        "panel-units-rule",
    )
    assert "'percentage'" in problem.message
    assert str(problem).startswith('otb-test: panel 4 "Up": panel-units-rule: ')


@pytest.mark.parametrize(
    "expr",
    [
        # Every form of reference, and Grafana's built-ins, wherever they may stand.
        'sum(up{cloud=~"$cloud", a=~"${cloud}", b=~"${cloud:regex}", c=~"[[cloud]]"})',
        'sum(up{instance=~"[[server:pipe]]"} @ ${__to:date:seconds})',
        "sum_over_time(up[$window]) * $__interval_ms / $__range_ms + $__range_s",
        "max_over_time(up[$__interval]) > bool $top",
        # $1 is label_replace's, not a variable: Grafana leaves unknown names alone.
        'label_replace(up, "host", "$1", "instance", "(.*):.*")',
        # Only the rate family must use $__rate_interval.
        "changes(up[1h]) + resets(up[$__range]) + predict_linear(up[6h], 3600)",
        f"avg_over_time(rate({CPU}[$__rate_interval])[$__range:])",
        f"increase({CPU}[$__rate_interval] offset 1h)",
    ],
)
def test_expressions_that_pass(expr: str) -> None:
    d = board()
    _cpu(d)["targets"][0]["expr"] = expr
    assert lint(d) == []


@pytest.mark.parametrize(
    "query",
    [
        "label_values(cloud)",
        "label_values($cloud)",
        'label_values(up{job="a", instance=~"$server"}, instance)',
        "label_names()",
        'label_names(up{job="a"})',
        "query_result(topk(5, sum by (cloud) (up)))",
        "metrics(openstack_.*)",
        'up{job="a"}',
    ],
)
def test_variable_queries_that_pass(query: str) -> None:
    d = board()
    _var(d, "cloud")["query"] = query
    assert lint(d) == []


def test_rate_interval_problem_shows_the_range() -> None:
    d = board()
    _cpu(d)["targets"][0]["expr"] = f"rate({CPU}[5m]) + irate(up[30s])"
    assert [p.message for p in lint(d)] == [
        "rate(…[5m]): use [$__rate_interval]",
        "irate(…[30s]): use [$__rate_interval]",
    ]


def test_legacy_rows_are_linted() -> None:
    d = board()
    d["rows"] = [{"panels": [{"id": 9, "type": "graph", "title": "Old", "targets": []}]}]
    assert {(p.where, p.rule) for p in lint(d)} == {
        ('panel 9 "Old"', "panel-datasource-rule"),
        ('panel 9 "Old"', "panel-no-targets-rule"),
        ('panel 9 "Old"', "panel-units-rule"),
        ('panel 9 "Old"', "panel-title-description-rule"),
    }


def test_cli_prints_problems_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(board()))
    d = board()
    d["id"] = 7
    bad.write_text(json.dumps(d))
    assert main([str(good)]) == 0
    assert capsys.readouterr().out == ""
    assert main([str(good), str(bad)]) == 1
    assert capsys.readouterr().out == (
        f"{bad}: otb-test: dashboard: uid-rule: id 7; want null (Grafana assigns it)\n"
    )


def test_cli_exits_2_on_what_is_not_a_dashboard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken, listed = tmp_path / "broken.json", tmp_path / "list.json"
    broken.write_text("{")
    listed.write_text("[]")
    assert main([str(broken), str(listed), str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert f"{broken}: cannot read" in err
    assert f"{listed}: not a dashboard" in err
    assert "missing.json: cannot read" in err
    assert main([]) == 2
