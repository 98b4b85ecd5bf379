"""Every way OCI says no, through the real SDK, classified as the loop needs it (providers.oci.classify)."""

from __future__ import annotations

import pytest

from luna_autoscaler.errors import (
    InsufficientCapacity,
    Permanent,
    ProviderConfigurationError,
    QuotaExceeded,
    Transient,
)
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.ports import InstanceState
from providers.oci.provider import OciProvider
from tests.aws.clock import FakeClock
from tests.oci.recording_server import RecordingOciServer
from tests.oci.test_launch import offering, request

E4 = "VM.Standard.E4.Flex.1o.8g"
E5 = "VM.Standard.E5.Flex.1o.8g"


def test_out_of_host_capacity_falls_back_to_the_next_offering(
    provider: OciProvider, server: RecordingOciServer
) -> None:
    catalog = provider.catalog()
    e4, e5 = offering(catalog, E4), offering(catalog, E5)
    server.state.no_capacity.add((E4, e4.zone, "on-demand"))

    instance = provider.launch(request("launch-fallback", e4, e5))

    assert instance.offering == e5.ref
    assert [c.body["shape"] for c in server.calls("LaunchInstance")] == ["VM.Standard.E4.Flex", "VM.Standard.E5.Flex"]


def test_out_of_host_capacity_everywhere_names_every_offering_for_a_few_minutes(
    provider: OciProvider, server: RecordingOciServer
) -> None:
    spot = offering(provider.catalog(), E4, CapacityType.SPOT)
    server.state.no_capacity.add((E4, spot.zone, "spot"))

    with pytest.raises(InsufficientCapacity) as raised:
        provider.launch(request("launch-ice", spot))

    assert raised.value.offerings == (spot.ref,)
    assert raised.value.spot_unavailable
    assert 180 <= raised.value.ttl_seconds <= 300  # type: ignore[attr-defined]


@pytest.mark.parametrize("code", ["LimitExceeded", "QuotaExceeded"])
def test_limits_and_quotas_are_quota_exceeded_for_longer(
    provider: OciProvider, server: RecordingOciServer, code: str
) -> None:
    e4 = offering(provider.catalog(), E4)
    server.fail("LaunchInstance", 400, code, "The following service limits were exceeded: standard-e4-core-count")

    with pytest.raises(QuotaExceeded) as raised:
        provider.launch(request("launch-quota", e4, offering(provider.catalog(), E5)))

    assert raised.value.offerings == (e4.ref,)
    assert raised.value.ttl_seconds >= 600  # type: ignore[attr-defined]
    assert len(server.calls("LaunchInstance")) == 1  # a limit is not a reason to try the next shape


@pytest.mark.parametrize(
    ("status", "code"), [(429, "TooManyRequests"), (500, "InternalServerError"), (503, "ServiceUnavailable")]
)
def test_throttling_and_server_errors_are_transient(
    provider: OciProvider, server: RecordingOciServer, status: int, code: str
) -> None:
    e4 = offering(provider.catalog(), E4)
    server.fail("LaunchInstance", status, code, "try again", **{"retry-after": "7"})

    with pytest.raises(Transient) as raised:
        provider.launch(request("launch-transient", e4))

    assert raised.value.retry_after_seconds == 7.0
    assert len(server.calls("LaunchInstance")) == 1  # the SDK itself does not retry (no sleeping inside)


def test_invalid_parameters_are_permanent_and_auth_failures_are_configuration(
    provider: OciProvider, server: RecordingOciServer
) -> None:
    e4 = offering(provider.catalog(), E4)
    server.fail("LaunchInstance", 400, "InvalidParameter", "Shape VM.Standard.E4.Flex is not valid for image")
    with pytest.raises(Permanent) as permanent:
        provider.launch(request("launch-invalid", e4))
    assert permanent.value.offerings == (e4.ref,)

    server.fail(
        "LaunchInstance", 404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found"
    )
    with pytest.raises(ProviderConfigurationError, match="policy statements"):
        provider.launch(request("launch-unauthorized", e4))


def test_listing_errors_are_classified(provider: OciProvider, server: RecordingOciServer) -> None:
    server.fail("ListInstances", 503, "ServiceUnavailable", "down for a moment")
    with pytest.raises(Transient):
        provider.list_instances()


def test_an_unreachable_endpoint_is_transient(provider: OciProvider, server: RecordingOciServer) -> None:
    provider.catalog()
    server.stop()
    with pytest.raises(Transient):
        provider.list_instances()


def test_a_stockout_found_by_the_work_request_is_a_failed_instance_until_terminated(
    provider: OciProvider, server: RecordingOciServer
) -> None:
    e4 = offering(provider.catalog(), E4)
    server.state.no_capacity_later.add((E4, e4.zone, "on-demand"))
    instance = provider.launch(request("launch-later", e4))

    (failed,) = provider.list_instances()

    assert failed.instance_id == instance.instance_id and failed.state is InstanceState.FAILED
    assert isinstance(failed.failure, InsufficientCapacity) and failed.failure.offerings == (e4.ref,)
    assert failed.launch_id == "launch-later"
    assert provider.list_instances() == [failed]  # still listed, not polled again
    assert len(server.calls("ListWorkRequestErrors")) == 1

    provider.terminate(instance.instance_id)
    assert provider.list_instances() == []


def test_a_failed_work_request_with_another_error_is_permanent(
    provider: OciProvider, server: RecordingOciServer
) -> None:
    instance = provider.launch(request("launch-wr-failed", offering(provider.catalog(), E4)))
    server.finish_work_request(instance.instance_id, "FAILED", "Image is not compatible with shape")
    server.set_state(instance.instance_id, "TERMINATED")

    (failed,) = provider.list_instances()

    assert isinstance(failed.failure, Permanent) and "not compatible" in str(failed.failure)


def test_work_request_poll_errors_do_not_fail_the_listing(provider: OciProvider, server: RecordingOciServer) -> None:
    instance = provider.launch(request("launch-poll", offering(provider.catalog(), E4)))
    server.fail("GetWorkRequest", 500, "InternalServerError", "try later")

    assert [i.instance_id for i in provider.list_instances()] == [instance.instance_id]
    assert len(provider.list_instances()) == 1 and len(server.calls("GetWorkRequest")) == 2  # polled again


def test_no_boot_volume_by_the_launch_timeout_is_no_capacity_and_the_instance_is_terminated(
    provider: OciProvider, server: RecordingOciServer, clock: FakeClock
) -> None:
    e4 = offering(provider.catalog(), E4)
    instance = provider.launch(request("launch-stuck", e4))
    server.finish_work_request(instance.instance_id, "SUCCEEDED")

    clock.advance(599)
    assert provider.list_instances()[0].state is InstanceState.PENDING
    clock.advance(2)
    (failed,) = provider.list_instances()

    assert failed.state is InstanceState.FAILED
    assert isinstance(failed.failure, InsufficientCapacity) and failed.failure.offerings == (e4.ref,)
    assert server.state.instances[instance.instance_id]["lifecycleState"] == "TERMINATING"


def test_a_slow_launch_with_a_boot_volume_is_left_alone(
    provider: OciProvider, server: RecordingOciServer, clock: FakeClock
) -> None:
    instance = provider.launch(request("launch-slow", offering(provider.catalog(), E4)))
    server.state.boot_volumes.add(instance.instance_id)
    clock.advance(3600)

    assert [i.state for i in provider.list_instances()] == [InstanceState.PENDING]
    assert server.calls("ListBootVolumeAttachments")
