"""The GKE provider for the contract suite: the real Google clients (REST) against the recording GCP server.

Each harness gets its own server (cheap: a thread and a socket). Pool creations finish at the first poll, and a
stock-out is also reported by the createInstances operation, so a launch on a running pool is refused at once as
the suite expects; the asynchronous path (FAILED instances) is covered by tests/gcp.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from luna_autoscaler.models.catalog import CapacityType, Offering
from pricing.gcp.machines import machine_spec
from tests.aws.clock import FakeClock
from tests.gcp import world
from tests.gcp.recording_server import RecordingGcpServer
from tests.providers.harness import Harness


@dataclass(frozen=True)
class GcpFaults:
    server: RecordingGcpServer

    def no_capacity(self, offering: Offering) -> None:
        spec = machine_spec(offering.instance_type)
        self.server.stock_out(spec.machine_type, offering.zone, offering.capacity_type is CapacityType.SPOT)


@contextmanager
def open_harness(cluster_name: str) -> Iterator[Harness]:
    server = RecordingGcpServer(pool_polls=0, stockouts_in_operation=True).start()
    try:
        provider = world.provider(server, FakeClock(), cluster_name=cluster_name, pricingRefreshInterval=0)
        yield Harness(provider=provider, faults=GcpFaults(server), unknown_instance_id="luna-0123456789ab-nothing")
    finally:
        server.stop()
