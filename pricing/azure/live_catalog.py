"""The Azure catalog with live retail prices: the bundled snapshot, re-priced by periodic fetches, swapped atomically.

Which sizes exist and their shapes come from the bundled snapshot; the Retail Prices API (pricing.azure.
retail_prices) gives on-demand and spot prices of the region in one paged query, which replace the snapshot's
where known (a live spot price for a size the snapshot sold on-demand only adds that spot offering). Every
offering goes through `offering_policy`, so a live spot offering carries AKS's spot taint like a bundled one.
Each refresh builds a new immutable Catalog and swaps one reference. A failed fetch keeps the last good prices
(or the snapshot's), logs why, and is retried after 5 minutes (pricing.price_age). The age of the prices in use
is `price_ages()` and the gauges `luna_price_age_seconds{cloud="azure",source}` / `luna_price_live`.
The refresh runs inside `catalog()` when due (the clock is injected): no thread of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, time

import structlog

from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering, PriceProvenance
from pricing.azure import offering_policy
from pricing.azure.retail_prices import Fetch, RetailPrices, fetch_retail_prices, http_json
from pricing.price_age import LiveCatalog, PriceAge, PriceAgeCollector

log = structlog.get_logger(__name__)

__all__ = ["LiveAzureCatalog", "PriceAgeCollector"]

SOURCE = "Azure Retail Prices API (live)"
SOURCES = (CapacityType.ON_DEMAND, CapacityType.SPOT)

Clock = Callable[[], datetime]


def reprice(bundled: Catalog, prices: RetailPrices, fetched_at: datetime) -> Catalog:
    """The bundled catalog at the live prices (pure)."""
    provenance = PriceProvenance(SOURCE, fetched_at.date())
    live = prices.prices_usd_per_hour
    offerings: list[Offering] = []
    for o in bundled.offerings:
        price = live.get((o.name, o.capacity_type))
        offerings.append(
            o if price is None else replace(o, price_usd_per_hour=price, provenance=provenance, price_estimated=False)
        )
    sold_spot = {(o.name, o.zone) for o in bundled.offerings if o.capacity_type is CapacityType.SPOT}
    for o in bundled.offerings:
        spot = live.get((o.name, CapacityType.SPOT))
        if o.capacity_type is CapacityType.ON_DEMAND and spot is not None and (o.name, o.zone) not in sold_spot:
            sold_spot.add((o.name, o.zone))
            offerings.append(
                offering_policy(Offering(o.instance_type, o.region, o.zone, CapacityType.SPOT, spot, provenance))
            )
    catalog_provenance = PriceProvenance(f"{bundled.provenance.source}; live Azure retail prices", fetched_at.date())
    return Catalog(bundled.cloud, bundled.region, tuple(offerings), catalog_provenance, bundled.instance_types)


class LiveAzureCatalog(LiveCatalog):
    """Live-priced catalog of one region. `refresh_seconds` 0 disables fetching (the snapshot is used as is)."""

    def __init__(
        self,
        bundled: Catalog,
        *,
        base_url: str,
        clock: Clock,
        refresh_seconds: float,
        fetch: Fetch = http_json,
    ) -> None:
        super().__init__(bundled, clock=clock, refresh_seconds=refresh_seconds)
        self._base_url = base_url
        self._fetch = fetch
        self._fetched_at: datetime | None = None
        self._bundled_as_of = datetime.combine(bundled.provenance.as_of, time(), tzinfo=UTC)

    def _refresh(self, now: datetime) -> bool:
        region = self._bundled.region
        try:
            prices = fetch_retail_prices(self._base_url, region, self._fetch)
            if not prices.prices_usd_per_hour:
                raise ValueError("the answer holds no Linux VM price")
        except (OSError, ValueError, KeyError, TypeError) as e:
            age = self._age(CapacityType.ON_DEMAND, now)
            log.warning(
                "price refresh failed; keeping the last good prices",
                cloud="azure",
                region=region,
                error=f"{type(e).__name__}: {e}",
                prices_live=age.live,
                price_age_seconds=round(age.age_seconds),
            )
            return False
        self._current = reprice(self._bundled, prices, now)
        self._fetched_at = now
        log.info(
            "prices refreshed",
            cloud="azure",
            region=region,
            prices=len(prices.prices_usd_per_hour),
            pages=prices.pages,
            skipped=dict(prices.skipped),
            price_age_seconds=0,
        )
        return True

    def _age(self, source: CapacityType, now: datetime) -> PriceAge:
        as_of = self._fetched_at or self._bundled_as_of
        return PriceAge(source.value, max(0.0, (now - as_of).total_seconds()), self._fetched_at is not None, as_of)

    def price_ages(self) -> Mapping[str, PriceAge]:
        """Source (`on-demand`, `spot`) → how old the prices in use are, and whether they are live."""
        now = self._clock()
        return {s.value: self._age(s, now) for s in SOURCES}
