"""Current spot prices per instance type and zone, from EC2 DescribeSpotPriceHistory.

With `StartTime` = now EC2 returns, for every type and zone, the price in force now (one record each, more when
both product descriptions exist). The newest record per (type, zone) wins. Records that do not parse are counted
and skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PRODUCT_DESCRIPTIONS = ("Linux/UNIX", "Linux/UNIX (Amazon VPC)")
PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class SpotPriceHistory:
    prices_usd_per_hour: Mapping[tuple[str, str], float]  # (instance type, zone) → price
    skipped: int
    newest: datetime | None  # timestamp of the newest record


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def read_spot_history(records: Iterable[Mapping[str, Any]]) -> SpotPriceHistory:
    latest: dict[tuple[str, str], tuple[datetime, float]] = {}
    skipped = 0
    for record in records:
        try:
            key = (str(record["InstanceType"]), str(record["AvailabilityZone"]))
            at = _aware(record["Timestamp"])
            price = float(record["SpotPrice"])
        except (KeyError, TypeError, ValueError, AttributeError):
            skipped += 1
            continue
        if price <= 0:
            skipped += 1
            continue
        held = latest.get(key)
        if held is None or (at, -price) > (held[0], -held[1]):
            latest[key] = (at, price)
    prices = {key: price for key, (_, price) in sorted(latest.items())}
    newest = max((at for at, _ in latest.values()), default=None)
    return SpotPriceHistory(prices, skipped, newest)


def fetch_spot(ec2: Any, now: datetime) -> SpotPriceHistory:
    pages = ec2.get_paginator("describe_spot_price_history").paginate(
        ProductDescriptions=list(PRODUCT_DESCRIPTIONS),
        StartTime=now,
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    return read_spot_history(record for page in pages for record in page.get("SpotPriceHistory", []))
