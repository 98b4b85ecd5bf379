"""Live prices over time: when a source is due to refresh, and how old the prices in use are, per cloud and source,
as Prometheus gauges computed at scrape time.

Every live price source (pricing.aws, pricing.gcp) keeps the last good fetch of each of its sources and falls back
to the bundled snapshot; an operator must see which is in use and since when. The sources expose `price_ages()`
and their current Catalog (which names the cloud); this collector turns that into
`luna_price_age_seconds{cloud,source}` and `luna_price_live{cloud,source}` (docs/metrics.md). `RefreshSchedule`
runs a source's refresh inside the reader's `catalog()` call when due (no thread of its own), and after a failure
retries sooner than a full interval.
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


class RefreshSchedule:
    """When a live price source refreshes: at the first call, then every `refresh_seconds` (0: never), and
    `RETRY_AFTER_FAILURE_SECONDS` after a refresh that reported a failure. A refresh running in another thread is
    not waited for."""

    def __init__(self, clock: Callable[[], datetime], refresh_seconds: float) -> None:
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._next_at: datetime | None = None
        self._lock = threading.Lock()

    def run_if_due(self, refresh: Callable[[datetime], bool]) -> None:
        """Call `refresh(now)` (True: every fetch worked) if due."""
        due = self._refresh_seconds > 0 and (self._next_at is None or self._clock() >= self._next_at)
        if not due or not self._lock.acquire(blocking=False):
            return
        try:
            now = self._clock()
            worked = refresh(now)
            wait = self._refresh_seconds if worked else min(RETRY_AFTER_FAILURE_SECONDS, self._refresh_seconds)
            self._next_at = now + timedelta(seconds=wait)
        finally:
            self._lock.release()


@dataclass(frozen=True, slots=True)
class PriceAge:
    source: str  # on-demand | spot
    age_seconds: float
    live: bool  # False: the bundled snapshot's prices are in use
    as_of: datetime


class AgedPrices(Protocol):
    @property
    def current(self) -> Catalog: ...

    def price_ages(self) -> Mapping[str, PriceAge]: ...


class PriceAgeCollector(Collector):
    """Prometheus view of a live catalog's `price_ages()` (the age grows between fetches)."""

    def __init__(self, prices: AgedPrices) -> None:
        self._prices = prices

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        cloud = self._prices.current.cloud
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
