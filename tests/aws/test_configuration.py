"""Setting the provider up: a missing SDK, wrong or missing settings, subnets, images, the spot limits of aws.*."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from luna_autoscaler.errors import MissingExtra, ProviderConfigurationError
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.ports import LaunchRequest, ProviderContext
from pricing.aws.spot_policy import interruption_bucket
from tests.aws.clock import FakeClock
from tests.aws.conftest import ProviderFactory
from tests.aws.faults import FaultLayer
from tests.aws.world import CLUSTER, AwsWorld

ROOT = Path(__file__).resolve().parents[2]


def test_without_boto3_creation_says_which_extra_to_install(
    world: AwsWorld, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from providers.aws import create

    monkeypatch.setitem(sys.modules, "boto3", None)  # what `import boto3` meets when it is not installed
    with pytest.raises(MissingExtra, match=r"pip install 'luna-autoscaler\[aws\]'"):
        create(ProviderContext(world.config(), CLUSTER, clock))


def test_a_region_without_a_catalog_is_a_configuration_error(world: AwsWorld, clock: FakeClock) -> None:
    from providers.aws import create

    with pytest.raises(
        ProviderConfigurationError, match=r"aws\.region: no bundled aws catalog for region 'mars-east-1'"
    ):
        create(ProviderContext(world.config(region="mars-east-1"), CLUSTER, clock))


def test_importing_the_package_needs_no_aws_sdk() -> None:
    code = "import sys, providers.aws; assert not {'boto3', 'botocore'} & set(sys.modules), sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"instanceProfile": ""}, r"aws\.instanceProfile is required"),
        ({"amiFamily": "bottlerocket"}, r"aws\.amiFamily 'bottlerocket' is not supported"),
        ({"subnetSelectorTag": ""}, r"aws\.subnets .* or aws\.subnetSelectorTag"),
    ],
)
def test_missing_or_unsupported_settings_fail_at_creation(
    make_provider: ProviderFactory, settings: dict[str, str], message: str
) -> None:
    with pytest.raises(ProviderConfigurationError, match=message):
        make_provider(**settings)


def test_subnets_are_discovered_by_tag_per_zone(world: AwsWorld, make_provider: ProviderFactory) -> None:
    catalog = make_provider().catalog()
    assert catalog.zones() == tuple(sorted(world.subnets))  # the snapshot knows six zones; three have subnets


def test_configured_subnets_and_zones_limit_the_catalog(world: AwsWorld, make_provider: ProviderFactory) -> None:
    provider = make_provider(subnetSelectorTag="", subnets=dict(world.subnets), zones=["us-east-1b", "us-east-1c"])
    assert provider.catalog().zones() == ("us-east-1b", "us-east-1c")


def test_a_selector_matching_no_subnet_is_a_configuration_error(make_provider: ProviderFactory) -> None:
    with pytest.raises(ProviderConfigurationError, match="no available subnet carries this tag"):
        make_provider(subnetSelectorTag="karpenter.sh/discovery=other-cluster").catalog()


def test_spot_limits_exclude_dear_and_often_interrupted_spot(make_provider: ProviderFactory) -> None:
    everything = make_provider().catalog()
    limited = make_provider(maxSpotPriceRatio=0.4, maxSpotInterruptBucket=1).catalog()
    assert all(o.exclusion is None for o in everything)
    on_demand = {
        (o.name, o.zone): o.price_usd_per_hour for o in everything if o.capacity_type is CapacityType.ON_DEMAND
    }
    allowed = [o for o in limited if o.capacity_type is CapacityType.SPOT and o.exclusion is None]
    assert allowed and all(o.price_usd_per_hour <= 0.4 * on_demand[(o.name, o.zone)] for o in allowed)
    assert all((interruption_bucket(o.interruption_band) or 0) <= 1 for o in allowed)
    excluded = [o for o in limited if o.exclusion is not None]
    assert excluded and all(o.capacity_type is CapacityType.SPOT for o in excluded)
    assert {o.ref for o in everything} == {o.ref for o in limited}  # kept, so unplaced pods can count them


def test_a_pinned_image_skips_the_ssm_lookup(world: AwsWorld, make_provider: ProviderFactory) -> None:
    ec2 = FaultLayer(world.client("ec2"))
    provider = make_provider(clients=world.clients(ec2=ec2), amiId=world.image_id)
    before = [r for r in world.recorder.requests if r.operation == "GetParameter"]
    t3 = [o for o in provider.catalog() if o.name == "t3.medium" and o.capacity_type is CapacityType.ON_DEMAND][:1]
    provider.launch(LaunchRequest("launch-pinned-1", CLUSTER, tuple(t3)))
    assert [r for r in world.recorder.requests if r.operation == "GetParameter"] == before
    (template,) = ec2.called("create_launch_template")
    assert template["LaunchTemplateData"]["ImageId"] == world.image_id


def test_no_eks_ami_for_the_version_says_to_set_ami_id(world: AwsWorld, make_provider: ProviderFactory) -> None:
    cluster = world.client("eks").describe_cluster(name=CLUSTER)["cluster"]
    provider = make_provider(
        clusterVersion="1.99",
        clusterEndpoint=cluster["endpoint"],
        clusterCA=cluster["certificateAuthority"]["data"],
        serviceCIDR="10.100.0.0/16",
    )
    t3 = [o for o in provider.catalog() if o.name == "t3.medium" and o.capacity_type is CapacityType.ON_DEMAND][:1]
    with pytest.raises(ProviderConfigurationError, match=r"aws\.amiId"):
        provider.launch(LaunchRequest("launch-no-ami-1", CLUSTER, tuple(t3)))


def test_an_unknown_eks_cluster_is_a_configuration_error(make_provider: ProviderFactory) -> None:
    provider = make_provider(clusterName="no-such-cluster")
    t3 = [o for o in provider.catalog() if o.name == "t3.medium" and o.capacity_type is CapacityType.ON_DEMAND][:1]
    with pytest.raises(ProviderConfigurationError, match="EKS cluster 'no-such-cluster' not found"):
        provider.launch(LaunchRequest("launch-no-cluster-1", CLUSTER, tuple(t3)))


def test_graviton_and_neuron_types_boot_their_own_ami_variant(world: AwsWorld, make_provider: ProviderFactory) -> None:
    provider = make_provider()
    catalog = provider.catalog()
    for name, launch_id in (("c7g.large", "launch-arm-1"), ("inf2.xlarge", "launch-neuron-1")):
        offer = [o for o in catalog if o.name == name and o.capacity_type is CapacityType.ON_DEMAND][:1]
        provider.launch(LaunchRequest(launch_id, CLUSTER, tuple(offer)))
    asked = {r.params["Name"] for r in world.recorder.requests if r.operation == "GetParameter"}
    assert "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/arm64/standard/recommended/image_id" in asked
    assert "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/neuron/recommended/image_id" in asked


def test_without_security_groups_and_none_from_eks_the_setting_is_named(make_provider: ProviderFactory) -> None:
    provider = make_provider(securityGroups=[])  # moto's DescribeCluster gives no cluster security group
    t3 = [o for o in provider.catalog() if o.name == "t3.medium" and o.capacity_type is CapacityType.ON_DEMAND][:1]
    with pytest.raises(ProviderConfigurationError, match=r"set aws\.securityGroups"):
        provider.launch(LaunchRequest("launch-no-sg-1", CLUSTER, tuple(t3)))
