"""Live GCP prices from the Cloud Billing Catalog, through the real billing client against the recording server:
SKU parsing per series and GPU, region matching, repricing, stale-while-error and the price-age gauges."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client import CollectorRegistry

from luna_autoscaler.models.catalog import CapacityType
from pricing.catalog import load_catalog
from pricing.gcp.billing import COMPUTE_ENGINE_SERVICE, fetch_unit_prices
from pricing.gcp.live_catalog import RETRY_AFTER_FAILURE_SECONDS, SOURCE, LiveGcpCatalog
from pricing.gcp.machines import GKE_ACCELERATOR_LABEL, GKE_SPOT_LABEL
from pricing.price_age import PriceAgeCollector
from tests.aws.clock import FakeClock
from tests.gcp import world
from tests.gcp.recording_server import FIXTURES, RecordingGcpServer


def fixture_price(description: str) -> float:
    """The unit price the fixture SKUs give for a description (what a test expects, read from the same JSON)."""
    for page in sorted(FIXTURES.glob("skus_page*.json")):
        for sku in json.loads(page.read_text())["skus"]:
            if sku["description"] == description:
                price: dict[str, Any] = sku["pricingInfo"][0]["pricingExpression"]["tieredRates"][0]["unitPrice"]
                return int(price["units"]) + price["nanos"] / 1e9
    raise KeyError(description)


def live(server: RecordingGcpServer, clock: FakeClock, refresh_seconds: float = 3600.0) -> LiveGcpCatalog:
    bundled = load_catalog("gcp", world.REGION)
    return LiveGcpCatalog(
        bundled, billing_client=world.clients(server).billing, clock=clock, refresh_seconds=refresh_seconds
    )


def test_skus_give_unit_prices_per_series_and_gpu_for_the_region(server: RecordingGcpServer) -> None:
    read = fetch_unit_prices(world.clients(server).billing, world.REGION)

    calls = server.calls("listSkus")
    assert len(calls) == 2 and calls[0].path == f"/v1/{COMPUTE_ENGINE_SERVICE}/skus"  # both pages
    on_demand, spot = read.prices[CapacityType.ON_DEMAND], read.prices[CapacityType.SPOT]
    assert on_demand.core_usd["N1"] == fixture_price("N1 Predefined Instance Core running in Americas")
    assert spot.ram_usd["E2"] == fixture_price("Spot Preemptible E2 Instance Ram running in Americas")
    assert on_demand.gpu_usd["nvidia-l4"] == fixture_price("Nvidia L4 GPU running in Americas")
    assert on_demand.core_usd["E2"] != fixture_price("E2 Instance Core running in EMEA")  # not this region's
    assert read.skipped == 1  # the custom core SKU is not guessed at (commitments are not usage prices at all)


def test_the_catalog_is_repriced_host_plus_gpus_and_carries_gke_labels(
    server: RecordingGcpServer, clock: FakeClock
) -> None:
    catalog = live(server, clock).catalog()

    t4 = next(o for o in catalog if o.name == "n1-standard-4_t4x1" and o.capacity_type is CapacityType.ON_DEMAND)
    it = t4.instance_type
    expected = (
        it.vcpus * fixture_price("N1 Predefined Instance Core running in Americas")
        + it.memory_mib / 1024 * fixture_price("N1 Predefined Instance Ram running in Americas")
        + fixture_price("Nvidia Tesla T4 GPU running in Americas")
    )
    assert abs(t4.price_usd_per_hour - expected) < 1e-6 and t4.provenance.source == SOURCE
    assert dict(t4.node_labels)[GKE_ACCELERATOR_LABEL] == "nvidia-tesla-t4"
    spot = next(o for o in catalog if o.name == "g2-standard-8" and o.capacity_type is CapacityType.SPOT)
    assert dict(spot.node_labels)[GKE_SPOT_LABEL] == "true" and spot.provenance.source == SOURCE
    a100 = next(o for o in catalog if o.name == "a2-highgpu-1g" and o.capacity_type is CapacityType.SPOT)
    assert a100.provenance.source != SOURCE  # no spot A100 SKU in the answer: the snapshot's price stays
    assert "live GCP prices" in catalog.provenance.source


def test_a_failed_refresh_keeps_the_last_good_prices_and_retries_sooner(
    server: RecordingGcpServer, clock: FakeClock
) -> None:
    prices = live(server, clock)
    good = prices.catalog()
    clock.advance(3600)
    server.fail("listSkus", 503, "", "The service is currently unavailable.")

    assert prices.catalog() is good
    clock.advance(RETRY_AFTER_FAILURE_SECONDS)
    assert prices.catalog() is not good and len(server.calls("listSkus")) == 5


def test_without_any_good_fetch_the_snapshot_is_used_and_the_gauges_say_so(
    server: RecordingGcpServer, clock: FakeClock
) -> None:
    server.fail("listSkus", 403, "forbidden", "Permission denied on the Cloud Billing API")
    prices = live(server, clock)
    registry = CollectorRegistry()
    registry.register(PriceAgeCollector(prices))

    assert prices.catalog().offerings == prices.current.offerings
    assert all(o.provenance.source != SOURCE for o in prices.catalog())
    assert registry.get_sample_value("luna_price_live", {"cloud": "gcp", "source": "on-demand"}) == 0
    clock.advance(RETRY_AFTER_FAILURE_SECONDS)
    prices.catalog()
    clock.advance(42)
    assert registry.get_sample_value("luna_price_live", {"cloud": "gcp", "source": "spot"}) == 1
    assert registry.get_sample_value("luna_price_age_seconds", {"cloud": "gcp", "source": "spot"}) == 42
