"""docs/metrics.md names every metric the loop registers, with the name Prometheus exposes."""

from __future__ import annotations

from pathlib import Path

from luna_autoscaler.observability.metrics import Metrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_every_metric_is_documented_under_its_exposed_name() -> None:
    text = DOC.read_text()
    exposed = []
    for family in Metrics().registry.collect():
        exposed.append(family.name + ("_total" if family.type == "counter" else ""))
    missing = [name for name in exposed if f"`{name}`" not in text]
    assert len(exposed) >= 15 and not missing, f"docs/metrics.md does not document {missing}"
