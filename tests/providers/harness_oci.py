"""The OCI provider for the contract suite: the real oci SDK against a recording server on 127.0.0.1
(tests/oci/recording_server.py), one server per harness; stock-outs are the server's "Out of host capacity"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from luna_autoscaler.models.catalog import Offering
from pricing.catalog import load_catalog
from providers.oci import BUNDLED_REGION
from providers.oci.provider import OciProvider
from tests.aws.clock import FakeClock
from tests.oci import world
from tests.oci.recording_server import RecordingOciServer
from tests.providers.harness import Harness


@dataclass(frozen=True)
class OciFaults:
    server: RecordingOciServer

    def no_capacity(self, offering: Offering) -> None:
        self.server.state.no_capacity.add((offering.name, offering.zone, offering.capacity_type.value))

    def no_capacity_after_submit(self, offering: Offering) -> None:
        self.server.state.no_capacity_later.add((offering.name, offering.zone, offering.capacity_type.value))


def settle(server: RecordingOciServer) -> None:
    """Every launch work request still running succeeds and its instance boots (with its boot volume)."""
    for wr in list(server.state.work_requests.values()):
        instance_id = wr["resources"][0]["identifier"]
        if wr["status"] == "IN_PROGRESS" and server.state.instances[instance_id]["lifecycleState"] == "PROVISIONING":
            server.finish_work_request(instance_id, "SUCCEEDED")
            server.set_state(instance_id, "RUNNING")


@contextmanager
def open_harness(cluster_name: str) -> Iterator[Harness]:
    clock = FakeClock()
    server = RecordingOciServer(clock).start()

    def open_provider() -> OciProvider:
        return OciProvider(
            config=world.config(server),
            cluster_name=cluster_name,
            clients=world.clients(server),
            clock=clock,
            bundled=load_catalog("oci", BUNDLED_REGION),
        )

    faults = OciFaults(server)
    try:
        yield Harness(
            provider=open_provider(),
            faults=faults,
            unknown_instance_id="ocid1.instance.oc1.sjc.aaaaaaaanosuchinstance",
            settle=lambda: settle(server),
            reopen=open_provider,
            late_faults=faults,
        )
    finally:
        server.stop()
