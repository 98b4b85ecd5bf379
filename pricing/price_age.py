"""How old the prices in use are, per cloud and source, as Prometheus gauges computed at scrape time.

Every live price source (pricing.aws, pricing.gcp) keeps the last good fetch of each of its sources and falls back
to the bundled snapshot; an operator must see which is in use and since when. The sources expose `price_ages()`
and their current Catalog (which names the cloud); this collector turns that into
`luna_price_age_seconds{cloud,source}` and `luna_price_live{cloud,source}` (docs/metrics.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
