"""Azure VM prices from the public Retail Prices API (no authentication), on-demand and spot in one query.

`GET https://prices.azure.com/api/retail/prices?$filter=serviceName eq 'Virtual Machines' and priceType eq
'Consumption' and armRegionName eq '<region>'` answers pages of at most 1,000 items with a `NextPageLink` to the
next page. What a row means is in its names: `productName` says the OS (`Virtual Machines Dv3 Series Windows`)
or the older Cloud Services; `skuName` says the priority (`D4s v3`, `D4s v3 Spot`, `D4s v3 Low Priority`);
`armSkuName` is the VM size (`Standard_D4s_v3`). Kept: Linux pay-as-you-go rows with a price, regular or spot.
Dropped, and counted by reason: Windows, Cloud Services, zero prices, low priority (the retired Batch/VMSS
priority AKS cannot use), rows without a size or not per hour. A size listed more than once (several meters for
one size) keeps its lowest price.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from luna_autoscaler.models.catalog import CapacityType

MAX_PAGES = 500
TIMEOUT_SECONDS = 30.0

Fetch = Callable[[str], Mapping[str, Any]]


def query_url(base_url: str, region: str) -> str:
    """The first page's URL for `region`."""
    odata = (
        "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
        f"and armRegionName eq '{region.replace(chr(39), '')}'"
    )
    return f"{base_url}?{urllib.parse.urlencode({'$filter': odata}, quote_via=urllib.parse.quote)}"


def http_json(url: str) -> Mapping[str, Any]:
    """GET one page (the API is public: no credential). Raises OSError / ValueError on failure."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        doc = json.loads(response.read())
    if not isinstance(doc, Mapping):
        raise ValueError(f"{url}: the answer is not a JSON object")
    return doc


@dataclass(frozen=True, slots=True)
class RetailPrices:
    prices_usd_per_hour: Mapping[tuple[str, CapacityType], float]  # (VM size, capacity type) → price
    skipped: Mapping[str, int]  # reason → rows dropped
    pages: int


def pages(first_url: str, fetch: Fetch = http_json) -> Iterator[Mapping[str, Any]]:
    url: str | None = first_url
    for _ in range(MAX_PAGES):
        if not url:
            return
        page = fetch(url)
        yield page
        url = page.get("NextPageLink") or None
    raise ValueError(f"more than {MAX_PAGES} pages of retail prices: refusing to go on")


def _reason_to_skip(item: Mapping[str, Any]) -> str | None:
    product = str(item.get("productName", ""))
    sku = str(item.get("skuName", ""))
    if "Windows" in product:
        return "windows"
    if "Cloud Services" in product:
        return "cloud-services"
    if "Low Priority" in sku:
        return "low-priority"
    if not item.get("armSkuName"):
        return "no-size"
    if str(item.get("unitOfMeasure", "1 Hour")) != "1 Hour" or str(item.get("currencyCode", "USD")) != "USD":
        return "not-usd-per-hour"
    if not float(item.get("retailPrice") or 0.0) > 0:
        return "zero-price"
    return None


def read_items(items: Iterator[Mapping[str, Any]]) -> tuple[dict[tuple[str, CapacityType], float], Counter[str]]:
    prices: dict[tuple[str, CapacityType], float] = {}
    skipped: Counter[str] = Counter()
    for item in items:
        reason = _reason_to_skip(item)
        if reason is not None:
            skipped[reason] += 1
            continue
        capacity = CapacityType.SPOT if " Spot" in str(item.get("skuName", "")) else CapacityType.ON_DEMAND
        key = (str(item["armSkuName"]), capacity)
        price = float(item["retailPrice"])
        prices[key] = min(price, prices.get(key, price))
    return prices, skipped


def fetch_retail_prices(base_url: str, region: str, fetch: Fetch = http_json) -> RetailPrices:
    """Every Linux VM price of `region`, following `NextPageLink` to the last page."""
    count = 0

    def items() -> Iterator[Mapping[str, Any]]:
        nonlocal count
        for page in pages(query_url(base_url, region), fetch):
            count += 1
            raw = page.get("Items")
            if not isinstance(raw, list):
                raise ValueError("a retail prices page without Items")
            yield from (i for i in raw if isinstance(i, Mapping))

    prices, skipped = read_items(items())
    return RetailPrices(prices, dict(skipped), count)
