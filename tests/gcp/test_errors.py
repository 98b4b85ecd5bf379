"""Every way GCP says no, through the real clients: HTTP errors of calls, failed GKE operations, failed zone
operations and managed instances that cannot be created, each classified for the loop (with its TTL)."""

from __future__ import annotations

import pytest

from luna_autoscaler.errors import (
    InsufficientCapacity,
    Permanent,
    ProviderConfigurationError,
    ProviderError,
    QuotaExceeded,
    Transient,
)
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.ports import InstanceState
from providers.gcp.classify import CAPACITY_TTL_SECONDS, QUOTA_TTL_SECONDS, classify
from providers.gcp.provider import GkeProvider
from tests.aws.clock import FakeClock
from tests.gcp import world
from tests.gcp.recording_server import RecordingGcpServer
from tests.gcp.requests import offering, request


@pytest.mark.parametrize(
    ("status", "reason", "message", "expected"),
    [
        (403, "forbidden", "Required 'container.nodePools.create' permission", ProviderConfigurationError),
        (403, "quotaExceeded", "Quota 'NVIDIA_T4_GPUS' exceeded. Limit: 0.0 in region us-central1.", QuotaExceeded),
        (429, "rateLimitExceeded", "Rate Limit Exceeded", Transient),
        (503, "", "The service is currently unavailable.", Transient),
        (400, "badRequest", "Machine type n1-standard-4 with accelerators is not supported", Permanent),
    ],
)
def test_an_http_error_of_pool_creation_is_classified(
    provider: GkeProvider, server: RecordingGcpServer, status: int, reason: str, message: str, expected: type
) -> None:
    t4 = offering(provider.catalog(), "n1-standard-4_t4x1", CapacityType.SPOT, "us-central1-a")
    server.fail("createNodePool", status, reason, message)

    with pytest.raises(expected) as raised:
        provider.launch(request("refused", t4))

    assert message in str(raised.value) and raised.value.__cause__ is not None
    if isinstance(raised.value, QuotaExceeded):
        assert raised.value.offerings == (t4.ref,) and raised.value.ttl_seconds == QUOTA_TTL_SECONDS  # type: ignore[attr-defined]


def test_listing_when_gke_fails_is_transient(provider: GkeProvider, server: RecordingGcpServer) -> None:
    server.fail("listNodePools", 500, "", "Internal error encountered.")
    with pytest.raises(Transient):
        provider.list_instances()


@pytest.mark.parametrize(
    ("code", "expected"),
    [("GCE_STOCKOUT", InsufficientCapacity), ("GCE_QUOTA_EXCEEDED", QuotaExceeded)],
)
def test_a_failed_pool_creation_fails_its_held_launches(
    provider: GkeProvider, server: RecordingGcpServer, code: str, expected: type
) -> None:
    l4 = offering(provider.catalog(), "g2-standard-8", CapacityType.SPOT, "us-central1-a")
    server.fail_next_pool(code, "Insufficient resources to create the node pool")
    launched = provider.launch(request("doomed", l4))

    (failed,) = provider.list_instances()

    assert failed.instance_id == launched.instance_id and failed.state is InstanceState.FAILED
    assert isinstance(failed.failure, expected) and failed.failure.offerings == (l4.ref,)
    with pytest.raises(expected):  # the pool is in ERROR: a new launch on it is refused at once
        provider.launch(request("again", l4))
    provider.terminate(failed.instance_id)
    assert provider.list_instances() == ()


def running_pool(provider: GkeProvider, name: str = "e2-standard-4", capacity: CapacityType = CapacityType.ON_DEMAND):  # type: ignore[no-untyped-def]
    o = offering(provider.catalog(), name, capacity, "us-central1-a")
    provider.launch(request("warm-up", o))
    provider.list_instances()
    return o


def test_a_stockout_found_on_the_managed_instance_is_a_failed_instance_naming_the_offering(
    provider: GkeProvider, server: RecordingGcpServer
) -> None:
    o = running_pool(provider, "g2-standard-8", CapacityType.SPOT)
    server.stock_out("g2-standard-8", "us-central1-a", spot=True)
    launched = provider.launch(request("no-l4-left", o))  # accepted: the group tries later

    failed = next(i for i in provider.list_instances() if i.launch_id == "no-l4-left")

    assert failed.instance_id == launched.instance_id and failed.state is InstanceState.FAILED
    assert isinstance(failed.failure, InsufficientCapacity) and failed.failure.offerings == (o.ref,)
    assert failed.failure.spot_unavailable
    assert "ZONE_RESOURCE_POOL_EXHAUSTED" in str(failed.failure)
    assert failed.failure.ttl_seconds == CAPACITY_TTL_SECONDS  # type: ignore[attr-defined]
    provider.terminate(failed.instance_id)  # deleting it lowers the group's target size again
    assert "no-l4-left" not in {i.launch_id for i in provider.list_instances()}


def test_a_stockout_in_the_create_instances_operation_is_raised_by_launch(
    server: RecordingGcpServer, clock: FakeClock
) -> None:
    provider = world.provider(server, clock, pricingRefreshInterval=0)
    o = running_pool(provider)
    server.stock_out("e2-standard-4", "us-central1-a", spot=False, in_operation=True)

    with pytest.raises(InsufficientCapacity) as raised:
        provider.launch(request("refused-at-once", o))
    assert raised.value.offerings == (o.ref,)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", InsufficientCapacity),
        ("QUOTA_EXCEEDED", QuotaExceeded),
        ("IP_SPACE_EXHAUSTED", ProviderConfigurationError),
        ("MACHINE_TYPE_UNSUPPORTED", Permanent),
    ],
)
def test_managed_instance_errors_are_classified(
    provider: GkeProvider, server: RecordingGcpServer, code: str, expected: type
) -> None:
    running_pool(provider)
    (group,) = server.groups.values()
    (mi,) = group.instances.values()
    mi["lastAttempt"] = {"errors": {"errors": [{"code": code, "message": "the group could not create the VM"}]}}

    (failed,) = provider.list_instances()

    assert failed.state is InstanceState.FAILED and isinstance(failed.failure, expected)


def test_a_replayed_create_of_an_existing_instance_is_no_error(
    provider: GkeProvider, server: RecordingGcpServer, clock: FakeClock
) -> None:
    o = running_pool(provider)
    first = provider.launch(request("exists", o))
    server.fail("createInstances", 409, "alreadyExists", f"The resource '{first.instance_id}' already exists")
    restarted = world.provider(server, clock, pricingRefreshInterval=0)  # after the request id's dedupe window

    again = restarted.launch(request("exists", o))

    assert again.instance_id == first.instance_id
    assert [i.launch_id for i in restarted.list_instances()].count("exists") == 1


def test_deleting_from_a_group_gke_removed_is_success(provider: GkeProvider, server: RecordingGcpServer) -> None:
    o = running_pool(provider)
    launched = provider.launch(request("orphan", o))
    server.fail("deleteInstances", 404, "notFound", "The resource 'instanceGroupManagers/gke-x' was not found")
    provider.terminate(launched.instance_id)


@pytest.mark.parametrize(
    ("codes", "message", "status", "expected"),
    [
        (["RESOURCE_POOL_EXHAUSTED"], "", 0, InsufficientCapacity),
        ([], "The zone does not have enough resources available to fulfill the request.", 0, InsufficientCapacity),
        ([], "Quota 'CPUS' exceeded.", 403, QuotaExceeded),
        (["IP_SPACE_EXHAUSTED_WITH_DETAILS"], "", 0, ProviderConfigurationError),
        (["PERMISSION_DENIED"], "", 403, ProviderConfigurationError),
        (["SOMETHING_NEW"], "", 400, Permanent),
        (["SOMETHING_NEW"], "", 502, Transient),
        ([], "", 429, Transient),
    ],
)
def test_the_code_table(codes: list[str], message: str, status: int, expected: type) -> None:
    error: ProviderError = classify(codes, message, what="test", status=status)
    assert isinstance(error, expected)
