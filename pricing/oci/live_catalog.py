"""The OCI catalog with live prices: the bundled shapes, repriced from the public price list, swapped atomically.

Which shapes exist comes from the bundled snapshot (placed by the provider in the cluster's availability
domains); prices come from OCI's products API (pricing.oci.price_list), which needs no credentials. OCI publishes
no separate preemptible price list: preemptible capacity is priced at 50 % of pay as you go ("Preemptible
instances are priced at 50% of the price of regular instances", oracle.com/cloud/compute/pricing and the
Preemptible Instances page of the Compute documentation), so a preemptible offering follows its live on-demand
price × 0.5.

Each refresh builds a new immutable Catalog and swaps one reference. A failed fetch keeps the last good prices
(or the snapshot's) and is retried after `RETRY_AFTER_FAILURE_SECONDS`; `price_ages()` and the gauges of
pricing.live say how old the prices in use are. The refresh runs inside `catalog()` when due, on the
injected clock, so it needs no thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, time

import structlog

from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering, PriceProvenance
from pricing.oci.flex import PREEMPTIBLE_DISCOUNT
from pricing.oci.price_list import PriceListError, PriceListRead, shape_price
from pricing.price_age import LiveCatalog, PriceAge

log = structlog.get_logger(__name__)

RETRY_AFTER_FAILURE_SECONDS = 300.0
LIVE_SOURCE = "OCI price list API (live)"
SOURCES = ("on-demand", "spot")

Clock = Callable[[], datetime]
Fetch = Callable[[], PriceListRead]


def refine(bundled: Catalog, parts_usd: Mapping[str, float], fetched_at: datetime) -> Catalog:
    """The catalog with every offering whose parts are listed repriced (pure: same inputs, same catalog)."""
    provenance = PriceProvenance(LIVE_SOURCE, fetched_at.date())
    prices: dict[str, float | None] = {}

    def reprice(o: Offering) -> Offering:
        if o.name not in prices:
            prices[o.name] = shape_price(o.instance_type, parts_usd)
        on_demand = prices[o.name]
        if on_demand is None or on_demand <= 0:
            return o
        factor = PREEMPTIBLE_DISCOUNT if o.capacity_type is CapacityType.SPOT else 1.0
        return replace(o, price_usd_per_hour=round(on_demand * factor, 6), provenance=provenance, price_estimated=False)

    offerings = tuple(reprice(o) for o in bundled.offerings)
    source = PriceProvenance(f"{bundled.provenance.source}; live OCI prices", fetched_at.date())
    return Catalog(bundled.cloud, bundled.region, offerings, source, bundled.instance_types)


class LiveOciCatalog(LiveCatalog):
    """Live-priced catalog. `refresh_seconds` 0 disables fetching (the bundled prices are used as they are)."""

    def __init__(self, bundled: Catalog, *, fetch: Fetch, clock: Clock, refresh_seconds: float) -> None:
        super().__init__(bundled, clock=clock, refresh_seconds=refresh_seconds)
        self._fetch = fetch
        self._fetched_at: datetime | None = None
        self._bundled_as_of = datetime.combine(bundled.provenance.as_of, time(), tzinfo=UTC)

    def _refresh(self, now: datetime) -> bool:
        try:
            read = self._fetch()
            if not read.parts_usd:
                raise PriceListError("the answer holds no price")
            refined = refine(self._bundled, read.parts_usd, now)
        except (OSError, ValueError, KeyError, TypeError) as e:
            age = self._age("on-demand", now)
            log.warning(
                "price refresh failed; keeping the last good prices",
                cloud="oci",
                error=f"{type(e).__name__}: {e}",
                prices_live=age.live,
                price_age_seconds=round(age.age_seconds),
            )
            return False
        repriced = sum(1 for o in refined if o.provenance.source == LIVE_SOURCE)
        self._current, self._fetched_at = refined, now
        log.info(
            "prices refreshed", cloud="oci", parts=len(read.parts_usd), pages=read.pages, offerings_repriced=repriced
        )
        return True

    def _age(self, source: str, now: datetime) -> PriceAge:
        as_of = self._fetched_at or self._bundled_as_of
        return PriceAge(source, max(0.0, (now - as_of).total_seconds()), self._fetched_at is not None, as_of)

    def price_ages(self) -> dict[str, PriceAge]:
        """Source (`on-demand`, `spot`: both from the one price list) → age of the prices in use, and if live."""
        now = self._clock()
        return {source: self._age(source, now) for source in SOURCES}
