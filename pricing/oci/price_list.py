"""OCI's public price list: the cost estimator's products API (no authentication), read into shape prices.

`GET <url>?currencyCode=USD` answers `{"items": [{"partNumber": "B93113", "displayName": "Compute - Standard -
E4 - OCPU", "metricName": "OCPU Per Hour", "currencyCodeLocalizations": [{"currencyCode": "USD", "prices":
[{"model": "PAY_AS_YOU_GO", "value": 0.025}]}]}, ...]}`, possibly over several pages (`hasMore` and a `next`
link, as Oracle REST Data Services pages). Only pay-as-you-go values are read. Parts are joined to shapes by
part number, which Oracle keeps stable while display names change: a GPU shape costs its GPU part × its GPU
count (host CPU and memory included), a flexible size its OCPU part × OCPUs + its memory part × GB.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from luna_autoscaler.models.catalog import InstanceType
from pricing.oci.shapes import flex_shape, launch_shape

PAY_AS_YOU_GO = "PAY_AS_YOU_GO"
MAX_PAGES = 50
TIMEOUT_SECONDS = 30.0

# GPU shape family → its "Compute - GPU - <model>" part, priced per GPU-hour.
GPU_PARTS: Mapping[str, str] = {
    "VM.GPU2": "B88518",
    "BM.GPU2": "B88518",
    "VM.GPU3": "B89734",
    "BM.GPU3": "B89734",
    "VM.GPU.A10": "B95909",
    "BM.GPU.A10": "B95909",
    "BM.GPU4": "B92740",
    "BM.GPU.A100-v2": "B95907",
    "BM.GPU.L40S": "B109479",
    "BM.GPU.H100": "B98415",
    "BM.GPU.H200": "B110519",
    "BM.GPU.MI300X": "B109485",
    "BM.GPU.B200": "B110978",
    "BM.GPU.GB200": "B110979",
}


class PriceListError(ValueError):
    """An answer that is not the price list we know (wrong shape, no USD pay-as-you-go value)."""


@dataclass(frozen=True, slots=True)
class PriceListRead:
    parts_usd: Mapping[str, float]  # part number → pay-as-you-go USD per unit-hour
    pages: int


def fetch_parts(url: str, *, opener: urllib.request.OpenerDirector | None = None) -> PriceListRead:
    """Every part's pay-as-you-go USD price, following the pages. Network errors propagate (OSError)."""
    open_url = (opener or urllib.request.build_opener()).open
    parts: dict[str, float] = {}
    next_url: str | None = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode({'currencyCode': 'USD'})}"
    pages = 0
    while next_url is not None and pages < MAX_PAGES:
        with open_url(next_url, timeout=TIMEOUT_SECONDS) as answer:
            doc = json.loads(answer.read())
        pages += 1
        if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
            raise PriceListError(f"price list page {pages} has no items list")
        parts.update(_read_items(doc["items"]))
        next_url = _next_page(doc)
    return PriceListRead(parts, pages)


def _read_items(items: Iterable[object]) -> Iterator[tuple[str, float]]:
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("partNumber"), str):
            continue
        for local in item.get("currencyCodeLocalizations") or ():
            if not isinstance(local, dict) or local.get("currencyCode") != "USD":
                continue
            values = [
                p.get("value")
                for p in local.get("prices") or ()
                if isinstance(p, dict) and p.get("model") == PAY_AS_YOU_GO
            ]
            numbers = [float(v) for v in values if isinstance(v, int | float)]
            if numbers:
                # Tiered parts list ranges: a free allowance (A1's first 3,000 OCPU hours a month at 0) or volume
                # discounts; the highest value is the list price a node is billed at.
                yield item["partNumber"], max(numbers)


def _next_page(doc: Mapping[str, object]) -> str | None:
    if not doc.get("hasMore"):
        return None
    for link in doc.get("links") or ():  # type: ignore[attr-defined]
        if isinstance(link, dict) and link.get("rel") == "next" and isinstance(link.get("href"), str):
            return str(link["href"])
    return None


def shape_price(it: InstanceType, parts_usd: Mapping[str, float]) -> float | None:
    """The on-demand USD/hour of an OCI instance type from part prices; None if its parts are not listed."""
    if it.accelerator is not None:
        part = GPU_PARTS.get(it.family)
        if part is None or part not in parts_usd:
            return None
        return round(parts_usd[part] * it.accelerator.count, 6)
    shape = launch_shape(it.name)
    flex = flex_shape(shape.shape)
    if flex is None or shape.ocpus is None or shape.memory_gb is None:
        return None
    ocpu, memory = parts_usd.get(flex.ocpu_part), parts_usd.get(flex.memory_part)
    if ocpu is None or memory is None:
        return None
    return round(shape.ocpus * ocpu + shape.memory_gb * memory, 6)
