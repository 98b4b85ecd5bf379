"""The AKS provider for the contract suite: the real azure-mgmt-containerservice client against the recording ARM
server on 127.0.0.1 (tests/azure/arm_server.py), one server per harness.

A stock-out is injected as AKS reports one it can see before it starts: the agent pool PUT answers 409
`SkuNotAvailable` for that size and priority (a stock-out found later, by the operation, is covered in
tests/azure/test_provider.py). Operations stay in progress, so launches stay provisional for the suite.
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


@contextmanager
def open_harness(cluster_name: str) -> Iterator[Harness]:
    with running_server() as server:
        built = provider(server, FakeClock(), cluster_name)
        yield Harness(
            provider=built,
            faults=AzureFaults(server),
            unknown_instance_id="aks-lu0000000000-12345678-vmss000000",
            settle=server.finish_operations,
        )
