"""The AKS provider for the contract suite: the real azure-mgmt-containerservice client against the recording ARM
server on 127.0.0.1 (tests/azure/arm_server.py), one server per harness.

A stock-out is injected as AKS reports one it can see before it starts (the agent pool PUT answers 409
`SkuNotAvailable` for that size and priority) or, as `late_faults`, as one found by the operation
(`AllocationFailed`). Operations stay in progress until the suite settles them; `reopen` is a fresh provider
object over the same server, as a restart builds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from luna_autoscaler.models.catalog import CapacityType, Offering
from tests.aws.clock import FakeClock
from tests.azure.arm_server import RecordingArmServer
from tests.azure.world import provider, running_server
from tests.providers.harness import Harness


@dataclass(frozen=True)
class AzureFaults:
    server: RecordingArmServer

    def no_capacity(self, offering: Offering) -> None:
        priority = "Spot" if offering.capacity_type is CapacityType.SPOT else "Regular"
        self.server.refuse_put(
            offering.name,
            priority,
            "SkuNotAvailable",
            f"The requested VM size '{offering.name}' is currently not available in location 'eastus'.",
        )


@dataclass(frozen=True)
class AzureLateFaults:
    server: RecordingArmServer

    def no_capacity_after_submit(self, offering: Offering) -> None:
        priority = "Spot" if offering.capacity_type is CapacityType.SPOT else "Regular"
        zone = offering.zone.rpartition("-")[2] if offering.zone != offering.region else ""
        self.server.no_capacity(offering.name, zone, priority)


@contextmanager
def open_harness(cluster_name: str) -> Iterator[Harness]:
    with running_server() as server:
        clock = FakeClock()
        yield Harness(
            provider=provider(server, clock, cluster_name),
            faults=AzureFaults(server),
            unknown_instance_id="aks-lu0000000000-12345678-vmss000000",
            settle=server.finish_operations,
            reopen=lambda: provider(server, clock, cluster_name),
            late_faults=AzureLateFaults(server),
        )
