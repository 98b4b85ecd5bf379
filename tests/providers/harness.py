"""What a provider harness hands the contract suite: the provider, a way to inject cloud faults, and the facts
about its cloud that the suite cannot guess (what an unknown instance id looks like there).

Each provider contributes `tests/providers/harness_<name>.py` with

    @contextmanager
    def open_harness(cluster_name: str) -> Iterator[Harness]: ...

that builds the provider for `cluster_name` in a realistic environment (the fake in memory; AWS against a moto
server on 127.0.0.1 with the real SDK) and tears it down afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from luna_autoscaler.models.catalog import Offering
from luna_autoscaler.ports import NodeProvider


class FaultInjector(Protocol):
    def no_capacity(self, offering: Offering) -> None:
        """Until the harness closes, the cloud has no capacity for this offering (an ICE / stockout)."""
        ...


@dataclass(frozen=True)
class Harness:
    provider: NodeProvider
    faults: FaultInjector
    unknown_instance_id: str  # well-formed for this cloud, but no such instance exists
    # A pool cloud names machines when its operations end: `settle` ends those in flight (no-op elsewhere).
    settle: Callable[[], None] = field(default=lambda: None)
