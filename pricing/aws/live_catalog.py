"""The AWS catalog with live prices: the bundled snapshot, refined by periodic fetches, swapped atomically.

The offerings (which types exist in which zones, their shapes and spot interruption bands) come from the bundled
snapshot; on-demand prices from the Price List API and spot prices from the spot price history replace the
snapshot's where they are known. Each refresh builds a new immutable Catalog and swaps one reference, so a reader
never sees half an update. A failed fetch keeps the last good prices of that source (or the snapshot's, if no
fetch ever worked), logs why, and is retried after `RETRY_AFTER_FAILURE_SECONDS` rather than a full interval.
How old the prices in use are is always visible: `price_ages()`, the log line of every refresh, and the
Prometheus gauges `luna_price_age_seconds{cloud,source}` and `luna_price_live{cloud,source}`.

The refresh runs inside `catalog()` when due (the clock is injected), so it needs no thread of its own: the
reconcile loop that asks for the catalog pays for a fetch about once an hour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering, PriceProvenance
from pricing.aws.price_list import fetch_on_demand
from pricing.aws.spot_history import fetch_spot
from pricing.live import PriceAge, PriceAgeCollector, RefreshingCatalog

__all__ = ["LiveAwsCatalog", "LivePrices", "PriceAge", "PriceAgeCollector", "refine"]

log = structlog.get_logger(__name__)

RETRY_AFTER_FAILURE_SECONDS = 300.0
ON_DEMAND = "on-demand"
SPOT = "spot"
ON_DEMAND_SOURCE = "AWS Price List API (live)"
SPOT_SOURCE = "AWS EC2 spot price history (live)"

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class LivePrices:
    """The last good fetch of one source."""

    prices_usd_per_hour: Mapping[Any, float]  # on-demand: type → price; spot: (type, zone) → price
    fetched_at: datetime


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Repricer:
    od_prices: Mapping[str, float]
    spot_prices: Mapping[tuple[str, str], float]
    od_provenance: PriceProvenance | None
    spot_provenance: PriceProvenance | None
    ratio: float | None

    def __call__(self, o: Offering) -> Offering:
        if o.capacity_type is CapacityType.ON_DEMAND:
            if self.od_provenance is not None and o.name in self.od_prices:
                return replace(o, price_usd_per_hour=self.od_prices[o.name], provenance=self.od_provenance)
            return o
        key = (o.name, o.zone)
        if self.spot_provenance is not None and key in self.spot_prices:
            return replace(
                o, price_usd_per_hour=self.spot_prices[key], provenance=self.spot_provenance, price_estimated=False
            )
        if o.price_estimated and self.ratio and self.od_provenance is not None and o.name in self.od_prices:
            estimate = PriceProvenance(
                f"{ON_DEMAND_SOURCE} x spotPriceRatioEstimate {self.ratio}", self.od_provenance.as_of
            )
            return replace(o, price_usd_per_hour=round(self.od_prices[o.name] * self.ratio, 6), provenance=estimate)
        return o


def refine(
    bundled: Catalog,
    on_demand: LivePrices | None,
    spot: LivePrices | None,
    *,
    spot_price_ratio_estimate: float | None,
) -> Catalog:
    """The bundled catalog with live prices where known (pure: the same inputs give the same catalog).

    A spot estimate (on-demand × `spotPriceRatioEstimate`) follows the live on-demand price; a live spot price
    for a type and zone the snapshot sold only on-demand adds that spot offering.
    """
    spot_prices = spot.prices_usd_per_hour if spot else {}
    spot_provenance = PriceProvenance(SPOT_SOURCE, spot.fetched_at.date()) if spot else None
    reprice = _Repricer(
        od_prices=on_demand.prices_usd_per_hour if on_demand else {},
        spot_prices=spot_prices,
        od_provenance=PriceProvenance(ON_DEMAND_SOURCE, on_demand.fetched_at.date()) if on_demand else None,
        spot_provenance=spot_provenance,
        ratio=spot_price_ratio_estimate,
    )
    offerings = [reprice(o) for o in bundled.offerings]
    if spot_provenance is not None:
        sold_spot = {(o.name, o.zone) for o in bundled.offerings if o.capacity_type is CapacityType.SPOT}
        for o in bundled.offerings:
            key = (o.name, o.zone)
            if o.capacity_type is CapacityType.ON_DEMAND and key not in sold_spot and key in spot_prices:
                sold_spot.add(key)
                offerings.append(
                    Offering(o.instance_type, o.region, o.zone, CapacityType.SPOT, spot_prices[key], spot_provenance)
                )
    fetched = [p.fetched_at for p in (on_demand, spot) if p is not None]
    provenance = (
        PriceProvenance(f"{bundled.provenance.source}; live AWS prices", max(fetched).date())
        if fetched
        else bundled.provenance
    )
    return Catalog(bundled.cloud, bundled.region, tuple(offerings), provenance, bundled.instance_types)


class LiveAwsCatalog(RefreshingCatalog):
    """Live-priced catalog of one region. `refresh_seconds` 0 disables fetching (the snapshot is used as is)."""

    def __init__(
        self,
        bundled: Catalog,
        *,
        pricing_client: Any,
        ec2_client: Any,
        clock: Clock,
        refresh_seconds: float,
        spot_price_ratio_estimate: float | None = None,
    ) -> None:
        super().__init__(bundled, clock, refresh_seconds)
        self._pricing = pricing_client
        self._ec2 = ec2_client
        self._ratio = spot_price_ratio_estimate
        self._live: dict[str, LivePrices] = {}
        self._bundled_as_of = {
            source: _midnight(
                min((o.provenance.as_of for o in bundled if o.capacity_type == kind), default=bundled.provenance.as_of)
            )
            for source, kind in ((ON_DEMAND, CapacityType.ON_DEMAND), (SPOT, CapacityType.SPOT))
        }

    def _fetch_on_demand(self, _now: datetime) -> tuple[Mapping[Any, float], dict[str, object]]:
        read = fetch_on_demand(self._pricing, self._bundled.region)
        return read.prices_usd_per_hour, {"skipped": read.skipped, "published": read.publication}

    def _fetch_spot(self, now: datetime) -> tuple[Mapping[Any, float], dict[str, object]]:
        read = fetch_spot(self._ec2, now)
        newest = read.newest.isoformat() if read.newest else None
        return read.prices_usd_per_hour, {"skipped": read.skipped, "newest_record": newest}

    def _refresh(self, now: datetime) -> None:
        region = self._bundled.region
        fetchers = {ON_DEMAND: self._fetch_on_demand, SPOT: self._fetch_spot}
        fetched = failed = False
        for source, fetch in fetchers.items():
            try:
                prices, details = fetch(now)
                if not prices:
                    raise ValueError("the answer holds no price")
            except (BotoCoreError, ClientError, ValueError, KeyError, TypeError) as e:
                failed = True
                age = self._age(source, now)
                log.warning(
                    "price refresh failed; keeping the last good prices",
                    cloud="aws",
                    region=region,
                    source=source,
                    error=f"{type(e).__name__}: {e}",
                    prices_live=age.live,
                    price_age_seconds=round(age.age_seconds),
                )
                continue
            fetched = True
            self._live[source] = LivePrices(prices, now)
            log.info(
                "prices refreshed",
                cloud="aws",
                region=region,
                source=source,
                prices=len(prices),
                price_age_seconds=0,
                **details,
            )
        if fetched:
            self._current = refine(
                self._bundled, self._live.get(ON_DEMAND), self._live.get(SPOT), spot_price_ratio_estimate=self._ratio
            )
        wait = min(RETRY_AFTER_FAILURE_SECONDS, self._refresh_seconds) if failed else self._refresh_seconds
        self._next_at = now + timedelta(seconds=wait)

    def _age(self, source: str, now: datetime) -> PriceAge:
        live = self._live.get(source)
        as_of = live.fetched_at if live else self._bundled_as_of[source]
        return PriceAge(source, max(0.0, (now - as_of).total_seconds()), live is not None, as_of)

    def price_ages(self) -> dict[str, PriceAge]:
        """Source (`on-demand`, `spot`) → how old the prices in use are, and whether they are live."""
        now = self._clock()
        return {source: self._age(source, now) for source in (ON_DEMAND, SPOT)}
