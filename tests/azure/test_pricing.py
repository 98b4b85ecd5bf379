"""Live Azure prices from the Retail Prices API served by the recording server (recorded-format JSON pages):
filtering, paging, re-pricing the bundled catalog, stale-while-error, price ages; and AKS's spot taint on offerings."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from prometheus_client import CollectorRegistry

from luna_autoscaler.errors import OfferingRef
from luna_autoscaler.models.catalog import CapacityType, Catalog
from pricing.azure import SPOT_TAINT
from pricing.azure.live_catalog import LiveAzureCatalog, PriceAgeCollector
from pricing.azure.retail_prices import fetch_retail_prices
from pricing.catalog import load_catalog
from tests.aws.clock import FakeClock
from tests.azure.arm_server import Fault, RecordingArmServer

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def priced(server: RecordingArmServer) -> RecordingArmServer:
    server.price_pages = [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("retail_prices_eastus_page*.json"))]
    return server


def live(server: RecordingArmServer, clock: FakeClock, refresh_seconds: float = 3600) -> LiveAzureCatalog:
    return LiveAzureCatalog(
        load_catalog("azure", "eastus"),
        base_url=f"{server.url}/api/retail/prices",
        clock=clock,
        refresh_seconds=refresh_seconds,
    )


def price(catalog: Catalog, name: str, capacity: str) -> float:
    found = catalog.find(OfferingRef(name, "eastus", capacity))
    assert found is not None
    return found.price_usd_per_hour


def test_the_query_filters_linux_consumption_prices_of_the_region_and_follows_next_page_links(
    priced: RecordingArmServer,
) -> None:
    read = fetch_retail_prices(f"{priced.url}/api/retail/prices", "eastus")

    first = priced.requests[0]
    assert first.query["$filter"] == (
        "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and armRegionName eq 'eastus'"
    )
    assert read.pages == 2 and priced.requests[1].query.get("$skip") == "1000"
    assert read.prices_usd_per_hour[("Standard_D4s_v5", CapacityType.ON_DEMAND)] == 0.192  # not Windows' 0.376
    assert read.prices_usd_per_hour[("Standard_D4s_v5", CapacityType.SPOT)] == 0.0384
    assert ("Standard_A1_v2", CapacityType.ON_DEMAND) not in read.prices_usd_per_hour  # zero price
    assert read.skipped == {"windows": 2, "low-priority": 1, "cloud-services": 1, "zero-price": 1}


def test_live_prices_replace_the_snapshots_and_spot_offerings_carry_the_aks_taint(
    priced: RecordingArmServer, clock: FakeClock
) -> None:
    bundled = load_catalog("azure", "eastus")
    assert price(bundled, "Standard_NC4as_T4_v3", "spot") == 0.204246
    assert bundled.find(OfferingRef("Standard_B1ls", "eastus", "spot")) is None

    catalog = live(priced, clock).catalog()

    assert price(catalog, "Standard_NC4as_T4_v3", "spot") == 0.1578
    assert price(catalog, "Standard_NC24ads_A100_v4", "on-demand") == 3.673
    added = catalog.find(OfferingRef("Standard_B1ls", "eastus", "spot"))
    assert added is not None and added.price_usd_per_hour == 0.0011 and SPOT_TAINT in added.node_taints
    spot = [o for o in catalog if o.capacity_type is CapacityType.SPOT]
    assert spot and all(SPOT_TAINT in o.node_taints for o in spot)
    assert all(dict(o.node_labels)["kubernetes.azure.com/scalesetpriority"] == "spot" for o in spot)
    assert all(not o.node_taints for o in catalog if o.capacity_type is CapacityType.ON_DEMAND)
    assert "live Azure retail prices" in catalog.provenance.source


def test_a_failed_refresh_keeps_the_last_good_prices_and_retries_sooner(
    priced: RecordingArmServer, clock: FakeClock
) -> None:
    prices = live(priced, clock)
    good = prices.catalog()
    registry = CollectorRegistry()
    registry.register(PriceAgeCollector(prices))

    clock.advance(3600)
    priced.price_faults.append(Fault(503, "ServiceUnavailable", "down"))
    assert prices.catalog() is good
    assert prices.price_ages()["spot"].age_seconds == 3600 and prices.price_ages()["spot"].live
    assert registry.get_sample_value("luna_price_age_seconds", {"cloud": "azure", "source": "on-demand"}) == 3600

    requests = len(priced.requests)
    clock.advance(299)
    prices.catalog()
    assert len(priced.requests) == requests  # not due yet
    clock.advance(1)
    assert prices.catalog() is not good and prices.price_ages()["on-demand"].age_seconds == 0


def test_without_a_good_fetch_the_snapshot_is_used_and_says_how_old_it_is(
    priced: RecordingArmServer, clock: FakeClock
) -> None:
    priced.price_faults.append(Fault(500, "InternalServerError", "down"))
    prices = live(priced, clock)
    assert prices.catalog() is prices.current
    age = prices.price_ages()["on-demand"]
    assert (
        not age.live and age.age_seconds == (clock.now - age.as_of).total_seconds() > timedelta(days=1).total_seconds()
    )
    assert all(parse_qs(urlsplit(r.path).query) == {} for r in priced.requests)


def test_the_bundled_azure_catalog_carries_the_spot_taint_and_other_clouds_do_not() -> None:
    azure = load_catalog("azure", "eastus")
    assert all(SPOT_TAINT in o.node_taints for o in azure if o.capacity_type is CapacityType.SPOT)
    assert all(not o.node_taints for o in load_catalog("aws", "us-east-1"))
