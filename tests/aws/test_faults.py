"""What the loop gets when AWS says no: capacity, quota, unsupported, throttling, bad configuration, partial fleets.

moto never runs out of capacity, so the answers are injected at our seam (`FaultLayer` around the EC2 client)
in the exact shapes AWS uses: a raised ClientError for a refused call, CreateFleet `Errors` entries for pools
that failed inside an accepted call.
"""

from __future__ import annotations

from typing import Any

import pytest

from luna_autoscaler.errors import (
    InsufficientCapacity,
    Permanent,
    ProviderConfigurationError,
    QuotaExceeded,
    Transient,
)
from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering
from luna_autoscaler.ports import LaunchRequest
from providers.aws.clients import AwsClients
from providers.aws.provider import AwsProvider
from tests.aws.conftest import ProviderFactory
from tests.aws.faults import FaultLayer
from tests.aws.world import CLUSTER, AwsWorld, aws_client


def offerings(catalog: Catalog, capacity: CapacityType, *pools: tuple[str, str]) -> tuple[Offering, ...]:
    index = {(o.name, o.zone): o for o in catalog if o.capacity_type is capacity}
    return tuple(index[pool] for pool in pools)


def fleet_error(world: AwsWorld, instance_type: str, zone: str, lifecycle: str, code: str) -> dict[str, Any]:
    return {
        "LaunchTemplateAndOverrides": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": "lt-0123456789abcdef0", "Version": "1"},
            "Overrides": {"InstanceType": instance_type, "SubnetId": world.subnets[zone]},
        },
        "Lifecycle": lifecycle,
        "ErrorCode": code,
        "ErrorMessage": f"{code} for {instance_type} in {zone} (injected)",
    }


@pytest.fixture
def faulty(world: AwsWorld, make_provider: ProviderFactory) -> tuple[AwsProvider, FaultLayer]:
    ec2 = FaultLayer(world.client("ec2"))
    return make_provider(clients=world.clients(ec2=ec2)), ec2


GPU_POOLS = (("g5.xlarge", "us-east-1a"), ("g5.xlarge", "us-east-1b"), ("g4dn.xlarge", "us-east-1a"))


def test_spot_capacity_errors_for_every_pool_make_them_all_unavailable(
    world: AwsWorld, faulty: tuple[AwsProvider, FaultLayer]
) -> None:
    provider, ec2 = faulty
    spot = offerings(provider.catalog(), CapacityType.SPOT, *GPU_POOLS)
    ec2.answer_next(
        "create_fleet",
        {
            "FleetId": "fleet-00000000-0000-0000-0000-000000000001",
            "Instances": [],
            "Errors": [
                fleet_error(world, "g5.xlarge", "us-east-1a", "spot", "InsufficientInstanceCapacity"),
                fleet_error(world, "g5.xlarge", "us-east-1b", "spot", "SpotMaxPriceTooLow"),
                fleet_error(world, "g4dn.xlarge", "us-east-1a", "spot", "UnfulfillableCapacity"),
            ],
        },
    )
    with pytest.raises(InsufficientCapacity) as caught:
        provider.launch(LaunchRequest("launch-ice-1", CLUSTER, spot))
    assert caught.value.offerings == tuple(o.ref for o in spot)
    assert caught.value.spot_unavailable
    assert "SpotMaxPriceTooLow" in str(caught.value)


def test_quota_is_the_most_telling_error_and_names_every_failed_pool(
    world: AwsWorld, faulty: tuple[AwsProvider, FaultLayer]
) -> None:
    provider, ec2 = faulty
    spot = offerings(provider.catalog(), CapacityType.SPOT, *GPU_POOLS)
    ec2.answer_next(
        "create_fleet",
        {
            "Instances": [],
            "Errors": [
                fleet_error(world, "g5.xlarge", "us-east-1a", "spot", "InsufficientInstanceCapacity"),
                fleet_error(world, "g5.xlarge", "us-east-1b", "spot", "MaxSpotInstanceCountExceeded"),
            ],
        },
    )
    with pytest.raises(QuotaExceeded) as caught:
        provider.launch(LaunchRequest("launch-quota-1", CLUSTER, spot))
    assert caught.value.offerings == tuple(o.ref for o in spot[:2])


def test_unsupported_type_in_a_zone_is_permanent_for_that_offering(
    world: AwsWorld, faulty: tuple[AwsProvider, FaultLayer]
) -> None:
    provider, ec2 = faulty
    od = offerings(provider.catalog(), CapacityType.ON_DEMAND, ("g5.xlarge", "us-east-1c"))
    ec2.answer_next(
        "create_fleet",
        {"Instances": [], "Errors": [fleet_error(world, "g5.xlarge", "us-east-1c", "on-demand", "Unsupported")]},
    )
    with pytest.raises(Permanent) as caught:
        provider.launch(LaunchRequest("launch-unsupported-1", CLUSTER, od))
    assert caught.value.offerings == (od[0].ref,)


def test_partial_fleet_returns_the_instance_that_launched(
    world: AwsWorld, faulty: tuple[AwsProvider, FaultLayer]
) -> None:
    provider, ec2 = faulty
    spot = offerings(provider.catalog(), CapacityType.SPOT, *GPU_POOLS)

    def some_pools_failed(answer: dict[str, Any]) -> dict[str, Any]:
        # moto launched in the first pool; AWS would also report the pools it tried first and could not fill.
        answer["Errors"] = [
            fleet_error(world, "g5.xlarge", "us-east-1b", "spot", "InsufficientInstanceCapacity"),
            fleet_error(world, "g4dn.xlarge", "us-east-1a", "spot", "capacity-not-available"),
        ]
        return answer

    ec2.edit_next("create_fleet", some_pools_failed)
    instance = provider.launch(LaunchRequest("launch-partial-1", CLUSTER, spot))
    assert (instance.instance_type, instance.zone, instance.capacity_type) == ("g5.xlarge", "us-east-1a", "spot")
    assert instance.instance_id in {i.instance_id for i in provider.list_instances()}


@pytest.mark.parametrize(
    ("code", "status", "expected", "retry_after"),
    [
        ("InsufficientInstanceCapacity", 500, InsufficientCapacity, None),
        ("VcpuLimitExceeded", 400, QuotaExceeded, None),
        ("InstanceLimitExceeded", 400, QuotaExceeded, None),
        ("InvalidParameterCombination", 400, Permanent, None),
        ("RequestLimitExceeded", 503, Transient, 10.0),
        ("InternalError", 500, Transient, 5.0),
        ("SomethingNewFromAws", 500, Transient, 5.0),
        ("SomethingNewFromAws", 400, Permanent, None),
        ("UnauthorizedOperation", 403, ProviderConfigurationError, None),
        ("InvalidSubnetID.NotFound", 400, ProviderConfigurationError, None),
        ("InvalidAMIID.NotFound", 400, ProviderConfigurationError, None),
    ],
)
def test_a_refused_create_fleet_is_classified(
    faulty: tuple[AwsProvider, FaultLayer], code: str, status: int, expected: type, retry_after: float | None
) -> None:
    provider, ec2 = faulty
    od = offerings(provider.catalog(), CapacityType.ON_DEMAND, ("m5.large", "us-east-1a"), ("m5.large", "us-east-1b"))
    ec2.fail_next("create_fleet", code, status=status)
    with pytest.raises(expected) as caught:
        provider.launch(LaunchRequest(f"launch-refused-{code}-{status}", CLUSTER, od))
    assert code in str(caught.value)
    assert isinstance(caught.value.__cause__, Exception)  # the botocore error stays visible
    error: Any = caught.value
    if retry_after is not None:
        assert error.retry_after_seconds == retry_after
    if expected in (InsufficientCapacity, QuotaExceeded, Permanent):
        assert error.offerings == tuple(o.ref for o in od)


def test_a_bad_instance_profile_says_which_setting_to_fix(faulty: tuple[AwsProvider, FaultLayer]) -> None:
    provider, ec2 = faulty
    od = offerings(provider.catalog(), CapacityType.ON_DEMAND, ("m5.large", "us-east-1a"))
    ec2.fail_next(
        "create_fleet",
        "InvalidParameterValue",
        "Value (gpu-test-node) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
    )
    with pytest.raises(ProviderConfigurationError, match=r"aws\.instanceProfile"):
        provider.launch(LaunchRequest("launch-profile-1", CLUSTER, od))


def test_a_launch_template_deleted_behind_our_back_is_recreated(
    world: AwsWorld, faulty: tuple[AwsProvider, FaultLayer]
) -> None:
    provider, ec2 = faulty
    od = offerings(provider.catalog(), CapacityType.ON_DEMAND, ("t3.large", "us-east-1a"))
    provider.launch(LaunchRequest("launch-lt-1", CLUSTER, od))
    (template,) = {
        c["LaunchTemplateSpecification"]["LaunchTemplateName"]
        for c in ec2.called("create_fleet")[0]["LaunchTemplateConfigs"]
    }
    world.client("ec2").delete_launch_template(LaunchTemplateName=template)
    ec2.fail_next("create_fleet", "InvalidLaunchTemplateName.NotFoundException", "does not exist")
    with pytest.raises(Transient):
        provider.launch(LaunchRequest("launch-lt-2", CLUSTER, od))
    provider.launch(LaunchRequest("launch-lt-2", CLUSTER, od))
    created = [c["LaunchTemplateName"] for c in ec2.called("create_launch_template")]
    assert created == [template, template]


def test_a_throttled_terminate_is_transient(faulty: tuple[AwsProvider, FaultLayer]) -> None:
    provider, ec2 = faulty
    ec2.fail_next("terminate_instances", "RequestLimitExceeded", status=503)
    with pytest.raises(Transient):
        provider.terminate("i-0123456789abcdef0")


def test_an_unreachable_endpoint_is_transient(world: AwsWorld, make_provider: ProviderFactory) -> None:
    closed = aws_client("ec2", "http://127.0.0.1:9")  # discard port: nothing listens there
    clients = world.clients()
    provider = make_provider(clients=AwsClients(closed, clients.ssm, clients.eks, clients.sqs, clients.pricing))
    with pytest.raises(Transient):
        provider.list_instances()
    with pytest.raises(Transient):
        provider.terminate("i-0123456789abcdef0")
