"""The GKE provider for the contract suite: the real Google clients (REST) against the recording GCP server.

Each harness gets its own server (cheap: a thread and a socket). Pool creations are done when submitted, so a
launch reaches the pool's instance group in the same call; `no_capacity` stock-outs are also reported by the
createInstances operation (refused in the launch call), `no_capacity_after_submit` ones only by the managed
instance's `lastAttempt.errors` (listed FAILED after `settle`). `settle` lets GCE boot what was created; `reopen`
is a new provider over the same server, as a restarted process builds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from luna_autoscaler.models.catalog import CapacityType, Offering
from pricing.gcp.machines import machine_spec
from providers.gcp.provider import GkeProvider
from tests.aws.clock import FakeClock
from tests.gcp import world
from tests.gcp.recording_server import RecordingGcpServer
from tests.providers.harness import Harness


@dataclass(frozen=True)
class GcpFaults:
    server: RecordingGcpServer

    def no_capacity(self, offering: Offering) -> None:
        self._stock_out(offering, in_operation=True)

    def no_capacity_after_submit(self, offering: Offering) -> None:
        self._stock_out(offering, in_operation=False)

    def _stock_out(self, offering: Offering, *, in_operation: bool) -> None:
        spot = offering.capacity_type is CapacityType.SPOT
        self.server.stock_out(
            machine_spec(offering.instance_type).machine_type, offering.zone, spot, in_operation=in_operation
        )


@contextmanager
def open_harness(cluster_name: str) -> Iterator[Harness]:
    server = RecordingGcpServer(pool_polls=0).start()
    clock = FakeClock()

    def build() -> GkeProvider:
        return world.provider(server, clock, cluster_name=cluster_name, pricingRefreshInterval=0)

    provider = build()

    def settle() -> None:
        provider.list_instances()
        server.boot()

    faults = GcpFaults(server)
    try:
        yield Harness(
            provider=provider,
            faults=faults,
            unknown_instance_id="luna-0123456789ab-nothing",
            settle=settle,
            reopen=build,
            late_faults=faults,
        )
    finally:
        server.stop()
