"""The pieces every dashboard shares, so that each dashboard file reads as its panels only.

Every panel and variable uses the ``datasource`` variable (file provisioning ignores
``__inputs``), every query variable refreshes on time range change, and every panel carries a
unit. Panel ids and refIds are assigned in ``render`` (the SDK leaves them unset), in layout
order, so they stay the same as long as the layout does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prom_model

DS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
# Every dashboard of ours carries this tag; the links bar lists the others by it.
TAG = "openstack-telemetry"
FOLDER = "OpenStack"
ON_TIME_CHANGE = model.VariableRefresh.ON_TIME_RANGE_CHANGED


@dataclass(frozen=True)
class Q:
    """One PromQL target: expression, legend, and whether Grafana asks for one instant."""

    expr: str
    legend: str = ""
    instant: bool = False

    def build(self) -> prom.Dataquery:
        q = prom.Dataquery().expr(self.expr).datasource(DS)
        if self.legend:
            q = q.legend_format(self.legend)
        if self.instant:
            q = q.instant().format(prom_model.PromQueryFormat.TABLE)
        return q


@dataclass(frozen=True)
class Var:
    """A query variable on Prometheus's label values (or ``query_result``)."""

    name: str
    label: str
    query: str
    multi: bool = True

    def build(self) -> db.QueryVariable:
        v = (
            db.QueryVariable(self.name)
            .label(self.label)
            .datasource(DS)
            .query(self.query)
            .refresh(ON_TIME_CHANGE)
            .sort(model.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        )
        if self.multi:
            # ".*" instead of Grafana's list of every value: shorter queries on big clouds.
            v = v.multi(True).include_all(True).all_value(".*")
        return v


Panel = TypeVar("Panel", timeseries.Panel, stat.Panel, table.Panel)
Mappings = Sequence[tuple[str, str, str]]
"""Value mappings as (value, text, colour)."""


def flag(good: str, bad: str) -> Mappings:
    """The mappings of a 0/1 gauge: 1 is ``good`` (green), 0 is ``bad`` (red)."""
    return (("1", good, "green"), ("0", bad, "red"))


def _framed(
    panel: Panel,
    title: str,
    description: str,
    unit: str,
    *,
    width: int,
    height: int,
    mappings: Mappings = (),
) -> Panel:
    """What every panel of ours has: title, description, the datasource variable, a unit."""
    p = (
        panel.title(title)
        .description(description)
        .datasource(DS)
        .unit(unit)
        .span(width)
        .height(height)
    )
    if mappings:
        options = {
            value: model.ValueMappingResult(text=text, color=colour, index=index)
            for index, (value, text, colour) in enumerate(mappings)
        }
        p = p.mappings([model.ValueMap(options=options)])
    return p


def series(
    title: str,
    description: str,
    unit: str,
    *queries: Q,
    width: int = 12,
    height: int = 8,
    minimum: float | None = 0,
) -> timeseries.Panel:
    p = _framed(timeseries.Panel(), title, description, unit, width=width, height=height)
    p = p.fill_opacity(10).show_points(common.VisibilityMode.NEVER)
    if minimum is not None:
        p = p.min(minimum)
    for q in queries:
        p = p.with_target(q.build())
    return p


def single(
    title: str,
    description: str,
    unit: str,
    *queries: Q,
    width: int = 4,
    height: int = 4,
    thresholds: Sequence[tuple[float | None, str]] = (),
    mappings: Mappings = (),
) -> stat.Panel:
    """A stat panel; ``thresholds`` as (from, colour)."""
    p = _framed(
        stat.Panel(), title, description, unit, width=width, height=height, mappings=mappings
    )
    if thresholds:
        steps = [model.Threshold(value=v, color=c) for v, c in thresholds]
        p = p.thresholds(db.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps))
    for q in queries:
        p = p.with_target(q.build())
    return p


def grid(
    title: str,
    description: str,
    unit: str,
    *queries: Q,
    width: int = 24,
    height: int = 8,
    mappings: Mappings = (),
) -> table.Panel:
    """A table of instant queries, one row per series, the labels as columns."""
    p = _framed(
        table.Panel(), title, description, unit, width=width, height=height, mappings=mappings
    )
    hide = {"Time": True, "__name__": True}
    p = p.with_transformation(
        model.DataTransformerConfig(id_val="organize", options={"excludeByName": hide})
    )
    if len(queries) > 1:
        p = p.with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
    for q in queries:
        p = p.with_target(Q(q.expr, q.legend, instant=True).build())
    return p


@dataclass
class Board:
    """One dashboard: its identity, variables and rows of panels."""

    uid: str
    title: str
    description: str
    variables: list[Var]
    rows: list[tuple[str, list[cogbuilder.Builder[Any]]]] = field(default_factory=list)
    time_from: str = "now-1h"
    refresh: str = "1m"

    def row(self, title: str, *panels: cogbuilder.Builder[Any]) -> None:
        self.rows.append((title, list(panels)))

    def build(self) -> db.Dashboard:
        d = (
            db.Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags([TAG, "openstack"])
            .time(self.time_from, "now")
            .refresh(self.refresh)
            .timezone("browser")
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            .editable()
            .with_variable(
                db.DatasourceVariable("datasource").label("Data source").type("prometheus")
            )
            .link(
                db.DashboardLink("OpenStack dashboards")
                .type(model.DashboardLinkType.DASHBOARDS)
                .tags([TAG])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
            )
        )
        for v in self.variables:
            d = d.with_variable(v.build())
        for title, panels in self.rows:
            d = d.with_row(db.Row(title))
            for p in panels:
                d = d.with_panel(p)
        return d


def render(board: Board) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model, with ids and refIds assigned."""
    data: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(board.build().build()))
    data["id"] = None
    for number, panel in enumerate(data["panels"], start=1):
        panel["id"] = number
        for index, target in enumerate(panel.get("targets", [])):
            target["refId"] = chr(ord("A") + index)
    return data


def selector(**labels: str) -> str:
    """``{a=~"$a", b=~"$b"}`` for the usual variable filters (values are regexes)."""
    return "{" + ", ".join(f'{k}=~"{v}"' for k, v in labels.items()) + "}"
