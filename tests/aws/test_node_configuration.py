"""Pure parts of a launch: the nodeadm user data, launch template naming, reading CreateFleet answers."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from luna_autoscaler.errors import InsufficientCapacity, ProviderConfigurationError, Transient
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.models.scheduling import Taint
from pricing.catalog import load_catalog
from providers.aws.bootstrap import ClusterCoordinates, kubelet_labels, user_data
from providers.aws.fleet import FleetChoice, client_token, fleet_error, read_fleet_response
from providers.aws.launch_templates import TemplateContent

CLUSTER = ClusterCoordinates(
    name="prod-gpu",
    endpoint="https://0123456789ABCDEF0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com",
    certificate_authority="LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMvakNDQWVhZ0F3SUJBZ0lCQURBTkJna3Foa2lHOXcwQkFRc0ZBREFWTVJNd0VRWURWUVFERXdwcmRXSmwK",
    service_cidr="172.20.0.0/16",
    version="1.31",
)


def node_config(data: str) -> dict[str, Any]:
    header, body = data.split("Content-Type: application/node.eks.aws\n\n", 1)
    assert header.startswith("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=")
    assert data.endswith("--//LUNA-NODECONFIG//--\n")
    doc: dict[str, Any] = yaml.safe_load(body.split("\n--//LUNA-NODECONFIG//--")[0])
    return doc


def test_user_data_is_a_nodeadm_node_config_with_kubelet_flags() -> None:
    doc = node_config(
        user_data(CLUSTER, {"b.example.com/x": "1", "a.example.com/y": "2"}, [Taint("nvidia.com/gpu", "present")])
    )
    assert doc == {
        "apiVersion": "node.eks.aws/v1alpha1",
        "kind": "NodeConfig",
        "spec": {
            "cluster": {
                "name": "prod-gpu",
                "apiServerEndpoint": CLUSTER.endpoint,
                "certificateAuthority": CLUSTER.certificate_authority,
                "cidr": "172.20.0.0/16",
            },
            "kubelet": {
                "flags": [
                    "--node-labels=a.example.com/y=2,b.example.com/x=1",
                    "--register-with-taints=nvidia.com/gpu=present:NoSchedule",
                ]
            },
        },
    }


def test_without_labels_or_taints_there_are_no_kubelet_flags() -> None:
    assert "kubelet" not in node_config(user_data(CLUSTER, {}, []))["spec"]


def test_labels_the_kubelet_may_not_or_need_not_set_are_left_out() -> None:
    labels = {
        "node.kubernetes.io/exclude-from-external-load-balancers": "true",  # allowed namespace
        "kubernetes.io/arch": "amd64",  # set by the kubelet
        "topology.kubernetes.io/zone": "us-east-1a",  # set by the cloud controller
        "node-role.kubernetes.io/gpu": "",  # refused by NodeRestriction
        "example.k8s.io/team": "a",  # refused by NodeRestriction
        "node.elotl.co/launch-id": "l-1",  # per launch: on the instance's tags instead
        "team": "ml",
    }
    assert kubelet_labels(labels) == {"node.kubernetes.io/exclude-from-external-load-balancers": "true", "team": "ml"}


@pytest.mark.parametrize(
    ("labels", "taints"),
    [
        ({"team": "a,b"}, []),
        ({"bad key": "x"}, []),
        ({"team": "x" * 64}, []),
        ({}, [Taint("nvidia.com/gpu", "present", "Sometimes")]),
        ({}, [Taint("", "present")]),
    ],
)
def test_invalid_labels_and_taints_are_configuration_errors(labels: dict[str, str], taints: list[Taint]) -> None:
    with pytest.raises(ProviderConfigurationError):
        user_data(CLUSTER, labels, taints)


def configuration(**changes: object) -> TemplateContent:
    values: dict[str, object] = {
        "cluster_name": "prod-gpu",
        "image_id": "ami-0abcdef1234567890",
        "user_data": user_data(CLUSTER, {"team": "ml"}, []),
        "instance_profile": "prod-gpu-node",
        "security_group_ids": ("sg-0123456789abcdef0",),
        "root_volume_gib": 100,
        "root_volume_type": "gp3",
    }
    values.update(changes)
    return TemplateContent(**values)  # type: ignore[arg-type]


def test_a_launch_template_is_named_by_its_content() -> None:
    assert configuration().name == configuration().name
    assert configuration().name.startswith("luna-prod-gpu-")
    assert configuration(image_id="ami-0fedcba9876543210").name != configuration().name
    assert configuration(user_data=user_data(CLUSTER, {"team": "cv"}, [])).name != configuration().name
    profile = configuration(instance_profile="arn:aws:iam::123456789012:instance-profile/prod-gpu-node")
    assert profile.launch_template_data()["IamInstanceProfile"] == {
        "Arn": "arn:aws:iam::123456789012:instance-profile/prod-gpu-node"
    }


def test_long_launch_ids_still_make_a_valid_client_token() -> None:
    assert client_token("launch-1") == "launch-1"
    long_id = "x" * 100
    assert len(client_token(long_id)) == 64 and client_token(long_id) == client_token(long_id)


def choices() -> list[FleetChoice]:
    catalog = load_catalog("aws", "us-east-1")
    on_demand = {(o.name, o.zone): o for o in catalog if o.capacity_type is CapacityType.ON_DEMAND}
    return [
        FleetChoice(on_demand[("g5.xlarge", "us-east-1a")], "lt-a", "subnet-a"),
        FleetChoice(on_demand[("g5.xlarge", "us-east-1b")], "lt-a", "subnet-b"),
        FleetChoice(on_demand[("g6.xlarge", "us-east-1a")], "lt-b", "subnet-a"),
    ]


def test_an_error_without_overrides_names_every_override_of_its_template() -> None:
    sent = choices()
    outcome = read_fleet_response(
        {
            "Instances": [],
            "Errors": [
                {
                    "LaunchTemplateAndOverrides": {"LaunchTemplateSpecification": {"LaunchTemplateName": "lt-a"}},
                    "Lifecycle": "on-demand",
                    "ErrorCode": "InsufficientInstanceCapacity",
                    "ErrorMessage": "no capacity",
                }
            ],
        },
        sent,
    )
    assert outcome.failures[0].refs == (sent[0].ref, sent[1].ref)
    error = fleet_error("l-1", outcome.failures)
    assert isinstance(error, InsufficientCapacity) and not error.spot_unavailable


def test_a_configuration_error_outranks_capacity_errors() -> None:
    sent = choices()
    outcome = read_fleet_response(
        {
            "Errors": [
                {
                    "LaunchTemplateAndOverrides": {"Overrides": {"InstanceType": "g5.xlarge", "SubnetId": "subnet-a"}},
                    "ErrorCode": "InsufficientInstanceCapacity",
                    "ErrorMessage": "none",
                },
                {
                    "LaunchTemplateAndOverrides": {
                        "Overrides": {"InstanceType": "g6.xlarge", "AvailabilityZone": "us-east-1a"}
                    },
                    "ErrorCode": "InvalidAMIID.NotFound",
                    "ErrorMessage": "The image id '[ami-0abc]' does not exist",
                },
            ]
        },
        sent,
    )
    assert [f.refs for f in outcome.failures] == [(sent[0].ref,), (sent[2].ref,)]
    error = fleet_error("l-2", outcome.failures)
    assert isinstance(error, ProviderConfigurationError) and "aws.amiId" in str(error)


def test_an_empty_answer_is_transient() -> None:
    assert isinstance(fleet_error("l-3", read_fleet_response({}, choices()).failures), Transient)
