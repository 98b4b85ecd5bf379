"""The instance metadata that makes an OCI instance join the OKE cluster as a self-managed node.

OKE node images run `/etc/oke/oke-install.sh` from cloud-init user data; it needs the API server's private
endpoint and the cluster CA (OKE "Self-Managed Nodes" documentation). Labels are given as the metadata key
`oke-initial-node-labels` (`k=v,k=v`) and taints as the kubelet's `--register-with-taints`, so the node
registers with both and no pod lands on it before. `oke-is-preemptible` tells the bootstrap to add OKE's
preemptible taint; with VCN-native pod networking the pod subnets, their NSGs and `oke-max-pods` go in metadata
too, as Oracle's Karpenter provider passes them.

The labels the kubelet or the OCI cloud controller set themselves (arch, OS, instance type, zone, region) and
labels in the kubernetes.io / k8s.io namespaces the kubelet may not set (NodeRestriction) are left out: a node
with such a label never joins. `luna-node-configuration` records the whole NodeConfiguration (JSON) so
`list_instances` can give it back after a restart.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from luna_autoscaler.models import kubelet_flags
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import NodeConfiguration

log = structlog.get_logger(__name__)

CONFIGURATION_KEY = "luna-node-configuration"


@dataclass(frozen=True, slots=True)
class Cluster:
    """What oke-install.sh needs to find and trust the API server."""

    api_server_endpoint: str  # host or host:port of the private endpoint
    ca_base64: str


@dataclass(frozen=True, slots=True)
class Networking:
    pod_subnet_ids: tuple[str, ...] = ()
    pod_nsg_ids: tuple[str, ...] = ()
    max_pods: int = 110


def kubelet_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The labels to register the node with, warning of each one dropped."""
    checked = kubelet_flags.kubelet_labels(labels)
    for key in checked.dropped:
        log.warning("node label dropped: the kubelet may not set it (NodeRestriction)", label=key)
    return dict(checked.labels)


def user_data(cluster: Cluster, taints: tuple[Taint, ...]) -> str:
    """Base64 cloud-init user data: run OKE's bootstrap with the endpoint, the CA and the node's taints."""
    flags = kubelet_flags.taint_flags(taints)
    script = [
        "#!/usr/bin/env bash",
        "bash /etc/oke/oke-install.sh \\",
        f"  --apiserver-endpoint {shlex.quote(cluster.api_server_endpoint)} \\",
        f"  --kubelet-ca-cert {shlex.quote(cluster.ca_base64)}" + (" \\" if flags else ""),
    ]
    if flags:
        flag = "--register-with-taints=" + ",".join(flags)
        script.append(f"  --kubelet-extra-args {shlex.quote(flag)}")
    return base64.b64encode(("\n".join(script) + "\n").encode()).decode()


def instance_metadata(
    configuration: NodeConfiguration,
    cluster: Cluster,
    networking: Networking,
    *,
    ssh_authorized_keys: str = "",
) -> dict[str, str]:
    labels = kubelet_labels(configuration.labels)
    metadata = {
        "user_data": user_data(cluster, configuration.taints),
        "oke-initial-node-labels": ",".join(f"{k}={v}" for k, v in labels.items()),
        "oke-is-preemptible": str(configuration.capacity_type is CapacityType.SPOT).lower(),
        CONFIGURATION_KEY: encode_configuration(configuration),
    }
    if networking.pod_subnet_ids:
        metadata["oke-native-pod-networking"] = "true"
        metadata["oke-max-pods"] = str(networking.max_pods)
        metadata["pod-subnets"] = ",".join(networking.pod_subnet_ids)
        if networking.pod_nsg_ids:
            metadata["pod-nsgids"] = ",".join(networking.pod_nsg_ids)
    if ssh_authorized_keys:
        metadata["ssh_authorized_keys"] = ssh_authorized_keys
    return metadata


def encode_configuration(c: NodeConfiguration) -> str:
    return json.dumps(
        {
            "instance_type": c.instance_type,
            "capacity_type": c.capacity_type.value,
            "zone": c.zone,
            "labels": dict(sorted(c.labels.items())),
            "taints": [[t.key, t.value, t.effect] for t in c.taints],
            "gpu_mode": dataclasses.asdict(c.gpu_mode),
        },
        separators=(",", ":"),
    )


def decode_configuration(text: str | None) -> NodeConfiguration | None:
    """The NodeConfiguration an instance was launched with; None if its metadata does not hold a readable one."""
    if not text:
        return None
    try:
        doc = json.loads(text)
        return NodeConfiguration(
            instance_type=str(doc["instance_type"]),
            capacity_type=CapacityType(doc["capacity_type"]),
            zone=str(doc["zone"]),
            labels={str(k): str(v) for k, v in doc["labels"].items()},
            taints=tuple(Taint(str(k), str(v), str(e)) for k, v, e in doc["taints"]),
            gpu_mode=GpuMode(**doc["gpu_mode"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        log.warning("node configuration in instance metadata cannot be read", error=str(e))
        return None
