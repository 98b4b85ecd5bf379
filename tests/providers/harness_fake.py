"""The fake provider in its natural habitat: the bundled us-east-1 catalog, a clock that only moves when told, and
a state file, so that a second provider over the same fake cloud sees its machines (as after a restart)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from luna_autoscaler.errors import InsufficientCapacity
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

    def no_capacity_after_submit(self, offering: Offering) -> None:
        self.provider.fail_in_cloud(InsufficientCapacity(f"stockout of {offering.ref}", [offering.ref]))


@contextmanager
def fake_cloud(cluster_name: str, *, pool_shaped: bool) -> Iterator[Harness]:
    """A fake cloud kept in a state file, so that `reopen` builds a second provider over the same machines."""
    catalog = load_catalog("aws", "us-east-1")
    clock = ManualClock()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "cloud.json"

        def build() -> FakeProvider:
            return FakeProvider(catalog, clock, cluster_name=cluster_name, state_file=state, pool_shaped=pool_shaped)

        provider = build()
        faults = FakeFaults(provider)
        yield Harness(
            provider=provider,
            faults=faults,
            unknown_instance_id="fake-999999",
            settle=lambda: clock.advance(provider.naming_delay.total_seconds()) and None,
            reopen=build,
            late_faults=faults if pool_shaped else None,
        )


@contextmanager
def open_harness(cluster_name: str) -> Iterator[Harness]:
    with fake_cloud(cluster_name, pool_shaped=False) as harness:
        yield harness
