"""What every cloud's live catalog shares: refreshing when due without a thread, and saying how old its prices are.

A live catalog (pricing.aws.live_catalog, pricing.oci.live_catalog) refreshes inside `catalog()` when due, on the
injected clock, and swaps one reference to an immutable Catalog (`RefreshingCatalog`). It falls back to the last
good fetch, or to the bundled snapshot, when a fetch fails; the operator must be able to see that it did. Each
exposes `price_ages() -> {source: PriceAge}`, which `PriceAgeCollector` turns into the gauges
`luna_price_age_seconds{cloud,source}` and `luna_price_live{cloud,source}` at scrape time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from luna_autoscaler.models.catalog import Catalog


@dataclass(frozen=True, slots=True)
class PriceAge:
    source: str  # on-demand | spot
    age_seconds: float
    live: bool  # False: the bundled snapshot's prices are in use
    as_of: datetime


class RefreshingCatalog:
    """A catalog refreshed by `_refresh(now)` when `_next_at` is reached; `refresh_seconds` 0 never refreshes.

    `_refresh` (the subclass's) fetches, replaces `_current` on success and sets `_next_at`."""

    def __init__(self, bundled: Catalog, clock: Callable[[], datetime], refresh_seconds: float) -> None:
        self._bundled = bundled
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._current = bundled
        self._next_at: datetime | None = None  # None: refresh at the first call
        self._lock = threading.Lock()

    @property
    def current(self) -> Catalog:
        """The catalog in use, without refreshing."""
        return self._current

    def catalog(self) -> Catalog:
        """The current catalog, refreshed first if due (a refresh running in another thread is not waited for)."""
        due = self._refresh_seconds > 0 and (self._next_at is None or self._clock() >= self._next_at)
        if due and self._lock.acquire(blocking=False):
            try:
                self._refresh(self._clock())
            finally:
                self._lock.release()
        return self._current

    def _refresh(self, now: datetime) -> None:
        raise NotImplementedError


class PricesWithAge(Protocol):
    def price_ages(self) -> Mapping[str, PriceAge]: ...


class PriceAgeCollector(Collector):
    """Prometheus view of a live catalog's `price_ages()`, computed at scrape time (the age grows between fetches)."""

    def __init__(self, prices: PricesWithAge, cloud: str = "aws") -> None:
        self._prices = prices
        self._cloud = cloud

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ages = self._prices.price_ages().values()
        age, live = self._families()
        for a in ages:
            age.add_metric([self._cloud, a.source], a.age_seconds)
            live.add_metric([self._cloud, a.source], 1.0 if a.live else 0.0)
        yield age
        yield live

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "luna_price_age_seconds",
                "Age of the prices in use: seconds since the last good fetch, or since the bundled snapshot's date",
                labels=["cloud", "source"],
            ),
            GaugeMetricFamily(
                "luna_price_live",
                "1 when the prices in use come from a live fetch, 0 when from the bundled snapshot",
                labels=["cloud", "source"],
            ),
        )
