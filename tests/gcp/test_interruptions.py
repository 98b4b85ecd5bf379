"""Spot preemption notices from GCE's `compute.instances.preempted` zone operations, through the real client."""

from __future__ import annotations

from datetime import timedelta

from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.ports import InterruptionKind
from providers.gcp.provider import PREEMPTION_NOTICE, GkeProvider
from tests.aws.clock import FakeClock
from tests.gcp.recording_server import RecordingGcpServer
from tests.gcp.requests import offering, request


def spot_node(provider: GkeProvider, server: RecordingGcpServer) -> str:
    o = offering(provider.catalog(), "g2-standard-8", CapacityType.SPOT, "us-central1-a")
    instance = provider.launch(request("spot-1", o))
    provider.list_instances()
    server.boot()
    return instance.instance_id


def test_a_preempted_spot_node_is_reported_once_with_its_deadline(
    provider: GkeProvider, server: RecordingGcpServer, clock: FakeClock
) -> None:
    name = spot_node(provider, server)
    server.preempt(name, clock.now.isoformat())

    (notice,) = provider.poll_interruptions()

    assert notice.instance_id == name and notice.kind is InterruptionKind.SPOT_INTERRUPTION
    assert notice.deadline == clock.now + PREEMPTION_NOTICE
    (listed,) = server.calls("listZoneOperations")
    assert 'operationType="compute.instances.preempted"' in listed.query["filter"]
    assert provider.poll_interruptions() == ()  # within the poll interval: no call
    clock.advance(15)
    assert provider.poll_interruptions() == () and len(server.calls("listZoneOperations")) == 2


def test_old_preemptions_and_other_vms_are_not_notices(
    provider: GkeProvider, server: RecordingGcpServer, clock: FakeClock
) -> None:
    name = spot_node(provider, server)
    server.preempt(name, (clock.now - timedelta(hours=1)).isoformat())
    assert provider.poll_interruptions() == ()


def test_a_failed_poll_is_no_notice_and_no_crash(provider: GkeProvider, server: RecordingGcpServer) -> None:
    spot_node(provider, server)
    server.fail("listZoneOperations", 503, "", "backend unavailable")
    assert provider.poll_interruptions() == ()
