"""Grafana's part of a dashboard, without Grafana: its template variables resolved and its
queries interpolated as Grafana's Prometheus datasource does, to run them on a Prometheus.

What Grafana (11) does, and this module after it:

- Variables are resolved in the order of ``templating.list``, each one's query interpolated
  with those before it. Query variables: ``label_values(label)``,
  ``label_values(selector, label)`` (``/api/v1/label/<label>/values`` with ``match[]``, over
  the dashboard's time range), ``metrics(regex)``, ``query_result(expr)`` (an instant query at
  the range's end, each series as the text ``name{l="v",...} value timestamp_ms``),
  ``label_names()``, and any other text as a series query. The variable's ``regex`` then keeps
  what it matches: its first capture group (or groups ``value``/``text``), every match's group
  when it matches several times. Values are deduplicated and sorted as its ``sort`` says.
  ``custom``, ``constant``, ``textbox``, ``interval`` and ``datasource`` variables too.
- The value used is the variable's ``current`` one when it is among the values, otherwise
  "All" when ``includeAll``, otherwise the first value.
- ``$var``, ``${var}``, ``${var:format}``, ``[[var]]`` and ``[[var:format]]`` are replaced.
  Without a format, Prometheus's: a single-valued variable's value with backslashes and
  quotes escaped; a multi-value or includeAll one's values regex-escaped, ``(a|b)`` when more
  than one; "All" is the ``allValue`` as it is, or every value. An unknown name stays.
- ``$__interval`` is the range over the panel's data points (``maxDataPoints``, 1,000 here)
  rounded as Grafana rounds, at least the scrape interval (the datasource's "scrape
  interval", or the target's ``interval``); ``$__rate_interval`` is
  max(``$__interval`` + scrape interval, 4 times the scrape interval); ``$__range`` is the range in
  seconds; their ``_ms`` and ``_s`` forms too. A range query's step is the interval (at
  least range / 11,000) and its start and end are aligned on it.
- Panels in collapsed rows count; a repeated panel is run once per value of its variable;
  hidden targets and targets of another datasource type are not run.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import promql_parser

ALL = "$__all"
MAX_DATA_POINTS = 1000
"""Grafana asks for as many points as the panel is wide in pixels; about this many."""
SAFE_RESOLUTION = 11000
"""Prometheus refuses more than 11,000 points per series; Grafana's step keeps below."""

# Grafana's variable syntax (public/app/features/variables/utils.ts, variableRegex).
VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")
# The Prometheus datasource's variable queries (metric_find_query.ts).
LABEL_NAMES = re.compile(r"^label_names\((.*)\)\s*$")
LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?([a-zA-Z_$][a-zA-Z0-9_]*)\)\s*$")
METRICS = re.compile(r"^metrics\((.+)\)\s*$")
QUERY_RESULT = re.compile(r"^query_result\((.+)\)\s*$")


class QueryError(AssertionError):
    """Prometheus refused a query (400, 422): the message carries the query as sent."""


class Source(Protocol):
    """What the resolver and the runner read: a Prometheus HTTP API (or a recording of one)."""

    def label_values(self, label: str, match: str | None, start: float, end: float) -> list[str]:
        """``GET /api/v1/label/<label>/values`` (with ``match[]`` when given)."""
        ...

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        """``GET /api/v1/series``: the label sets."""
        ...

    def instant(self, expr: str, at: float) -> dict[str, Any]:
        """``GET /api/v1/query``: its ``data`` (``resultType`` and ``result``)."""
        ...

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Any]:
        """``GET /api/v1/query_range``: its ``result`` (one item per series)."""
        ...


class Prometheus:
    """A ``Source`` over a live Prometheus's HTTP API."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str, params: Sequence[tuple[str, str]]) -> Any:
        """``data`` of a successful answer; a refused query is a ``QueryError``."""
        url = f"{self.url}/api/v1/{path}?{urlencode(list(params))}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310 - loopback URL we built
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            try:
                error = json.loads(text).get("error", text)
            except ValueError:
                error = text
            shown = dict(params).get("query") or dict(params).get("match[]") or path
            raise QueryError(f"Prometheus answered {exc.code} to {shown!r}: {error}") from None
        if body.get("status") != "success":
            raise QueryError(f"{path} {params}: {body}")
        return body["data"]

    def label_values(self, label: str, match: str | None, start: float, end: float) -> list[str]:
        params = [("start", _num(start)), ("end", _num(end))]
        if match:
            params.append(("match[]", match))
        values: list[str] = self.get(f"label/{quote(label, safe='')}/values", params)
        return values

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        found: list[dict[str, str]] = self.get(
            "series", [("match[]", match), ("start", _num(start)), ("end", _num(end))]
        )
        return found

    def instant(self, expr: str, at: float) -> dict[str, Any]:
        data: dict[str, Any] = self.get("query", [("query", expr), ("time", _num(at))])
        return data

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Any]:
        params = [("query", expr), ("start", _num(start)), ("end", _num(end)), ("step", _num(step))]
        result: list[Any] = self.get("query_range", params)["result"]
        return result

    def names(self) -> list[str]:
        """Every metric name Prometheus holds (``/api/v1/label/__name__/values``)."""
        found: list[str] = self.get("label/__name__/values", [])
        return found


def _num(value: float) -> str:
    return f"{value:.3f}"


# -- dashboards ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    path: Path
    model: dict[str, Any]

    @property
    def uid(self) -> str:
        return str(self.model.get("uid") or self.path.stem)

    @property
    def title(self) -> str:
        return str(self.model.get("title") or self.uid)

    def panels(self) -> list[dict[str, Any]]:
        """Every panel, those inside rows (collapsed ones keep theirs in ``panels``) too."""
        found = []
        for panel in self.model.get("panels", []):
            found.append(panel)
            found.extend(panel.get("panels", []))
        return found

    def time_range(self, now: float) -> tuple[float, float]:
        time_ = self.model.get("time") or {}
        return parse_time(time_.get("from", "now-6h"), now), parse_time(time_.get("to", "now"), now)


def load(root: Path) -> list[Dashboard]:
    """Every dashboard JSON file under ``root``, in path order."""
    return [Dashboard(p, json.loads(p.read_text())) for p in sorted(root.glob("**/*.json"))]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000, "y": 31536000}
_RELATIVE = re.compile(r"now(?:([+-])(\d+)([smhdwMy]))?(?:/([smhdwMy]))?")


def parse_time(text: str, now: float) -> float:
    """A time of a dashboard's range: ``now``, ``now-1h``, ``now-1d/d``, epoch milliseconds
    or an ISO date (UTC)."""
    match = _RELATIVE.fullmatch(text.strip())
    if match is None:
        if text.isdigit():
            return int(text) / 1000
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    sign, amount, unit, round_to = match.groups()
    at = now
    if amount:
        at += (-1 if sign == "-" else 1) * int(amount) * _UNITS[unit]
    if round_to:
        size = _UNITS[round_to]
        at = math.floor(at / size) * size
    return at


# -- intervals ----------------------------------------------------------------------------

# Grafana's roundInterval (@grafana/data rangeutil): upper bound (ms) -> rounded interval (ms).
_ROUNDING = (
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
    (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000),
    (45000, 30000), (90000, 60000), (210000, 120000), (450000, 300000), (1050000, 600000),
    (2100000, 1200000), (5400000, 3600000), (9000000, 7200000), (16200000, 10800000),
    (32400000, 21600000), (86400000, 43200000), (604800000, 86400000),
    (1814400000, 604800000), (3628800000, 2592000000),
)  # fmt: skip
_YEAR_MS = 31536000000


def round_interval(ms: float) -> int:
    for bound, rounded in _ROUNDING:
        if ms < bound:
            return rounded
    return _YEAR_MS


def parse_duration(text: str) -> float:
    """Seconds of a Grafana or Prometheus duration (``15s``, ``1m30s``, ``500ms``)."""
    return promql_parser.parse_duration(text.strip()).total_seconds()


def format_interval(seconds: float) -> str:
    """Grafana's gtime.FormatInterval: the largest whole unit (``5s``, ``2m``, ``1h``)."""
    ms = round(seconds * 1000)
    for unit, size in (("y", 31536000000), ("d", 86400000), ("h", 3600000), ("m", 60000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    if ms >= 1000:
        return f"{ms // 1000}s"
    return f"{max(ms, 1)}ms"


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String(), which ``$__rate_interval`` is written with (``1m0s``)."""
    ms = round(seconds * 1000)
    if ms < 1000:
        return f"{ms}ms" if ms else "0s"
    hours, rest = divmod(ms, 3600000)
    minutes, rest = divmod(rest, 60000)
    secs = f"{rest // 1000}" if rest % 1000 == 0 else f"{rest / 1000:.3f}".rstrip("0")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


@dataclass(frozen=True)
class Timing:
    """A panel query's time range, step and ``$__rate_interval``."""

    start: float
    end: float
    step: float
    rate_interval: float

    @classmethod
    def of(
        cls,
        start: float,
        end: float,
        scrape: float,
        *,
        panel_min: float | None = None,
        target_min: float | None = None,
        max_points: int = MAX_DATA_POINTS,
    ) -> Timing:
        """As Grafana computes them: ``scrape`` is the datasource's scrape interval,
        ``panel_min`` the panel's "min interval", ``target_min`` the query's "min step"."""
        span = end - start
        # The browser's interval: the range over the points, rounded, at least the panel's
        # minimum or else the datasource's scrape interval.
        interval = max(round_interval(span * 1000 / max_points) / 1000, panel_min or scrape)
        # The server's step: at least the query's minimum step or else that interval, rounded
        # as the browser does, and no more than 11,000 points.
        least = target_min or interval
        raw = span / max_points
        step = least if raw < least else round_interval(raw * 1000) / 1000
        step = max(step, round_interval(span * 1000 / SAFE_RESOLUTION) / 1000)
        # The rate interval reads the browser's interval and the query's own minimum step, or
        # the datasource's scrape interval.
        minimum = target_min or scrape
        rate = max(interval + minimum, 4 * minimum)
        return cls(math.floor(start / step) * step, math.floor(end / step) * step, step, rate)

    def builtins(self) -> dict[str, str]:
        """``$__interval`` and the rest; the interval is the step, as the server sets it."""
        return {
            "__interval": format_interval(self.step),
            "__interval_ms": str(round(self.step * 1000)),
            "__rate_interval": go_duration(self.rate_interval),
            "__rate_interval_ms": str(round(self.rate_interval * 1000)),
            **range_builtins(self.start, self.end),
        }


def range_builtins(start: float, end: float) -> dict[str, str]:
    span = end - start
    return {
        "__range": f"{round(span)}s",
        "__range_s": str(round(span)),
        "__range_ms": str(round(span * 1000)),
        "__from": str(round(start * 1000)),
        "__to": str(round(end * 1000)),
    }


# -- variables ----------------------------------------------------------------------------


@dataclass
class Variable:
    """A template variable once resolved: the values Grafana offers and the one it uses."""

    name: str
    kind: str
    options: list[str]
    selected: list[str]
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    query: str = ""

    @property
    def is_all(self) -> bool:
        return self.selected == [ALL]

    def values(self) -> list[str]:
        """The values a query sees: every option when "All" is selected."""
        return list(self.options) if self.is_all else list(self.selected)

    def formatted(self, fmt: str | None) -> str:
        if self.is_all and self.all_value is not None and fmt not in ("text", "percentencode"):
            return self.all_value
        value: str | list[str]
        if self.is_all or self.multi:
            value = self.values()
        else:
            value = self.selected[0] if self.selected else ""
        return _FORMATS[fmt or "prometheus"](value, self)

    def only(self, value: str) -> Variable:
        """This variable with one value selected (a repeated panel's copy)."""
        return replace(self, selected=[value], multi=False, include_all=False)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def regular_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\\\'")


def special_regex_escape(value: str) -> str:
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"[$^*{}\[\]'+?.()|]", lambda m: "\\\\" + m.group(0), value)


def escape_regex(value: str) -> str:
    return re.sub(r"[\\^$*+?.()|\[\]{}/]", lambda m: "\\" + m.group(0), value)


def _prometheus(value: str | list[str], variable: Variable) -> str:
    """The datasource's interpolateQueryExpr."""
    if not variable.multi and not variable.include_all:
        return regular_escape(value) if isinstance(value, str) else ",".join(value)
    if isinstance(value, str):
        return special_regex_escape(value)
    escaped = [special_regex_escape(v) for v in value]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def _regex(value: str | list[str], _: Variable) -> str:
    if isinstance(value, str):
        return escape_regex(value)
    escaped = [escape_regex(v) for v in value]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def _glob(value: str | list[str], _: Variable) -> str:
    values = _as_list(value)
    return values[0] if len(values) == 1 else "{" + ",".join(values) + "}"


def _quoted(quote_char: str) -> Callable[[str | list[str], Variable], str]:
    def fmt(value: str | list[str], _: Variable) -> str:
        escaped = (v.replace(quote_char, "\\" + quote_char) for v in _as_list(value))
        return ",".join(f"{quote_char}{v}{quote_char}" for v in escaped)

    return fmt


_FORMATS: dict[str, Callable[[str | list[str], Variable], str]] = {
    "prometheus": _prometheus,
    "regex": _regex,
    "pipe": lambda v, _: "|".join(_as_list(v)),
    "csv": lambda v, _: ",".join(_as_list(v)),
    "raw": lambda v, _: ",".join(_as_list(v)),
    "text": lambda v, _: " + ".join(_as_list(v)),
    "json": lambda v, _: json.dumps(v),
    "glob": _glob,
    "singlequote": _quoted("'"),
    "doublequote": _quoted('"'),
    "percentencode": lambda v, _: quote(",".join(_as_list(v)), safe=""),
    "queryparam": lambda v, var: "&".join(
        f"var-{var.name}={quote(x, safe='')}" for x in _as_list(v)
    ),
}


def interpolate(
    text: str, variables: Mapping[str, Variable], builtins: Mapping[str, str] | None = None
) -> str:
    """``text`` with every known variable replaced, as Grafana's template service does."""
    known = builtins or {}

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if name in known:
            return known[name]
        variable = variables.get(name)
        if variable is None:
            return match.group(0)
        if fmt is not None and fmt not in _FORMATS:
            raise ValueError(f"${{{name}:{fmt}}}: format {fmt!r} is not one Grafana knows")
        return variable.formatted(fmt)

    return VARIABLE.sub(one, text)


def js_regex(text: str) -> re.Pattern[str]:
    """A variable's regex, written as JavaScript's ``/pattern/flags`` or as a bare pattern."""
    flags = 0
    match = re.fullmatch(r"/(.*)/([gimsuy]*)", text, re.S)
    pattern = text
    if match:
        pattern, letters = match.groups()
        flags |= re.I if "i" in letters else 0
        flags |= re.M if "m" in letters else 0
        flags |= re.S if "s" in letters else 0
    # Named groups: (?<name>...) in JavaScript, (?P<name>...) in Python; not lookbehinds.
    return re.compile(re.sub(r"\(\?<(?![=!])", "(?P<", pattern), flags)


def apply_regex(texts: Iterable[str], regex: str) -> list[str]:
    """What Grafana keeps of each text through a variable's regex (metricNamesToVariableValues)."""
    if not regex:
        return list(texts)
    pattern = js_regex(regex)
    kept: list[str] = []
    for text in texts:
        matches = list(pattern.finditer(text))
        if not matches:
            continue
        named = [m for m in matches if m.groupdict().get("value") or m.groupdict().get("text")]
        grouped = [m for m in matches if m.re.groups >= 1]
        if named:
            found = named[0].groupdict()
            kept.append(found.get("value") or found.get("text") or "")
        elif len(matches) > 1 and grouped:
            kept.extend(m.group(1) or "" for m in matches)
        elif grouped:
            kept.append(grouped[0].group(1) or "")
        else:
            kept.append(text)
    return kept


def sort_values(values: list[str], order: int) -> list[str]:
    """Grafana's sortVariableValues: 1/2 alphabetical, 3/4 numerical, 5/6 alphabetical
    ignoring case, 7/8 natural; even numbers descending; 0 as found."""
    if not order:
        return values
    kind = math.ceil(order / 2)
    keys: dict[int, Callable[[str], Any]] = {
        1: lambda v: v,
        2: lambda v: int(m.group(1)) if (m := re.match(r".*?(\d+).*", v)) else -1,
        3: str.lower,
        4: lambda v: [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", v)],
    }
    ordered = sorted(values, key=keys.get(kind, keys[1]))
    return ordered[::-1] if order % 2 == 0 else ordered


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _series_text(labels: Mapping[str, str]) -> str:
    """A series as the text query_result and series queries give a variable's regex."""
    rest = ",".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
    return f"{labels.get('__name__', '')}{{{rest}}}"


def _sample_text(item: Mapping[str, Any]) -> str:
    """An instant vector's sample as query_result gives it: ``name{l="v"} value time_ms``."""
    at, value = item["value"]
    return f"{_series_text(item['metric'])} {value} {round(at * 1000)}"


def _custom_options(variable: Mapping[str, Any]) -> list[str]:
    """A custom variable's values: its ``options``, else its query split on commas (``\\,``
    escapes one; ``text : value`` gives the value)."""
    options = variable.get("options") or []
    if options:
        return [str(o.get("value", o.get("text", ""))) for o in options]
    parts = re.split(r"(?<!\\),", str(variable.get("query", "")))
    values = []
    for part in parts:
        text = part.replace("\\,", ",").strip()
        key, sep, value = text.partition(" : ")
        values.append(value.strip() if sep else key)
    return [v for v in values if v]


def _query_text(variable: Mapping[str, Any]) -> str:
    """A query variable's query: a string, or (newer JSON) an object holding it."""
    query = variable.get("query", "")
    if isinstance(query, Mapping):
        query = query.get("query", "")
    return str(query or variable.get("definition", ""))


def _current(variable: Mapping[str, Any]) -> list[str]:
    current = variable.get("current") or {}
    value = current.get("value") if isinstance(current, Mapping) else None
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _select(options: list[str], current: list[str], *, multi: bool, include_all: bool) -> list[str]:
    """Grafana's choice when a dashboard loads: the saved current value(s) that are still
    offered, else the first option ("All" when includeAll)."""
    if current == [ALL] and include_all:
        return [ALL]
    kept = [v for v in current if v in options]
    if kept:
        return kept if multi else kept[:1]
    if include_all:
        return [ALL]
    return options[:1]


def _min_interval(text: object, variables: Mapping[str, Variable]) -> float | None:
    """A panel's "min interval" or a query's "min step" in seconds; None when unset (or a
    built-in, which stands for what would be computed anyway)."""
    value = interpolate(str(text), variables).strip() if text else ""
    if not value or value.startswith("$"):
        return None
    return parse_duration(value.removeprefix(">"))


def variable_exprs(variable: Variable) -> list[str]:
    """The PromQL a query variable ran: a ``label_values`` selector, a ``query_result``
    expression or a series selector."""
    query = variable.query.strip()
    if variable.kind != "query" or not query or METRICS.match(query) or LABEL_NAMES.match(query):
        return []
    if match := LABEL_VALUES.match(query):
        return [match.group(1)] if match.group(1) else []
    if match := QUERY_RESULT.match(query):
        return [match.group(1)]
    return [query]


@dataclass
class Resolver:
    """Resolves a dashboard's variables and interpolates its targets over ``source``.

    ``scrape`` is the datasource's scrape interval, in seconds (Grafana's "Scrape interval"
    of the datasource: set it to the Prometheus's own).
    """

    source: Source
    scrape: float
    now: float
    datasource: str = "prometheus"
    max_points: int = MAX_DATA_POINTS

    def variables(self, dashboard: Dashboard) -> dict[str, Variable]:
        start, end = dashboard.time_range(self.now)
        resolved: dict[str, Variable] = {}
        for raw in dashboard.model.get("templating", {}).get("list", []):
            variable = self.resolve(raw, resolved, start, end)
            if variable is not None:
                resolved[variable.name] = variable
        return resolved

    def resolve(
        self,
        raw: Mapping[str, Any],
        before: Mapping[str, Variable],
        start: float,
        end: float,
    ) -> Variable | None:
        kind = str(raw.get("type", "query"))
        name = str(raw["name"])
        multi, include_all = bool(raw.get("multi")), bool(raw.get("includeAll"))
        query = ""
        if kind == "query":
            query = interpolate(_query_text(raw), before, range_builtins(start, end))
            texts = self.run_variable_query(query, start, end)
            options = apply_regex(texts, interpolate(str(raw.get("regex") or ""), before))
            options = sort_values(_unique(options), int(raw.get("sort") or 0))
        elif kind == "custom":
            options = _custom_options(raw)
        elif kind in ("constant", "textbox"):
            options = [str(raw.get("query", ""))]
            if kind == "textbox" and _current(raw):
                options = _current(raw)
        elif kind == "interval":
            options = [o for o in (p.strip() for p in str(raw.get("query", "")).split(",")) if o]
        elif kind == "datasource":
            options = [self.datasource]
        else:  # adhoc filters and group-by add nothing to a query's text here
            return None
        selected = _select(options, _current(raw), multi=multi, include_all=include_all)
        all_value = raw.get("allValue")
        return Variable(
            name,
            kind,
            options,
            selected,
            multi=multi,
            include_all=include_all,
            all_value=str(all_value) if all_value not in (None, "") else None,
            query=query,
        )

    def run_variable_query(self, query: str, start: float, end: float) -> list[str]:
        """The texts a Prometheus variable query gives, before its regex."""
        query = query.strip()
        if match := LABEL_NAMES.match(query):
            return self._label_names(match.group(1).strip() or None, start, end)
        if match := LABEL_VALUES.match(query):
            selector, label = match.group(1), match.group(2)
            return self.source.label_values(
                label, selector.strip() if selector else None, start, end
            )
        if match := METRICS.match(query):
            pattern = js_regex(match.group(1).strip())
            names = self.source.label_values("__name__", None, start, end)
            return [n for n in names if pattern.search(n)]
        if match := QUERY_RESULT.match(query):
            data = self.source.instant(match.group(1), end)
            if data["resultType"] in ("scalar", "string"):
                return [str(data["result"][1])]
            return [_sample_text(item) for item in data["result"]]
        return [_series_text(labels) for labels in self.source.series(query, start, end)]

    def _label_names(self, match: str | None, start: float, end: float) -> list[str]:
        names: set[str] = set()
        for labels in self.source.series(match or '{__name__=~".+"}', start, end):
            names.update(labels)
        return sorted(names - {"__name__"})

    def targets(
        self, dashboard: Dashboard, variables: Mapping[str, Variable] | None = None
    ) -> list[Target]:
        """Every query the dashboard's panels run on load, interpolated."""
        resolved = dict(self.variables(dashboard) if variables is None else variables)
        start, end = dashboard.time_range(self.now)
        found: list[Target] = []
        for panel in dashboard.panels():
            if panel.get("type") == "row":
                continue
            for scoped in self._repeats(panel, resolved):
                found.extend(self._panel_targets(dashboard, panel, scoped, start, end))
        return found

    def _repeats(
        self, panel: Mapping[str, Any], variables: dict[str, Variable]
    ) -> Iterator[dict[str, Variable]]:
        name = panel.get("repeat")
        if not name or name not in variables:
            yield variables
            return
        for value in variables[name].values():
            yield {**variables, name: variables[name].only(value)}

    def _panel_targets(
        self,
        dashboard: Dashboard,
        panel: Mapping[str, Any],
        variables: Mapping[str, Variable],
        start: float,
        end: float,
    ) -> Iterator[Target]:
        for target in panel.get("targets", []):
            ds = target.get("datasource") or panel.get("datasource") or {}
            kind = ds.get("type", "prometheus") if isinstance(ds, Mapping) else "prometheus"
            if target.get("hide") or kind != "prometheus" or not target.get("expr"):
                continue
            timing = Timing.of(
                start,
                end,
                self.scrape,
                panel_min=_min_interval(panel.get("interval"), variables),
                target_min=_min_interval(target.get("interval"), variables),
                max_points=int(panel.get("maxDataPoints") or self.max_points),
            )
            expr = interpolate(str(target["expr"]), variables, timing.builtins())
            instant = bool(target.get("instant"))
            kinds = [True, False] if instant and target.get("range") else [instant]
            for is_instant in kinds:
                yield Target(
                    dashboard.uid,
                    dashboard.title,
                    str(panel.get("title", "")),
                    str(target.get("refId", "")),
                    expr,
                    is_instant,
                    timing,
                )


@dataclass(frozen=True)
class Target:
    """One query a panel runs, as Grafana would send it."""

    uid: str
    dashboard: str
    panel: str
    ref_id: str
    expr: str
    instant: bool
    timing: Timing

    @property
    def key(self) -> tuple[str, str]:
        """(dashboard uid, panel title): how dashboards/faults.py names a panel."""
        return (self.uid, self.panel)

    def run(self, source: Source) -> int:
        """How many series the query returns."""
        if self.instant:
            data = source.instant(self.expr, self.timing.end)
            if data["resultType"] in ("scalar", "string"):
                return 1
            return len(data["result"])
        return len(
            source.query_range(self.expr, self.timing.start, self.timing.end, self.timing.step)
        )


@dataclass
class Outcome:
    """What a target's query returned; ``seconds``: when, since the runs began."""

    target: Target
    series: int = 0
    error: str | None = None
    note: str = ""
    seconds: float | None = None


def table(outcomes: Sequence[Outcome], title: str = "") -> str:
    """The outcomes as a text table: dashboard, panel, refId, kind, series, after (s)."""
    rows = [("dashboard", "panel", "ref", "kind", "after", "series")]
    for o in outcomes:
        t = o.target
        kind = "instant" if t.instant else "range"
        after = "" if o.seconds is None else f"{o.seconds:.0f}s"
        shown = "ERROR" if o.error else str(o.series)
        rows.append((t.uid, t.panel, t.ref_id, kind, after, shown + o.note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(([title] if title else []) + lines)


# -- metric names -------------------------------------------------------------------------


@dataclass
class Names:
    """Metric names a PromQL expression selects: literal ones and ``__name__`` regexes."""

    literal: set[str] = field(default_factory=set)
    patterns: set[str] = field(default_factory=set)


def metric_names(expr: str) -> Names:
    """The names of every vector selector in ``expr`` (which must parse)."""
    found = Names()

    def visit(node: promql_parser.Expr) -> None:
        if not isinstance(node, promql_parser.VectorSelector):
            return
        if node.name:
            found.literal.add(node.name)
        groups = [node.matchers.matchers, *node.matchers.or_matchers]
        for matcher in (m for group in groups for m in group):
            if matcher.name != "__name__":
                continue
            if matcher.op == promql_parser.MatchOp.Equal:
                found.literal.add(matcher.value)
            elif matcher.op == promql_parser.MatchOp.Re:
                found.patterns.add(matcher.value)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found
