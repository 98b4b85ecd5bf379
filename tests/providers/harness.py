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
from dataclasses import dataclass
from typing import Protocol

from luna_autoscaler.models.catalog import Offering
from luna_autoscaler.ports import NodeProvider


class FaultInjector(Protocol):
    def no_capacity(self, offering: Offering) -> None:
        """Until the harness closes, the cloud has no capacity for this offering (an ICE / stockout)."""
        ...


class LateFaultInjector(Protocol):
    def no_capacity_after_submit(self, offering: Offering) -> None:
        """The next launch of this offering is accepted, then found out of capacity (a pool resize that fails)."""
        ...


def _nothing_to_settle() -> None:
    return None


@dataclass(frozen=True)
class Harness:
    provider: NodeProvider
    faults: FaultInjector
    unknown_instance_id: str  # well-formed for this cloud, but no such instance exists
    # Let the cloud finish what was submitted (operations complete, machines get names): time passes, pollers run.
    settle: Callable[[], None] = _nothing_to_settle
    # A second provider over the same cloud, as a restarted process or a new leader builds it.
    reopen: Callable[[], NodeProvider] | None = None
    # Clouds that accept a launch before they know it will fail (pool clouds) inject such refusals here.
    late_faults: LateFaultInjector | None = None
