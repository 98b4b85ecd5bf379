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

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog
import yaml

from luna_autoscaler.errors import ProviderConfigurationError
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.scheduling import Effect, Taint

log = structlog.get_logger(__name__)

MIME_BOUNDARY = "//LUNA-NODECONFIG//"

# Set on the Node by the kubelet (hostname, os, arch) or by the AWS cloud controller (type, zone, region).
SET_BY_KUBELET_OR_CLOUD = frozenset(
    {
        lbl.HOSTNAME,
        lbl.OS,
        lbl.ARCH,
        lbl.ARCH_BETA,
        "beta.kubernetes.io/os",
        lbl.INSTANCE_TYPE,
        lbl.INSTANCE_TYPE_BETA,
        lbl.ZONE,
        lbl.ZONE_BETA,
        lbl.REGION,
        lbl.REGION_BETA,
    }
)
# Different for every launch: carried by the instance's tags instead (one launch template per node configuration).
PER_LAUNCH_LABELS = frozenset({lbl.LAUNCH_ID})
_KUBELET_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")

_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True, slots=True)
class ClusterCoordinates:
    """What nodeadm needs to find and trust the API server (EKS DescribeCluster gives all of it)."""

    name: str
    endpoint: str
    certificate_authority: str  # base64 of the PEM bundle, as EKS returns it
    service_cidr: str
    version: str


def _valid_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and bool(_NAME.fullmatch(name))


def _valid_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and bool(_NAME.fullmatch(value)))


def _restricted(key: str) -> bool:
    """A kubernetes.io / k8s.io label the kubelet may not set on itself."""
    prefix = key.rpartition("/")[0]
    in_k8s = any(prefix == ns or prefix.endswith("." + ns) for ns in ("kubernetes.io", "k8s.io"))
    allowed = any(prefix == ns or prefix.endswith("." + ns) for ns in _KUBELET_NAMESPACES)
    return in_k8s and not allowed


def kubelet_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The labels to register the node with, checked; sorted so that equal inputs give equal user data."""
    out: dict[str, str] = {}
    for key, value in sorted(labels.items()):
        if key in SET_BY_KUBELET_OR_CLOUD or key in PER_LAUNCH_LABELS:
            continue
        if not _valid_key(key) or not _valid_value(value):
            raise ProviderConfigurationError(f"node label {key}={value!r} is not a valid Kubernetes label")
        if _restricted(key):
            log.warning("node label dropped: the kubelet may not set it (NodeRestriction)", label=key)
            continue
        out[key] = value
    return out


def _taint_flag(taint: Taint) -> str:
    if not _valid_key(taint.key) or not _valid_value(taint.value) or taint.effect not in set(Effect):
        raise ProviderConfigurationError(f"node taint {taint} is not a valid Kubernetes taint")
    return str(taint)


def node_config(cluster: ClusterCoordinates, labels: Mapping[str, str], taints: Sequence[Taint]) -> dict[str, object]:
    """The NodeConfig document (a plain mapping, dumped as YAML into the user data)."""
    flags = []
    node_labels = kubelet_labels(labels)
    if node_labels:
        flags.append("--node-labels=" + ",".join(f"{k}={v}" for k, v in node_labels.items()))
    taint_flags = sorted({_taint_flag(t) for t in taints})
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
