"""On-demand prices from the AWS Price List Query API (`pricing:GetProducts`, service code AmazonEC2).

Each answer page holds `PriceList`: a list of JSON *strings*, one product each, nesting the product's attributes
and its terms (`terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit.USD`, per `Hrs`). We ask for the
region's shared-tenancy Linux products without pre-installed software, capacity status `Used` (the price of a
running instance, not of an unused reservation) and market option `OnDemand`: one product per instance type.
The region is matched on `regionCode` rather than the display name in `location`, which needs no region → name
table; the instance type is not filtered, so one paginated scan (about ten pages of 100) prices every type
instead of a call per type. Products that do not parse are counted and skipped, never fatal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SERVICE_CODE = "AmazonEC2"
PAGE_SIZE = 100  # GetProducts' maximum
_RUN_INSTANCES = "RunInstances"  # the Linux operation; RunInstances:xxxx are other OS/licence variants


def product_filters(region: str) -> list[dict[str, str]]:
    wanted = {
        "regionCode": region,
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "marketoption": "OnDemand",
    }
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in wanted.items()]


@dataclass(frozen=True, slots=True)
class OnDemandPriceList:
    prices_usd_per_hour: Mapping[str, float]  # instance type → price
    skipped: int  # products that could not be read
    publication: str  # the newest `publicationDate` seen, as AWS wrote it ("" if none)


@dataclass(frozen=True, slots=True)
class _Product:
    instance_type: str
    price_usd_per_hour: float
    run_instances: bool
    publication: str


def _hourly_usd(terms: Mapping[str, Any]) -> float | None:
    for offer in (terms.get("OnDemand") or {}).values():
        for dimension in (offer.get("priceDimensions") or {}).values():
            if dimension.get("unit") not in ("Hrs", "Hours"):
                continue
            usd = float(dimension["pricePerUnit"]["USD"])
            if usd > 0:
                return usd
    return None


def read_product(item: str) -> _Product | None:
    """One `PriceList` string → its instance type and hourly price (None: not an instance price we use).

    Raises ValueError (or KeyError/TypeError) for a string that is not a product document at all.
    """
    doc = json.loads(item)
    attributes = doc["product"]["attributes"]
    instance_type = attributes.get("instanceType")
    if not instance_type:
        return None
    usd = _hourly_usd(doc.get("terms") or {})
    if usd is None:
        return None
    operation = attributes.get("operation", _RUN_INSTANCES)
    return _Product(instance_type, usd, operation == _RUN_INSTANCES, str(doc.get("publicationDate", "")))


def read_price_list(items: Iterable[str]) -> OnDemandPriceList:
    chosen: dict[str, _Product] = {}
    skipped = 0
    for item in items:
        try:
            product = read_product(item)
        except (ValueError, KeyError, TypeError, AttributeError):
            skipped += 1
            continue
        if product is None:
            continue
        held = chosen.get(product.instance_type)
        # Prefer the plain Linux operation, then the lower price: deterministic whatever the page order.
        if held is None or (not held.run_instances, held.price_usd_per_hour) > (
            not product.run_instances,
            product.price_usd_per_hour,
        ):
            chosen[product.instance_type] = product
    prices = {name: p.price_usd_per_hour for name, p in sorted(chosen.items())}
    publication = max((p.publication for p in chosen.values()), default="")
    return OnDemandPriceList(prices, skipped, publication)


def fetch_on_demand(pricing: Any, region: str) -> OnDemandPriceList:
    """Every page of GetProducts for the region (botocore errors propagate to the caller)."""
    pages = pricing.get_paginator("get_products").paginate(
        ServiceCode=SERVICE_CODE,
        Filters=product_filters(region),
        FormatVersion="aws_v1",
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    return read_price_list(item for page in pages for item in page.get("PriceList", []))
