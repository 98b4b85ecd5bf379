"""The Grafana dashboard queries only metrics the daemon really exports, in PromQL that parses, and shows them all.

Metric names come from the registries the daemon serves (`tests.deploy.conftest.exported_metrics`).
Queries are parsed by promql-parser, a port of Prometheus' own parser, after Grafana's variables are replaced by
values of the same shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import promql_parser
import pytest

from tests.deploy.conftest import DEPLOY, exported_metrics

DASHBOARD = json.loads((DEPLOY / "dashboards" / "luna-autoscaler.json").read_text())
# What Grafana substitutes before the query reaches Prometheus: a duration, a regexp.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "6h", "$job": ".*"}


def panels(node: Any) -> Iterator[dict[str, Any]]:
    for panel in node.get("panels", []):
        yield panel
        yield from panels(panel)


def queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target of every panel."""
    return [(p["title"], t["expr"]) for p in panels(DASHBOARD) for t in p.get("targets", [])]


def grafana_to_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr}"
    return expr


def selectors(node: Any) -> Iterator[str]:
    """Metric names of every vector selector in a parsed PromQL expression."""
    kind = type(node).__name__
    if kind == "VectorSelector":
        yield node.name
        return
    for attribute in ("expr", "lhs", "rhs", "param", "vector_selector"):
        child = getattr(node, attribute, None)
        if child is not None:
            yield from selectors(child)
    for arg in getattr(node, "args", None) or []:
        yield from selectors(arg)


@pytest.mark.parametrize(("title", "expr"), queries(), ids=[f"{t}:{i}" for i, (t, _) in enumerate(queries())])
def test_every_query_parses_and_uses_exported_metrics(title: str, expr: str) -> None:
    parsed = promql_parser.parse(grafana_to_promql(expr))
    names = set(selectors(parsed))
    assert names, f"{title}: no metric in {expr}"
    unknown = names - set(exported_metrics())
    assert not unknown, f"{title}: the daemon exports no {sorted(unknown)}"


def test_every_exported_metric_has_a_panel() -> None:
    used = {
        exported_metrics()[name]
        for _, expr in queries()
        for name in selectors(promql_parser.parse(grafana_to_promql(expr)))
    }
    families = set(exported_metrics().values())
    assert families - used == set(), f"metrics without a panel: {sorted(families - used)}"


def test_selector_walk_finds_nested_metrics() -> None:
    parsed = promql_parser.parse(
        "histogram_quantile(0.9, sum by (le) (rate(a_bucket[5m]))) / on (x) group_left b and -(c offset 1m)"
    )
    assert set(selectors(parsed)) == {"a_bucket", "b", "c"}


def test_a_query_with_a_syntax_error_is_refused() -> None:
    with pytest.raises(ValueError):
        promql_parser.parse(grafana_to_promql("sum by (state (luna_pending_pods)"))


def test_dashboard_is_importable() -> None:
    assert DASHBOARD["uid"] == "luna-autoscaler"
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    ids = [p["id"] for p in panels(DASHBOARD)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(DASHBOARD):
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert re.fullmatch(r"[A-Z]", panel["targets"][0]["refId"])
