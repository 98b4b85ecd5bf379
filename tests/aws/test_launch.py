"""Launching nodes through EC2 Fleet against moto's server: templates, overrides, tags, idempotency, list, terminate."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import (
    OWNER_VALUE,
    TAG_CLUSTER,
    TAG_LAUNCH_ID,
    TAG_NODE_POOL,
    TAG_OWNER,
    InstanceState,
    LaunchRequest,
)
from tests.aws.conftest import ProviderFactory
from tests.aws.faults import FaultLayer
from tests.aws.world import CLUSTER, AwsWorld


def offering(catalog: Catalog, name: str, zone: str, capacity: CapacityType) -> Offering:
    found = [o for o in catalog if o.name == name and o.zone == zone and o.capacity_type is capacity]
    assert found, f"{name}/{zone}/{capacity} not in the catalog"
    return found[0]


def launch_request(launch_id: str, *offerings: Offering, **kw: object) -> LaunchRequest:
    return LaunchRequest(launch_id=launch_id, cluster_name=CLUSTER, offerings=offerings, **kw)  # type: ignore[arg-type]


def raw_instance(world: AwsWorld, instance_id: str) -> dict[str, Any]:
    raw: dict[str, Any] = world.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0][
        "Instances"
    ][0]
    return raw


def node_config_of(world: AwsWorld, template_name: str) -> dict[str, Any]:
    data = world.client("ec2").describe_launch_template_versions(LaunchTemplateName=template_name)[
        "LaunchTemplateVersions"
    ][0]["LaunchTemplateData"]
    mime = base64.b64decode(data["UserData"]).decode()
    part = mime.split("Content-Type: application/node.eks.aws\n\n", 1)[1].split("\n--//LUNA-NODECONFIG//--")[0]
    return {"data": data, "node_config": yaml.safe_load(part), "mime": mime}


def test_spot_launch_builds_templates_and_a_tagged_spot_fleet(world: AwsWorld, make_provider: ProviderFactory) -> None:
    ec2 = FaultLayer(world.client("ec2"))
    provider = make_provider(clients=world.clients(ec2=ec2))
    catalog = provider.catalog()
    choices = (
        offering(catalog, "g5.xlarge", "us-east-1b", CapacityType.SPOT),
        offering(catalog, "g5.xlarge", "us-east-1a", CapacityType.SPOT),
        offering(catalog, "g4dn.xlarge", "us-east-1a", CapacityType.SPOT),
    )
    instance = provider.launch(
        launch_request(
            "launch-spot-1",
            *choices,
            labels={"node.elotl.co/bin": "select", "team.example.com/owner": "ml"},
            taints=(Taint("nvidia.com/gpu", "present"),),
            tags={"cost-center": "gpu-research"},
        )
    )

    assert (instance.instance_type, instance.zone, instance.capacity_type) == ("g5.xlarge", "us-east-1b", "spot")
    assert instance.provider_id == f"aws:///us-east-1b/{instance.instance_id}"
    assert instance.state is InstanceState.PENDING
    assert instance.price_usd_per_hour == choices[0].price_usd_per_hour

    (fleet,) = ec2.called("create_fleet")
    assert fleet["Type"] == "instant"
    assert fleet["ClientToken"] == "launch-spot-1"
    assert fleet["TargetCapacitySpecification"] == {"TotalTargetCapacity": 1, "DefaultTargetCapacityType": "spot"}
    assert fleet["SpotOptions"] == {"AllocationStrategy": "price-capacity-optimized"}
    overrides = [o for c in fleet["LaunchTemplateConfigs"] for o in c["Overrides"]]
    assert sorted((o["Priority"], o["InstanceType"], o["SubnetId"]) for o in overrides) == [
        (0.0, "g5.xlarge", world.subnets["us-east-1b"]),
        (1.0, "g5.xlarge", world.subnets["us-east-1a"]),
        (2.0, "g4dn.xlarge", world.subnets["us-east-1a"]),
    ]
    # Two GPU models → two node configurations (their gpu-sku labels differ) → two templates.
    templates = [c["LaunchTemplateSpecification"]["LaunchTemplateName"] for c in fleet["LaunchTemplateConfigs"]]
    assert len(set(templates)) == 2

    raw = raw_instance(world, instance.instance_id)
    tags = {t["Key"]: t["Value"] for t in raw["Tags"]}
    assert tags[TAG_CLUSTER] == CLUSTER
    assert tags[TAG_OWNER] == OWNER_VALUE
    assert tags[TAG_LAUNCH_ID] == "launch-spot-1"
    assert tags[TAG_NODE_POOL] == "select"
    assert tags[f"kubernetes.io/cluster/{CLUSTER}"] == "owned"
    assert tags["cost-center"] == "gpu-research"
    assert tags["Name"] == f"luna-{CLUSTER}-launch-spot-1"
    assert raw["InstanceLifecycle"] == "spot"
    assert raw["SubnetId"] == world.subnets["us-east-1b"]


def test_launch_template_boots_an_eks_node_with_labels_and_taints(
    world: AwsWorld, make_provider: ProviderFactory
) -> None:
    ec2 = FaultLayer(world.client("ec2"))
    provider = make_provider(clients=world.clients(ec2=ec2))
    g5 = offering(provider.catalog(), "g5.xlarge", "us-east-1c", CapacityType.ON_DEMAND)
    provider.launch(
        launch_request(
            "launch-template-1",
            g5,
            labels={"node.elotl.co/bin": "select", "node-role.kubernetes.io/gpu": "", "node.elotl.co/launch-id": "x"},
            taints=(Taint("nvidia.com/gpu", "present"), Taint("dedicated", "", "NoExecute")),
        )
    )
    (fleet,) = ec2.called("create_fleet")
    (config_entry,) = fleet["LaunchTemplateConfigs"]
    template = node_config_of(world, config_entry["LaunchTemplateSpecification"]["LaunchTemplateName"])
    data, config = template["data"], template["node_config"]

    cluster = world.client("eks").describe_cluster(name=CLUSTER)["cluster"]
    assert config["apiVersion"] == "node.eks.aws/v1alpha1" and config["kind"] == "NodeConfig"
    assert config["spec"]["cluster"] == {
        "name": CLUSTER,
        "apiServerEndpoint": cluster["endpoint"],
        "certificateAuthority": cluster["certificateAuthority"]["data"],
        "cidr": cluster["kubernetesNetworkConfig"]["serviceIpv4Cidr"],
    }
    labels_flag, taints_flag = config["spec"]["kubelet"]["flags"]
    labels = dict(kv.split("=", 1) for kv in labels_flag.removeprefix("--node-labels=").split(","))
    assert labels["node.elotl.co/bin"] == "select"
    assert labels["node.elotl.co/gpu-sku"] == "A10G"
    assert labels["karpenter.sh/capacity-type"] == "on-demand"
    # Set by the kubelet/cloud, refused by NodeRestriction, or per launch: never in a shared template.
    for absent in ("topology.kubernetes.io/zone", "node.kubernetes.io/instance-type", "node-role.kubernetes.io/gpu"):
        assert absent not in labels
    assert "node.elotl.co/launch-id" not in labels
    assert taints_flag == "--register-with-taints=dedicated:NoExecute,nvidia.com/gpu=present:NoSchedule"

    assert data["ImageId"] == world.image_id  # from the nvidia variant's SSM parameter
    ssm_names = [r.params["Name"] for r in world.recorder.requests if r.operation == "GetParameter"]
    assert "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/nvidia/recommended/image_id" in ssm_names
    assert data["IamInstanceProfile"] == {"Name": "gpu-test-node"}
    assert data["SecurityGroupIds"] == [world.security_group]
    assert data["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 100
    assert data["BlockDeviceMappings"][0]["Ebs"]["VolumeType"] == "gp3"
    assert data["MetadataOptions"]["HttpTokens"] == "required"


def test_on_demand_overrides_keep_the_planner_order(world: AwsWorld, make_provider: ProviderFactory) -> None:
    ec2 = FaultLayer(world.client("ec2"))
    provider = make_provider(clients=world.clients(ec2=ec2))
    catalog = provider.catalog()
    planned = (
        offering(catalog, "m5.xlarge", "us-east-1c", CapacityType.ON_DEMAND),
        offering(catalog, "m5.large", "us-east-1a", CapacityType.ON_DEMAND),
        offering(catalog, "m6i.large", "us-east-1b", CapacityType.ON_DEMAND),
    )
    instance = provider.launch(launch_request("launch-od-1", *planned))

    (fleet,) = ec2.called("create_fleet")
    assert fleet["OnDemandOptions"] == {"AllocationStrategy": "prioritized"}
    assert fleet["TargetCapacitySpecification"]["DefaultTargetCapacityType"] == "on-demand"
    overrides = sorted((o for c in fleet["LaunchTemplateConfigs"] for o in c["Overrides"]), key=lambda o: o["Priority"])
    assert [(o["InstanceType"], o["SubnetId"]) for o in overrides] == [(o.name, world.subnets[o.zone]) for o in planned]
    assert instance.capacity_type == "on-demand"
    assert "InstanceLifecycle" not in raw_instance(world, instance.instance_id)


def test_a_launch_is_one_capacity_type_the_first_offerings(world: AwsWorld, make_provider: ProviderFactory) -> None:
    ec2 = FaultLayer(world.client("ec2"))
    provider = make_provider(clients=world.clients(ec2=ec2))
    catalog = provider.catalog()
    provider.launch(
        launch_request(
            "launch-mixed-1",
            offering(catalog, "g4dn.xlarge", "us-east-1a", CapacityType.SPOT),
            offering(catalog, "g4dn.xlarge", "us-east-1a", CapacityType.ON_DEMAND),
            offering(catalog, "g4dn.xlarge", "us-east-1b", CapacityType.SPOT),
        )
    )
    (fleet,) = ec2.called("create_fleet")
    overrides = [o for c in fleet["LaunchTemplateConfigs"] for o in c["Overrides"]]
    assert [o["SubnetId"] for o in overrides] == [world.subnets["us-east-1a"], world.subnets["us-east-1b"]]
    assert "OnDemandOptions" not in fleet


def test_launching_again_with_the_same_id_returns_the_same_instance(
    world: AwsWorld, make_provider: ProviderFactory
) -> None:
    ec2 = FaultLayer(world.client("ec2"))
    provider = make_provider(clients=world.clients(ec2=ec2))
    m5 = offering(provider.catalog(), "m5.large", "us-east-1a", CapacityType.ON_DEMAND)
    first = provider.launch(launch_request("launch-idem-1", m5))
    # A restarted autoscaler (a new provider object) retrying the same launch:
    again = make_provider(clients=world.clients(ec2=ec2)).launch(launch_request("launch-idem-1", m5))
    assert again.instance_id == first.instance_id
    assert again.launch_id == "launch-idem-1"
    assert len(ec2.called("create_fleet")) == 1


def test_list_finds_exactly_our_live_instances_and_terminate_removes_them(
    world: AwsWorld, make_provider: ProviderFactory
) -> None:
    provider = make_provider()
    catalog = provider.catalog()
    spot = provider.launch(
        launch_request("launch-list-1", offering(catalog, "g5.xlarge", "us-east-1a", CapacityType.SPOT))
    )
    od = provider.launch(
        launch_request("launch-list-2", offering(catalog, "m5.large", "us-east-1b", CapacityType.ON_DEMAND))
    )
    ec2 = world.client("ec2")
    image = world.image_id
    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m5.large")  # not ours: no tags
    ec2.run_instances(  # another cluster's
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        InstanceType="m5.large",
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": TAG_CLUSTER, "Value": "other"}, {"Key": TAG_OWNER, "Value": OWNER_VALUE}],
            }
        ],
    )

    listed = {i.instance_id: i for i in provider.list_instances()}
    assert {spot.instance_id, od.instance_id} <= set(listed)
    assert all(i.tags[TAG_CLUSTER] == CLUSTER for i in listed.values())
    seen = listed[spot.instance_id]
    assert (seen.launch_id, seen.capacity_type, seen.zone, seen.state) == (
        "launch-list-1",
        "spot",
        "us-east-1a",
        InstanceState.RUNNING,
    )
    assert seen.price_usd_per_hour == spot.price_usd_per_hour
    assert provider.instance_id_of(seen.provider_id) == spot.instance_id

    provider.terminate(spot.instance_id)
    provider.terminate(spot.instance_id)  # again: already going, not an error
    provider.terminate("i-0123456789abcdef0")  # never existed: counts as success
    after = {i.instance_id: i for i in provider.list_instances()}
    assert spot.instance_id not in after
    assert od.instance_id in after


@pytest.mark.parametrize(
    ("provider_id", "expected"),
    [
        ("aws:///us-east-1a/i-0abc123def4567890", "i-0abc123def4567890"),
        ("aws:///i-0abc123def4567890", "i-0abc123def4567890"),
        ("gce://project/us-central1-a/node-1", None),
        ("aws:///us-east-1a/", None),
        ("", None),
    ],
)
def test_instance_id_of_reads_eks_provider_ids(
    make_provider: ProviderFactory, provider_id: str, expected: str | None
) -> None:
    assert make_provider().instance_id_of(provider_id) == expected


def test_a_gangs_placement_group_is_created_once_and_every_override_places_the_instance_in_it(
    world: AwsWorld, make_provider: ProviderFactory
) -> None:
    ec2 = FaultLayer(world.client("ec2"))
    provider = make_provider(clients=world.clients(ec2=ec2))
    catalog = provider.catalog()
    planned = (
        offering(catalog, "g4dn.xlarge", "us-east-1a", CapacityType.ON_DEMAND),
        offering(catalog, "g4dn.2xlarge", "us-east-1a", CapacityType.ON_DEMAND),
    )
    for launch_id in ("launch-pg-1", "launch-pg-2"):
        provider.launch(launch_request(launch_id, *planned, placement_group="luna-launch-pg-1"))

    created = [r.params for r in world.recorder.requests if r.operation == "CreatePlacementGroup"]
    assert len(created) == 1
    assert (created[0]["GroupName"], created[0]["Strategy"]) == ("luna-launch-pg-1", "cluster")
    assert created[0]["TagSpecification.1.ResourceType"] == "placement-group"
    for fleet in ec2.called("create_fleet"):
        overrides = [o for c in fleet["LaunchTemplateConfigs"] for o in c["Overrides"]]
        assert [o["Placement"] for o in overrides] == [{"GroupName": "luna-launch-pg-1"}] * 2
    provider.launch(launch_request("launch-no-pg", planned[0]))
    last = ec2.called("create_fleet")[-1]
    assert all("Placement" not in o for c in last["LaunchTemplateConfigs"] for o in c["Overrides"])
