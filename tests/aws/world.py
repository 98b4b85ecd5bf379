"""An AWS account for tests: moto's server (EC2, EKS, SQS) on 127.0.0.1 plus the recording server (Pricing, SSM).

`AwsWorld` starts both, creates what an EKS cluster's autoscaler expects to find (a VPC with one subnet per zone
tagged for discovery, an EKS cluster, an interruption queue) and builds `AwsClients` from real boto3 clients
pointed at them. moto reads MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION once, when it is first imported, so the
variable is set here before the import and the setting checked after it. moto's state lives in process memory
shared by all its servers; each world is a fresh account of its own (moto's `x-moto-account-id` request header),
so worlds never see each other's instances, whatever order tests run in.
"""

from __future__ import annotations

import itertools
import os

os.environ.setdefault("MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION", "true")

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from moto import settings as moto_settings
from moto.server import ThreadedMotoServer

from luna_autoscaler.config import Config, config_from_mapping
from providers.aws.clients import AwsClients
from tests.aws.recording_server import RecordingAwsServer

REGION = "us-east-1"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
CLUSTER = "gpu-test"
DISCOVERY_TAG = "karpenter.sh/discovery"
# One attempt: a test that injects a throttling answer must see it at once, without botocore's backoff sleeps.
TEST_CLIENT_CONFIG = BotoConfig(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=5, read_timeout=30)
_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


_ACCOUNTS = itertools.count(210000000001)


def aws_client(service: str, endpoint: str, account_id: str = "") -> Any:
    client = boto3.client(service, endpoint_url=endpoint, region_name=REGION, config=TEST_CLIENT_CONFIG, **_CREDENTIALS)
    if account_id:

        def in_account(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = account_id

        client.meta.events.register("before-sign", in_account)
    return client


class Ec2WithRecordedSpotPrices:
    """moto's EC2, except spot price history, which moto fills with placeholder prices: that comes from the
    recording server's recorded-format pages; and placement groups, which moto lacks. Everything else is the
    moto client's."""

    def __init__(self, moto_ec2: Any, recorder_ec2: Any) -> None:
        self._moto = moto_ec2
        self._recorder = recorder_ec2

    def __getattr__(self, name: str) -> Any:
        recorded = name in ("describe_spot_price_history", "create_placement_group")
        return getattr(self._recorder if recorded else self._moto, name)

    def get_paginator(self, operation: str) -> Any:
        client = self._recorder if operation == "describe_spot_price_history" else self._moto
        return client.get_paginator(operation)


@dataclass
class AwsWorld:
    moto_url: str
    recorder: RecordingAwsServer
    account_id: str
    subnets: dict[str, str] = field(default_factory=dict)  # zone → subnet id
    queue_url: str = ""
    image_id: str = ""
    security_group: str = ""
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """A moto client in this world's account (made once: boto3 clients are reusable and slow to build)."""
        return self._client(service, self.moto_url, self.account_id)

    def recorder_client(self, service: str) -> Any:
        return self._client(service, self.recorder.url, "")

    def _client(self, service: str, endpoint: str, account_id: str) -> Any:
        key = (service, endpoint)
        if key not in self._clients:
            self._clients[key] = aws_client(service, endpoint, account_id)
        return self._clients[key]

    def clients(self, *, ec2: Any = None) -> AwsClients:
        """The provider's clients; `ec2` replaces moto's EC2 client (e.g. by a fault layer around it)."""
        return AwsClients(
            ec2=Ec2WithRecordedSpotPrices(ec2 if ec2 is not None else self.client("ec2"), self.recorder_client("ec2")),
            ssm=self.recorder_client("ssm"),
            eks=self.client("eks"),
            sqs=self.client("sqs"),
            pricing=self.recorder_client("pricing"),
        )

    def config(self, **aws: Any) -> Config:
        """A configuration for this world; keyword arguments override `aws.*` keys (Luna names)."""
        section: dict[str, Any] = {
            "region": REGION,
            "clusterName": CLUSTER,
            "subnetSelectorTag": f"{DISCOVERY_TAG}={CLUSTER}",
            "instanceProfile": "gpu-test-node",
            "securityGroups": [self.security_group],
            "interruptionQueue": self.queue_url,
        }
        section.update(aws)
        return config_from_mapping({"aws": section, "defaultOfferings": "spot,on-demand"})


def start_world() -> tuple[ThreadedMotoServer, AwsWorld]:
    assert moto_settings.EC2_ENABLE_INSTANCE_TYPE_VALIDATION, "moto was imported before the variable was set"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    world = AwsWorld(
        moto_url=f"http://{host}:{port}", recorder=RecordingAwsServer().start(), account_id=f"{next(_ACCOUNTS):012d}"
    )
    ec2 = world.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    for i, zone in enumerate(ZONES):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone)["Subnet"]
        ec2.create_tags(Resources=[subnet["SubnetId"]], Tags=[{"Key": DISCOVERY_TAG, "Value": CLUSTER}])
        world.subnets[zone] = subnet["SubnetId"]
    group = ec2.create_security_group(GroupName="eks-cluster-sg", Description="cluster", VpcId=vpc)["GroupId"]
    world.security_group = group
    world.client("eks").create_cluster(
        name=CLUSTER,
        version="1.31",
        roleArn="arn:aws:iam::123456789012:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": list(world.subnets.values()), "securityGroupIds": [group]},
    )
    world.queue_url = world.client("sqs").create_queue(QueueName="gpu-test-interruptions")["QueueUrl"]
    world.image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    for arch in ("x86_64", "arm64"):
        for variant in ("standard", "nvidia", "neuron"):
            name = f"/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/{arch}/{variant}/recommended/image_id"
            world.recorder.answers.ssm_parameters[name] = world.image_id
    return server, world


def stop_world(server: ThreadedMotoServer, world: AwsWorld) -> None:
    world.recorder.stop()
    server.stop()
