"""Lint Grafana dashboard JSON: the rules of grafana/dashboard-linter that fit our dashboards.

``lint(dashboard)`` takes one dashboard as parsed JSON and returns its problems; nothing is
read or written. ``python -m dashboards.lint FILE...`` prints one line per problem and exits 1
if there is any (2 when a file cannot be read as JSON).

Rules, by the names dashboard-linter gives them (the last three are ours):

- ``template-datasource-rule``: a variable ``datasource`` of type ``datasource`` over
  ``prometheus``. File provisioning ignores ``__inputs``, so without it every panel would be
  tied to one data source uid.
- ``panel-datasource-rule``: every panel that queries, each of its targets, and every query
  variable use that variable (``${datasource}`` or ``$datasource``).
- ``panel-no-targets-rule``: a panel that shows data has at least one target.
- ``target-promql-rule``: every ``expr`` parses, once each variable (``$var``, ``${var}``,
  ``${var:format}``, ``[[var]]``) and each of Grafana's built-ins (``$__rate_interval``,
  ``$__interval``, ``$__range`` and their ``_s``/``_ms`` forms, ``$__auto``, ``$__from``,
  ``$__to``) has been given a value of the right kind.
- ``target-rate-interval-rule``: ``rate``, ``irate``, ``increase``, ``delta``, ``idelta`` and
  ``deriv`` take ``[$__rate_interval]``, the one range that always holds at least two samples
  whatever the zoom and scrape interval. Other functions may take any range: ``*_over_time``,
  ``changes``, ``resets`` or ``predict_linear`` over ``$__range`` ("over the whole time range"
  panels) or a fixed window mean what they say.
- ``panel-units-rule``: every panel that shows data has ``fieldConfig.defaults.unit`` (and every
  unit override) set to a unit Grafana knows, or to one of its custom units (``suffix:…``).
- ``template-on-time-change-reload-rule``: every query variable has ``refresh: 2``, so its
  values follow the time range (a server deleted last week drops out of the list).
- ``template-label-promql-rule``: a query variable's ``label_values(selector, label)``,
  ``label_names(selector)``, ``query_result(expr)`` or bare selector parses.
- ``panel-title-description-rule``: every panel has a title, and every panel but a row a
  description (rows cannot show one).
- ``uid-rule``: a non-empty ``uid`` of at most 40 letters, digits, ``-`` or ``_`` (Grafana's
  limits; links and provisioning follow it), and no numeric ``id`` (the id belongs to one
  Grafana database; a file that carries one overwrites whichever dashboard has it there).
- ``panel-id-rule``: every panel has an integer id, unique in the dashboard (``viewPanel=``
  links, and Grafana's own bookkeeping, use it).
- ``target-refid-rule``: every target has a refId, unique in its panel (transformations and
  overrides name targets by refId; Grafana drops one of two equal ones).

Not implemented, and why:

- ``template-job-rule``, ``template-instance-rule`` (a ``job`` and an ``instance`` variable on
  every dashboard), and ``panel-job-instance-rule``, ``target-job-rule``,
  ``target-instance-rule`` (``job=~"$job"``, ``instance=~"$instance"`` in every selector):
  they suit one exporter monitored as one job. Our series come from several jobs (the exporter
  on each hypervisor, the central openstack and gnocchi collectors, the bridge) and are told
  apart by ``cloud``, ``region``, ``project`` or ``instance_id``. A central collector's
  ``instance`` is the collector, not anything a user picks, and the dashboards join series of
  different jobs on ``instance_id``, which a ``job`` matcher on each side would empty.
- ``target-counter-agg-rule`` (a name ending in ``_total`` only inside ``rate``, ``irate``,
  ``increase``): the openstack collector keeps openstack-exporter's names, and some of them
  are gauges ending in ``_total`` (``openstack_placement_resource_total``,
  ``openstack_neutron_network_ip_availabilities_total``); the rule would flag correct queries
  and push wrong ones.
- ``uneditable-dashboard-rule`` (``editable: false``): the dashboards are file-provisioned, so
  Grafana already refuses to save changes over them; editable lets an operator explore a
  panel and keep a copy with "Save as".
- ``target-logql-rule``, ``target-logql-auto-rule``: Loki queries; we have none.
- ``target-required-matchers-rule``, ``template-required-variables-rule``: they only act on a
  configured list of matchers, and we require none beyond the rules above.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import promql_parser

Json = dict[str, Any]

# What $__rate_interval becomes before parsing: a range nobody writes, so a MatrixSelector
# with exactly this range was written as $__rate_interval.
RATE_INTERVAL = timedelta(milliseconds=123457)
_BUILTINS = {
    "__rate_interval": "123457ms",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__auto": "1m",
    "__from": "1700000000000",
    "__to": "1700003600000",
}
# ${name}, ${name.field}, ${name:format}, [[name]], [[name:format]], $name (Grafana's forms).
_REFERENCE = re.compile(
    r"\$\{(?P<braced>\w+)(?:\.[^}:]*)?(?::[^}]*)?\}"
    r"|\[\[(?P<bracketed>\w+)(?::[^\]]*)?\]\]"
    r"|\$(?P<plain>\w+)"
)
# A variable's own value is used only when it could stand anywhere a PromQL token can.
_PLAIN_VALUE = re.compile(r"[\w.:/-]+")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_UID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_DATASOURCE_REFS = frozenset({"$datasource", "${datasource}"})

RATE_FUNCTIONS = frozenset({"rate", "irate", "increase", "delta", "idelta", "deriv"})
# Panels that never query: exempt from the datasource, targets and units rules.
NO_QUERY_PANELS = frozenset({"row", "text", "alertlist", "dashlist", "news", "annolist"})

# Unit ids of Grafana 11's categories (packages/grafana-data/src/valueFormats/categories.ts):
# misc, data, data rate, date & time, time, throughput, boolean.
UNITS = frozenset(
    {
        # misc
        "none", "string", "short", "sishort", "percent", "percentunit", "humidity", "dB",
        "hex0x", "hex", "sci", "locale", "pixel",
        # data
        "bytes", "decbytes", "bits", "decbits", "kbytes", "deckbytes", "mbytes", "decmbytes",
        "gbytes", "decgbytes", "tbytes", "dectbytes", "pbytes", "decpbytes",
        # data rate
        "pps", "binBps", "Bps", "binbps", "bps", "KiBs", "Kibits", "KBs", "Kbits", "MiBs",
        "Mibits", "MBs", "Mbits", "GiBs", "Gibits", "GBs", "Gbits", "TiBs", "Tibits", "TBs",
        "Tbits", "PiBs", "Pibits", "PBs", "Pbits",
        # date & time
        "dateTimeAsIso", "dateTimeAsIsoNoDateIfToday", "dateTimeAsUS",
        "dateTimeAsUSNoDateIfToday", "dateTimeAsLocal", "dateTimeAsLocalNoDateIfToday",
        "dateTimeAsSystem", "dateTimeFromNow",
        # time
        "hertz", "ns", "µs", "ms", "s", "m", "h", "d", "dtdurationms", "dtdurations", "dthms",
        "dtdhms", "timeticks", "clockms", "clocks",
        # throughput
        "cps", "ops", "reqps", "rps", "wps", "iops", "eps", "mps", "recps", "rowsps", "cpm",
        "opm", "reqpm", "rpm", "wpm", "epm", "mpm", "recpm", "rowspm",
        # boolean
        "bool", "bool_yes_no", "bool_on_off",
    }
)  # fmt: skip
# Grafana's custom units: "suffix: req", "si:B/s", ...
_CUSTOM_UNIT = re.compile(r"(suffix|prefix|si|count|currency|time|bool):.+")

RULES = (
    "template-datasource-rule",
    "panel-datasource-rule",
    "panel-no-targets-rule",
    "target-promql-rule",
    "target-rate-interval-rule",
    "panel-units-rule",
    "template-on-time-change-reload-rule",
    "template-label-promql-rule",
    "panel-title-description-rule",
    "uid-rule",
    "panel-id-rule",
    "target-refid-rule",
)


@dataclass(frozen=True, slots=True)
class Problem:
    dashboard: str  # its uid
    where: str  # 'dashboard', 'variable NAME', 'panel ID "TITLE"', '... target REFID'
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.dashboard}: {self.where}: {self.rule}: {self.message}"


def _dicts(value: object) -> list[Json]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _panels(dashboard: Json) -> Iterator[Json]:
    """Every panel, rows' nested panels after their row; old-style ``rows`` first."""

    def walk(panels: list[Json]) -> Iterator[Json]:
        for panel in panels:
            yield panel
            yield from walk(_dicts(panel.get("panels")))

    for row in _dicts(dashboard.get("rows")):
        yield from walk(_dicts(row.get("panels")))
    yield from walk(_dicts(dashboard.get("panels")))


def _variable_value(variable: Json) -> str:
    """A value of the variable's kind that parses wherever the variable may stand."""
    kind = variable.get("type")
    if kind == "interval":
        return "5m"
    if kind in ("custom", "constant", "textbox"):
        current = variable.get("current")
        options = _dicts(variable.get("options"))
        for candidate in (
            current.get("value") if isinstance(current, dict) else None,
            options[0].get("value") if options else None,
            variable.get("query") if kind != "custom" else None,
        ):
            if isinstance(candidate, str) and _PLAIN_VALUE.fullmatch(candidate):
                return candidate
    return "value"


def _queries(panel: Json) -> bool:
    return panel.get("type") not in NO_QUERY_PANELS or bool(_dicts(panel.get("targets")))


def _describe(ref: object) -> str:
    if ref is None:
        return "none (Grafana's default data source)"
    return json.dumps(ref, sort_keys=True)


def _uses_datasource_variable(ref: object) -> bool:
    if isinstance(ref, str):
        return ref in _DATASOURCE_REFS
    if isinstance(ref, dict):
        return ref.get("uid") in _DATASOURCE_REFS and ref.get("type", "prometheus") == "prometheus"
    return False


class _Board:
    """One dashboard with what the rules share: its uid, variables and their sample values."""

    def __init__(self, dashboard: Json) -> None:
        self.json = dashboard
        uid = dashboard.get("uid")
        self.uid = uid if isinstance(uid, str) and uid else "(no uid)"
        templating = dashboard.get("templating")
        listed = templating.get("list") if isinstance(templating, dict) else None
        self.variables = _dicts(listed)
        self.values = {str(v["name"]): _variable_value(v) for v in self.variables if v.get("name")}
        self.values.update(_BUILTINS)
        self.panels = list(_panels(dashboard))

    def problem(self, where: str, rule: str, message: str) -> Problem:
        return Problem(self.uid, where, rule, message)

    def expand(self, text: str) -> str:
        """Replace every variable Grafana would replace; leave unknown names as they are."""

        def value(match: re.Match[str]) -> str:
            name = match["braced"] or match["bracketed"] or match["plain"]
            return self.values.get(name, match[0])

        return _REFERENCE.sub(value, text)

    def query_variables(self) -> Iterator[tuple[str, Json]]:
        for variable in self.variables:
            if variable.get("type") == "query":
                yield f"variable {variable.get('name', '?')}", variable

    def targets(self) -> Iterator[tuple[str, Json]]:
        for panel in self.panels:
            for target in _dicts(panel.get("targets")):
                yield f"{_where(panel)} target {target.get('refId', '?')}", target


def _where(panel: Json) -> str:
    return f'panel {panel.get("id", "?")} "{panel.get("title", "")}"'


def _parse(board: _Board, expr: str) -> promql_parser.Expr:
    """The expression with the board's variables expanded; ValueError if it does not parse."""
    return promql_parser.parse(board.expand(expr))


# -- the rules: each yields the problems of one dashboard ------------------------------------


def _template_datasource(board: _Board) -> Iterator[Problem]:
    rule = "template-datasource-rule"
    found = [v for v in board.variables if v.get("name") == "datasource"]
    if not found:
        yield board.problem("dashboard", rule, "no variable named datasource")
        return
    variable = found[0]
    if variable.get("type") != "datasource" or variable.get("query") != "prometheus":
        yield board.problem(
            "variable datasource",
            rule,
            f"type {variable.get('type')!r} over {variable.get('query')!r};"
            " want type 'datasource' over 'prometheus'",
        )


def _panel_datasource(board: _Board) -> Iterator[Problem]:
    refs = [(_where(p), p.get("datasource")) for p in board.panels if _queries(p)]
    refs += [(where, t.get("datasource")) for where, t in board.targets()]
    refs += [(where, v.get("datasource")) for where, v in board.query_variables()]
    for where, ref in refs:
        if not _uses_datasource_variable(ref):
            yield board.problem(
                where,
                "panel-datasource-rule",
                f"data source {_describe(ref)};"
                ' want the variable: {"type": "prometheus", "uid": "${datasource}"}',
            )


def _panel_no_targets(board: _Board) -> Iterator[Problem]:
    for panel in board.panels:
        if panel.get("type") not in NO_QUERY_PANELS and not _dicts(panel.get("targets")):
            yield board.problem(
                _where(panel),
                "panel-no-targets-rule",
                f"a {panel.get('type', 'untyped')} panel without targets",
            )


def _target_promql(board: _Board) -> Iterator[Problem]:
    rule = "target-promql-rule"
    for where, target in board.targets():
        expr = target.get("expr")
        if not isinstance(expr, str) or not expr.strip():
            yield board.problem(where, rule, "no expr")
            continue
        try:
            _parse(board, expr)
        except ValueError as exc:
            yield board.problem(where, rule, f"{exc}: {expr}")


def _wrong_ranges(expr: promql_parser.Expr) -> list[str]:
    """``rate(x[5m])`` and the like, as text, for each range that is not $__rate_interval."""
    found: list[str] = []

    def visit(node: promql_parser.Expr) -> None:
        if not isinstance(node, promql_parser.Call) or node.func.name not in RATE_FUNCTIONS:
            return
        for arg in node.args:
            if isinstance(arg, promql_parser.MatrixSelector | promql_parser.SubqueryExpr):
                given = arg.range
                if given != RATE_INTERVAL:
                    shown = promql_parser.display_duration(given) if given else "?"
                    found.append(f"{node.func.name}(…[{shown}])")

    promql_parser.walk(expr, visit)
    return found


def _target_rate_interval(board: _Board) -> Iterator[Problem]:
    for where, target in board.targets():
        expr = target.get("expr")
        if not isinstance(expr, str):
            continue
        try:
            parsed = _parse(board, expr)
        except ValueError:
            continue  # target-promql-rule says so
        for call in _wrong_ranges(parsed):
            yield board.problem(
                where, "target-rate-interval-rule", f"{call}: use [$__rate_interval]"
            )


def _valid_unit(unit: object) -> bool:
    return isinstance(unit, str) and (unit in UNITS or bool(_CUSTOM_UNIT.fullmatch(unit)))


def _panel_units(board: _Board) -> Iterator[Problem]:
    rule = "panel-units-rule"
    for panel in board.panels:
        if not _queries(panel):
            continue
        config = panel.get("fieldConfig")
        config = config if isinstance(config, dict) else {}
        defaults = config.get("defaults")
        unit = defaults.get("unit") if isinstance(defaults, dict) else None
        if not unit:
            yield board.problem(_where(panel), rule, "no fieldConfig.defaults.unit")
        elif not _valid_unit(unit):
            yield board.problem(_where(panel), rule, f"unit {unit!r} is not one Grafana knows")
        for override in _dicts(config.get("overrides")):
            for prop in _dicts(override.get("properties")):
                if prop.get("id") == "unit" and not _valid_unit(prop.get("value")):
                    yield board.problem(
                        _where(panel),
                        rule,
                        f"override unit {prop.get('value')!r} is not one Grafana knows",
                    )


def _template_reload(board: _Board) -> Iterator[Problem]:
    for where, variable in board.query_variables():
        refresh = variable.get("refresh")
        if refresh != 2:
            yield board.problem(
                where,
                "template-on-time-change-reload-rule",
                f"refresh {refresh!r}; want 2 (on time range change)",
            )


_LABEL_VALUES = re.compile(r"\s*label_values\((?:(?P<selector>.+),)?(?P<label>[^,]*)\)\s*", re.S)
_LABEL_NAMES = re.compile(r"\s*label_names\((?P<selector>.*)\)\s*", re.S)
_QUERY_RESULT = re.compile(r"\s*query_result\((?P<expr>.+)\)\s*", re.S)
_METRICS = re.compile(r"\s*metrics\(.*\)\s*", re.S)


def _variable_query(variable: Json) -> str:
    query = variable.get("query")
    if isinstance(query, dict):  # the variable editor's form: {"query": ..., "refId": ...}
        query = query.get("query")
    return query if isinstance(query, str) else ""


def _check_variable_query(board: _Board, query: str) -> str | None:
    """Why Grafana's Prometheus variable query does not parse, or None."""
    if match := _QUERY_RESULT.fullmatch(query):
        try:
            _parse(board, match["expr"])
        except ValueError as exc:
            return f"query_result: {exc}"
        return None
    if _METRICS.fullmatch(query):
        return None  # a regular expression on metric names
    selector: str | None = query  # Grafana lists the series of a bare selector
    if match := _LABEL_VALUES.fullmatch(query):
        label = match["label"].strip()
        if not _LABEL_NAME.fullmatch(board.expand(label)):
            return f"{label!r} is not a label name"
        selector = match["selector"]
    elif match := _LABEL_NAMES.fullmatch(query):
        selector = match["selector"] if match["selector"].strip() else None
    return None if selector is None else _selector_error(board, selector)


def _selector_error(board: _Board, selector: str) -> str | None:
    try:
        parsed = _parse(board, selector)
    except ValueError as exc:
        return f"selector {selector.strip()!r}: {exc}"
    if not isinstance(parsed, promql_parser.VectorSelector):
        return f"{selector.strip()!r} is not a series selector"
    return None


def _template_label_promql(board: _Board) -> Iterator[Problem]:
    rule = "template-label-promql-rule"
    for where, variable in board.query_variables():
        query = _variable_query(variable)
        if not query.strip():
            yield board.problem(where, rule, "no query")
            continue
        why = _check_variable_query(board, query)
        if why is not None:
            yield board.problem(where, rule, f"{why}: {query}")


def _panel_title_description(board: _Board) -> Iterator[Problem]:
    rule = "panel-title-description-rule"
    for panel in board.panels:
        title = panel.get("title")
        if not isinstance(title, str) or not title.strip():
            yield board.problem(_where(panel), rule, "no title")
        description = panel.get("description")
        is_row = panel.get("type") == "row"
        if not is_row and (not isinstance(description, str) or not description.strip()):
            yield board.problem(_where(panel), rule, "no description")


def _uid(board: _Board) -> Iterator[Problem]:
    uid = board.json.get("uid")
    if not isinstance(uid, str) or not _UID.fullmatch(uid):
        yield board.problem(
            "dashboard", "uid-rule", f"uid {uid!r}; want 1 to 40 letters, digits, '-' or '_'"
        )
    if board.json.get("id") is not None:
        yield board.problem(
            "dashboard", "uid-rule", f"id {board.json['id']!r}; want null (Grafana assigns it)"
        )


def _panel_ids(board: _Board) -> Iterator[Problem]:
    seen: dict[int, Json] = {}
    for panel in board.panels:
        pid = panel.get("id")
        if not isinstance(pid, int) or isinstance(pid, bool):
            yield board.problem(_where(panel), "panel-id-rule", f"id {pid!r}; want an integer")
        elif pid in seen:
            yield board.problem(
                _where(panel), "panel-id-rule", f"id {pid} is also {_where(seen[pid])}"
            )
        else:
            seen[pid] = panel


def _target_refids(board: _Board) -> Iterator[Problem]:
    for panel in board.panels:
        seen: set[str] = set()
        for target in _dicts(panel.get("targets")):
            ref = target.get("refId")
            if not isinstance(ref, str) or not ref:
                yield board.problem(_where(panel), "target-refid-rule", "a target without refId")
            elif ref in seen:
                yield board.problem(_where(panel), "target-refid-rule", f"refId {ref} used twice")
            else:
                seen.add(ref)


_CHECKS: tuple[Callable[[_Board], Iterator[Problem]], ...] = (
    _template_datasource,
    _panel_datasource,
    _panel_no_targets,
    _target_promql,
    _target_rate_interval,
    _panel_units,
    _template_reload,
    _template_label_promql,
    _panel_title_description,
    _uid,
    _panel_ids,
    _target_refids,
)


def lint(dashboard: Json) -> list[Problem]:
    """Every problem of one dashboard (parsed JSON), in rule order."""
    board = _Board(dashboard)
    return [problem for check in _CHECKS for problem in check(board)]


def main(argv: Sequence[str] | None = None) -> int:
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m dashboards.lint FILE...", file=sys.stderr)
        return 2
    status = 0
    for name in paths:
        try:
            dashboard = json.loads(Path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"{name}: cannot read: {exc}", file=sys.stderr)
            status = 2
            continue
        if not isinstance(dashboard, dict):
            print(f"{name}: not a dashboard (a JSON object)", file=sys.stderr)
            status = 2
            continue
        for problem in lint(dashboard):
            print(f"{name}: {problem}")
            status = max(status, 1)
    return status


if __name__ == "__main__":
    sys.exit(main())
