"""What every live price source shares: when it is due, how old the prices in use are, and the gauges saying so.

A live catalog (`LiveCatalog`: pricing.aws, pricing.azure, pricing.gcp live catalogs) refreshes inside `catalog()`
when due, with the clock injected, so it needs no thread: `RefreshSchedule` says when, skips a refresh another
thread is already running, and retries a failed one after `retry_after_failure_seconds` rather than a full
interval. Each source's
`price_ages()` (source → `PriceAge`) is exported at scrape time by `PriceAgeCollector` as
`luna_price_age_seconds{cloud,source}` and `luna_price_live{cloud,source}` (docs/metrics.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from luna_autoscaler.models.catalog import Catalog

RETRY_AFTER_FAILURE_SECONDS = 300.0

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class PriceAge:
    source: str  # on-demand | spot
    age_seconds: float
    live: bool  # False: the bundled snapshot's prices are in use
    as_of: datetime


class RefreshSchedule:
    """Runs a refresh when due. `refresh_seconds` 0: never (the snapshot is used as is)."""

    def __init__(
        self, clock: Clock, refresh_seconds: float, retry_after_failure_seconds: float = RETRY_AFTER_FAILURE_SECONDS
    ) -> None:
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._retry_seconds = retry_after_failure_seconds
        self._next_at: datetime | None = None  # None: refresh at the first call
        self._lock = threading.Lock()

    def run_if_due(self, refresh: Callable[[datetime], bool]) -> None:
        """Call `refresh(now)` if due and no other thread is in it; it returns False when a fetch failed."""
        due = self._refresh_seconds > 0 and (self._next_at is None or self._clock() >= self._next_at)
        if not due or not self._lock.acquire(blocking=False):
            return
        try:
            now = self._clock()
            ok = refresh(now)
            wait = self._refresh_seconds if ok else min(self._retry_seconds, self._refresh_seconds)
            self._next_at = now + timedelta(seconds=wait)
        finally:
            self._lock.release()


class LiveCatalog:
    """A bundled catalog re-priced by a subclass's `_refresh(now) -> ok`, swapped as one reference."""

    def __init__(self, bundled: Catalog, *, clock: Clock, refresh_seconds: float) -> None:
        self._bundled = bundled
        self._clock = clock
        self._current = bundled
        self._schedule = RefreshSchedule(clock, refresh_seconds)

    @property
    def current(self) -> Catalog:
        """The catalog in use, without refreshing."""
        return self._current

    def catalog(self) -> Catalog:
        """The current catalog, refreshed first if due (a refresh running in another thread is not waited for)."""
        self._schedule.run_if_due(self._refresh)
        return self._current

    def _refresh(self, now: datetime) -> bool:
        raise NotImplementedError


class AgedPrices(Protocol):
    def price_ages(self) -> Mapping[str, PriceAge]: ...


class PriceAgeCollector(Collector):
    """Prometheus view of a live catalog's `price_ages()` (the age grows between fetches). The cloud label is
    `cloud`, else the cloud of the prices' `current` catalog."""

    def __init__(self, prices: AgedPrices, cloud: str | None = None) -> None:
        self._prices = prices
        self._cloud = cloud

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        cloud = self._cloud if self._cloud is not None else self._prices.current.cloud  # type: ignore[attr-defined]
        age, live = self._families()
        for a in self._prices.price_ages().values():
            age.add_metric([cloud, a.source], a.age_seconds)
            live.add_metric([cloud, a.source], 1.0 if a.live else 0.0)
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
