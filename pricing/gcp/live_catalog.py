"""The GCP catalog with live prices: the bundled snapshot (with GKE's node labels), repriced from the Cloud Billing
Catalog periodically, swapped atomically, stale-while-error.

The offerings (which machine types exist in which zones, their shapes) come from the bundled snapshot; one walk of
the Compute Engine SKUs (pricing.gcp.billing) gives the unit prices of the region for on-demand and spot, from
which every offering whose SKUs are known is repriced. Each refresh builds a new immutable Catalog and swaps one
reference. A failed or empty fetch keeps the last good prices (or the snapshot's), logs why, and is retried after
`RETRY_AFTER_FAILURE_SECONDS`. The age of the prices in use is `price_ages()` and the gauges of
pricing.price_age. The refresh runs inside `catalog()` when due, on the injected clock: no thread of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from typing import Any

import structlog
from google.api_core.exceptions import GoogleAPIError
from google.auth.exceptions import GoogleAuthError

from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering, PriceProvenance
from pricing.gcp.billing import SkuRead, UnitPrices, fetch_unit_prices
from pricing.gcp.offerings import with_node_policy
from pricing.price_age import RETRY_AFTER_FAILURE_SECONDS, PriceAge, RefreshSchedule

log = structlog.get_logger(__name__)

__all__ = ["RETRY_AFTER_FAILURE_SECONDS", "LiveGcpCatalog", "reprice"]

SOURCE = "Cloud Billing Catalog, Compute Engine SKUs (live)"
SOURCES = {CapacityType.ON_DEMAND: "on-demand", CapacityType.SPOT: "spot"}

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class _Fetched:
    prices: Mapping[CapacityType, UnitPrices]
    at: datetime


def reprice(bundled: Catalog, prices: Mapping[CapacityType, UnitPrices], fetched_at: datetime) -> Catalog:
    """The bundled catalog with every offering whose SKUs are known at its live price (pure)."""
    provenance = PriceProvenance(SOURCE, fetched_at.date())

    def live(o: Offering) -> Offering:
        unit = prices.get(o.capacity_type)
        price = unit.price_usd_per_hour(o.instance_type) if unit is not None else None
        if price is None:
            return o
        return replace(o, price_usd_per_hour=price, provenance=provenance, price_estimated=False)

    return replace(
        bundled,
        offerings=tuple(live(o) for o in bundled.offerings),
        provenance=PriceProvenance(f"{bundled.provenance.source}; live GCP prices", fetched_at.date()),
    )


class LiveGcpCatalog:
    """Live-priced catalog of one region. `refresh_seconds` 0 disables fetching (the snapshot is used as is)."""

    def __init__(self, bundled: Catalog, *, billing_client: Any, clock: Clock, refresh_seconds: float) -> None:
        self._bundled = with_node_policy(bundled)
        self._billing = billing_client
        self._clock = clock
        self._current = self._bundled
        self._fetched: _Fetched | None = None
        self._schedule = RefreshSchedule(clock, refresh_seconds)
        self._bundled_as_of = datetime.combine(bundled.provenance.as_of, time(), tzinfo=UTC)

    @property
    def current(self) -> Catalog:
        """The catalog in use, without refreshing."""
        return self._current

    def catalog(self) -> Catalog:
        """The current catalog, refreshed first if due (a refresh running in another thread is not waited for)."""
        self._schedule.run_if_due(self._refresh)
        return self._current

    def _refresh(self, now: datetime) -> bool:
        region = self._bundled.region
        try:
            read: SkuRead = fetch_unit_prices(self._billing, region)
            if not any(p.core_usd for p in read.prices.values()):
                raise ValueError(f"no Compute Engine core SKU for region {region}")
        except (GoogleAPIError, GoogleAuthError, ValueError, KeyError, TypeError, AttributeError) as e:
            log.warning(
                "price refresh failed; keeping the last good prices",
                cloud="gcp",
                region=region,
                error=f"{type(e).__name__}: {e}",
                prices_live=self._fetched is not None,
                price_age_seconds=round(self._age(CapacityType.ON_DEMAND, now).age_seconds),
            )
            return False
        self._fetched = _Fetched(read.prices, now)
        self._current = reprice(self._bundled, read.prices, now)
        log.info("prices refreshed", cloud="gcp", region=region, skus=read.read, skipped=read.skipped)
        return True

    def _age(self, capacity: CapacityType, now: datetime) -> PriceAge:
        fetched = self._fetched
        live = fetched is not None and bool(fetched.prices.get(capacity, UnitPrices()).core_usd)
        as_of = fetched.at if fetched is not None and live else self._bundled_as_of
        return PriceAge(SOURCES[capacity], max(0.0, (now - as_of).total_seconds()), live, as_of)

    def price_ages(self) -> dict[str, PriceAge]:
        """Source (`on-demand`, `spot`) → how old the prices in use are, and whether they are live."""
        now = self._clock()
        return {SOURCES[c]: self._age(c, now) for c in CapacityType}
