"""The user data that makes an EC2 instance join the EKS cluster: a nodeadm `NodeConfig` (Amazon Linux 2023).

AL2023 EKS AMIs run `nodeadm init` at boot, which reads a `node.eks.aws/v1alpha1` NodeConfig from user data
(https://awslabs.github.io/amazon-eks-ami/nodeadm/). It needs the cluster's name, API endpoint, CA bundle and
service CIDR; labels and taints go to the kubelet as `--node-labels` / `--register-with-taints` so a node is
born with them and no pod lands on it before they are set.

The labels the kubelet or the AWS cloud controller set by themselves (arch, OS, instance type, zone, region) are
left out, and so are per-launch labels: one launch template then serves every instance type, zone and launch of
a node configuration (a launch's identity is on the instance's tags). The kubelet refuses to start with a label
in the kubernetes.io / k8s.io namespaces outside the few it may set (NodeRestriction), so such labels are dropped
with a warning rather than producing a node that never joins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog
import yaml

from luna_autoscaler.models import kubelet_flags
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import PER_LAUNCH_LABELS

log = structlog.get_logger(__name__)

MIME_BOUNDARY = "//LUNA-NODECONFIG//"


@dataclass(frozen=True, slots=True)
class ClusterCoordinates:
    """What nodeadm needs to find and trust the API server (EKS DescribeCluster gives all of it)."""

    name: str
    endpoint: str
    certificate_authority: str  # base64 of the PEM bundle, as EKS returns it
    service_cidr: str
    version: str


def kubelet_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The labels to register the node with, warning of each one dropped.

    Per-launch labels are left to the instance's tags, so one launch template serves a node configuration.
    """
    checked = kubelet_flags.kubelet_labels(labels, leave_out=PER_LAUNCH_LABELS)
    for key in checked.dropped:
        log.warning("node label dropped: the kubelet may not set it (NodeRestriction)", label=key)
    return dict(checked.labels)


def node_config(cluster: ClusterCoordinates, labels: Mapping[str, str], taints: Sequence[Taint]) -> dict[str, object]:
    """The NodeConfig document (a plain mapping, dumped as YAML into the user data)."""
    flags = []
    node_labels = kubelet_labels(labels)
    if node_labels:
        flags.append("--node-labels=" + ",".join(f"{k}={v}" for k, v in node_labels.items()))
    taint_flags = kubelet_flags.taint_flags(taints)
    if taint_flags:
        flags.append("--register-with-taints=" + ",".join(taint_flags))
    spec: dict[str, object] = {
        "cluster": {
            "name": cluster.name,
            "apiServerEndpoint": cluster.endpoint,
            "certificateAuthority": cluster.certificate_authority,
            "cidr": cluster.service_cidr,
        }
    }
    if flags:
        spec["kubelet"] = {"flags": flags}
    return {"apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig", "spec": spec}


def user_data(cluster: ClusterCoordinates, labels: Mapping[str, str], taints: Sequence[Taint]) -> str:
    """MIME multi-part user data with one `application/node.eks.aws` part, as nodeadm documents it."""
    document = yaml.safe_dump(node_config(cluster, labels, taints), sort_keys=False, default_flow_style=False)
    return (
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/mixed; boundary="{MIME_BOUNDARY}"\n'
        "\n"
        f"--{MIME_BOUNDARY}\n"
        "Content-Type: application/node.eks.aws\n"
        "\n"
        "---\n"
        f"{document}"
        "\n"
        f"--{MIME_BOUNDARY}--\n"
    )
