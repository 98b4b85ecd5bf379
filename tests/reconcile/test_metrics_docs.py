"""docs/metrics.md names every metric the loop and the AWS provider register, with the name Prometheus exposes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from luna_autoscaler.observability.metrics import Metrics
from pricing.aws.live_catalog import LiveAwsCatalog, PriceAgeCollector
from pricing.catalog import load_catalog

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_every_metric_is_documented_under_its_exposed_name() -> None:
    text = DOC.read_text()
    exposed = []
    for family in Metrics().registry.collect():
        exposed.append(family.name + ("_total" if family.type == "counter" else ""))
    missing = [name for name in exposed if f"`{name}`" not in text]
    assert len(exposed) >= 15 and not missing, f"docs/metrics.md does not document {missing}"


def test_the_aws_providers_price_gauges_are_documented() -> None:
    """The AWS provider registers them in the registry the daemon serves (ProviderContext.metrics_registry)."""
    text = DOC.read_text()
    prices = LiveAwsCatalog(
        load_catalog("aws"),
        pricing_client=None,
        ec2_client=None,
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        refresh_seconds=0,
    )
    registry = CollectorRegistry()
    registry.register(PriceAgeCollector(prices))
    exposed = [family.name for family in registry.collect()]
    missing = [name for name in exposed if f"`{name}`" not in text]
    assert exposed == ["luna_price_age_seconds", "luna_price_live"] and not missing, missing
