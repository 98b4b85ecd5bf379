"""Live AWS prices: recorded-format GetProducts and spot price history answers, refresh, stale-while-error, age.

The answers come from tests/aws/fixtures (real wire formats) through the recording server, read by the real
boto3 pricing and EC2 clients.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from luna_autoscaler.config import config_from_mapping
from luna_autoscaler.errors import OfferingRef
from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering
from luna_autoscaler.planner.shapes import PreparedOfferings
from luna_autoscaler.ports import ProviderContext
from pricing.aws.live_catalog import ON_DEMAND_SOURCE, SPOT_SOURCE, LiveAwsCatalog, PriceAgeCollector
from pricing.aws.price_list import fetch_on_demand, read_price_list
from pricing.aws.spot_history import fetch_spot
from pricing.catalog import load_catalog
from tests.aws.clock import FakeClock
from tests.aws.conftest import ProviderFactory
from tests.aws.recording_server import FIXTURES
from tests.aws.world import REGION, AwsWorld

RATIO = 0.35


def find(catalog: Catalog, name: str, zone: str, capacity: CapacityType) -> Offering:
    (found,) = [o for o in catalog if o.name == name and o.zone == zone and o.capacity_type is capacity]
    return found


def live_catalog(world: AwsWorld, clock: FakeClock, refresh_seconds: float = 3600.0) -> LiveAwsCatalog:
    return LiveAwsCatalog(
        load_catalog("aws", REGION),
        pricing_client=world.recorder_client("pricing"),
        ec2_client=world.recorder_client("ec2"),
        clock=clock,
        refresh_seconds=refresh_seconds,
    )


def test_price_list_items_are_read_from_their_json_strings() -> None:
    items = [
        i for page in sorted(FIXTURES.glob("get_products_*.json")) for i in json.loads(page.read_text())["PriceList"]
    ]
    read = read_price_list(items)
    assert read.prices_usd_per_hour == {
        "c7g.large": 0.0725,
        "g4dn.xlarge": 0.526,
        "g5.12xlarge": 5.672,
        "g5.xlarge": 1.006,  # the plain RunInstances product, not the dearer RunInstances:0g00 one
        "m5.large": 0.096,
        "p4d.24xlarge": 32.7726,
    }
    assert read.skipped == 1  # the truncated item
    assert read.publication == "2026-11-20T18:21:43Z"


def test_on_demand_fetch_filters_the_region_and_follows_pages(world: AwsWorld) -> None:
    before = len(world.recorder.requests)
    read = fetch_on_demand(world.recorder_client("pricing"), REGION)
    assert len(read.prices_usd_per_hour) == 6
    calls = [r.params for r in world.recorder.requests[before:] if r.operation == "GetProducts"]
    assert [c.get("NextToken") for c in calls] == [None, "Vq2Pg3x9fQ==:page2"]
    filters = {f["Field"]: f["Value"] for f in calls[0]["Filters"]}
    assert calls[0]["ServiceCode"] == "AmazonEC2"
    assert filters == {
        "regionCode": "us-east-1",
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "marketoption": "OnDemand",
    }


def test_spot_fetch_keeps_the_newest_price_per_type_and_zone(world: AwsWorld) -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    read = fetch_spot(world.recorder_client("ec2"), now)
    assert read.prices_usd_per_hour == {
        ("g4dn.xlarge", "us-east-1a"): 0.2158,
        ("g5.xlarge", "us-east-1a"): 0.4287,  # 11:47 beats 06:02
        ("g5.xlarge", "us-east-1b"): 0.3999,
        ("m5.large", "us-east-1c"): 0.0369,  # two product descriptions, same moment: the lower
        ("p4d.24xlarge", "us-east-1b"): 14.6123,
    }
    assert read.skipped == 1
    (first, *_) = [r.params for r in world.recorder.requests if r.operation == "DescribeSpotPriceHistory"]
    assert first["StartTime"].startswith("2026-11-28T12:00:00")
    assert {first["ProductDescription.1"], first["ProductDescription.2"]} == {"Linux/UNIX", "Linux/UNIX (Amazon VPC)"}


def test_live_prices_refine_the_bundled_catalog(world: AwsWorld, clock: FakeClock) -> None:
    prices = live_catalog(world, clock)
    bundled = load_catalog("aws", REGION)
    catalog = prices.catalog()

    added = {o.ref for o in catalog} - {o.ref for o in bundled}
    assert {o.ref for o in bundled} <= {o.ref for o in catalog}
    assert added and all(  # a live spot price where the snapshot sold the type on-demand only
        o.capacity_type is CapacityType.SPOT and o.provenance.source == SPOT_SOURCE for o in catalog if o.ref in added
    )
    od = find(catalog, "g5.xlarge", "us-east-1a", CapacityType.ON_DEMAND)
    assert (od.price_usd_per_hour, od.provenance.source) == (1.006, ON_DEMAND_SOURCE)
    spot = find(catalog, "g5.xlarge", "us-east-1a", CapacityType.SPOT)
    assert (spot.price_usd_per_hour, spot.provenance.source, spot.price_estimated) == (0.4287, SPOT_SOURCE, False)
    assert spot.interruption_band == find(bundled, "g5.xlarge", "us-east-1a", CapacityType.SPOT).interruption_band
    # No live spot price for m5.large in us-east-1a: the planner's estimate follows the live on-demand price.
    config = config_from_mapping({"spotPriceRatioEstimate": RATIO})
    (estimated,) = [
        p.offering
        for p in PreparedOfferings.build(catalog, config).offerings
        if p.offering.ref == OfferingRef("m5.large", "us-east-1a", "spot")
    ]
    assert estimated.price_estimated and estimated.price_usd_per_hour == round(0.096 * RATIO, 6)
    assert estimated.provenance.source == f"{ON_DEMAND_SOURCE}, on-demand x spotPriceRatioEstimate {RATIO:g}"
    # A type the live answers do not mention keeps the snapshot's price and provenance.
    untouched = find(catalog, "t3.large", "us-east-1a", CapacityType.ON_DEMAND)
    assert untouched == find(bundled, "t3.large", "us-east-1a", CapacityType.ON_DEMAND)
    assert catalog.provenance.as_of == clock.now.date()


def test_refresh_follows_the_interval_and_keeps_last_good_prices_on_failure(world: AwsWorld, clock: FakeClock) -> None:
    prices = live_catalog(world, clock, refresh_seconds=3600)
    first = prices.catalog()
    fetched = len(world.recorder.requests)

    clock.advance(1800)
    assert prices.catalog() is first  # not due: nothing fetched, the same object
    assert len(world.recorder.requests) == fetched
    assert prices.price_ages()["on-demand"].age_seconds == 1800

    clock.advance(1800)
    world.recorder.fail("GetProducts", 400, "AccessDeniedException", "not authorized to perform pricing:GetProducts")
    with capture_logs() as logs:
        second = prices.catalog()
    assert second is not first  # spot was refreshed and swapped in
    failed = [e for e in logs if e["event"] == "price refresh failed; keeping the last good prices"]
    assert [e["source"] for e in failed] == ["on-demand"]
    assert "AccessDeniedException" in failed[0]["error"]
    assert failed[0]["prices_live"] is True and failed[0]["price_age_seconds"] == 3600
    od = find(second, "g5.xlarge", "us-east-1a", CapacityType.ON_DEMAND)
    assert (od.price_usd_per_hour, od.provenance.source) == (1.006, ON_DEMAND_SOURCE)
    ages = prices.price_ages()
    assert (ages["on-demand"].age_seconds, ages["spot"].age_seconds) == (3600, 0)

    clock.advance(300)  # a failure is retried after 5 minutes, not a full interval
    before = len(world.recorder.requests)
    prices.catalog()
    assert "GetProducts" in [r.operation for r in world.recorder.requests[before:]]
    assert prices.price_ages()["on-demand"].age_seconds == 0


def test_with_no_good_fetch_the_snapshot_is_used_and_its_age_shown(world: AwsWorld, clock: FakeClock) -> None:
    prices = live_catalog(world, clock)
    world.recorder.fail("GetProducts", 400, "AccessDeniedException")
    world.recorder.fail("DescribeSpotPriceHistory", 403, "UnauthorizedOperation")
    catalog = prices.catalog()
    bundled = load_catalog("aws", REGION)
    assert catalog.offerings == bundled.offerings
    ages = prices.price_ages()
    assert not ages["on-demand"].live and not ages["spot"].live
    snapshot_day = min(o.provenance.as_of for o in bundled if o.capacity_type is CapacityType.ON_DEMAND)
    expected = (clock.now - datetime.combine(snapshot_day, datetime.min.time(), tzinfo=UTC)).total_seconds()
    assert ages["on-demand"].age_seconds == expected


def test_a_zero_interval_disables_fetching(world: AwsWorld, clock: FakeClock) -> None:
    prices = live_catalog(world, clock, refresh_seconds=0)
    before = len(world.recorder.requests)
    assert prices.catalog().offerings == load_catalog("aws", REGION).offerings
    assert len(world.recorder.requests) == before


def test_price_age_is_a_prometheus_gauge(world: AwsWorld, clock: FakeClock) -> None:
    prices = live_catalog(world, clock)
    registry = CollectorRegistry()
    registry.register(PriceAgeCollector(prices))
    prices.catalog()
    clock.advance(42)
    assert registry.get_sample_value("luna_price_age_seconds", {"cloud": "aws", "source": "spot"}) == 42
    assert registry.get_sample_value("luna_price_live", {"cloud": "aws", "source": "on-demand"}) == 1


def test_the_provider_registers_its_price_age_where_the_context_says(
    world: AwsWorld, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real entry point, with its credentials and endpoints from the environment as in a pod."""
    from providers.aws import create

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", world.moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", world.recorder.url)
    monkeypatch.setenv("MOTO_ACCOUNT_ID", world.account_id)  # moto runs in this process: it reads this too
    registry = CollectorRegistry()
    provider = create(
        ProviderContext(world.config(pricingRefreshInterval=0), "gpu-test", clock, metrics_registry=registry)
    )
    assert provider.name == "aws"
    assert isinstance(provider.list_instances(), list)
    assert registry.get_sample_value("luna_price_live", {"cloud": "aws", "source": "spot"}) == 0


def test_the_provider_reports_the_age_of_its_prices(make_provider: ProviderFactory, clock: FakeClock) -> None:
    provider = make_provider()
    provider.catalog()
    clock.advance(60)
    ages = provider.price_ages()
    assert ages["on-demand"].live and ages["on-demand"].age_seconds == 60
    assert ages["spot"].as_of == clock.now - timedelta(seconds=60)
