"""The fake provider in its natural habitat: the bundled us-east-1 catalog and a clock that only moves when told."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from luna_autoscaler.models.catalog import Offering
from pricing.catalog import load_catalog
from providers.fake import FakeProvider
from tests.providers.harness import Harness


class ManualClock:
    """An injected clock for tests: time stands still until `advance`."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass(frozen=True)
class FakeFaults:
    provider: FakeProvider

    def no_capacity(self, offering: Offering) -> None:
        self.provider.exhaust(offering.ref)


@contextmanager
def open_harness(cluster_name: str) -> Iterator[Harness]:
    provider = FakeProvider(load_catalog("aws", "us-east-1"), ManualClock(), cluster_name=cluster_name)
    yield Harness(provider=provider, faults=FakeFaults(provider), unknown_instance_id="fake-999999")
