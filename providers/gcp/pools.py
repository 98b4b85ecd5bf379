"""One GKE node pool per node configuration: its name, its spec, and the record it carries for a restart.

A pool is named `<gcp.nodePoolPrefix><NodeConfiguration.key>`, so equal configurations share one and a changed
setting is a new pool (GKE cannot change a pool's labels, taints or machine type in place without recreating
nodes). It is created with no node and stays when idle, at size 0, so the next scale-up skips the minutes of pool
creation. Its node labels and taints are what the kubelet registers (GKE passes them as kubelet flags), so no pod
lands on a node before they are set.

The pool's GCE metadata `luna-node-configuration` records, as JSON, what list_instances must report after a
restart: the autoscaler's cluster name, the node configuration as registered (with GKE's own time-sharing labels,
which the loop put among the launch's labels from the offering), the tags of its launches and the launch that
created the pool. A node's name is `<pool>-<launch id>`: the instance name is the launch identity, recorded by GCE
itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from google.cloud import container_v1

from luna_autoscaler.errors import ProviderConfigurationError
from luna_autoscaler.models.catalog import CapacityType, InstanceType
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.resources import NVIDIA_GPU
from luna_autoscaler.models.scheduling import Effect, Taint
from luna_autoscaler.ports import TAG_GANG, TAG_LAUNCH_ID, NodeConfiguration
from pricing.gcp.machines import GKE_MAX_SHARED_CLIENTS_LABEL, machine_spec
from providers.gcp.config import GcpConfig

RECORD_KEY = "luna-node-configuration"
RECORD_VERSION = 1
OWNER_LABEL = "luna-owner"  # GCE labels on the nodes' VMs (lowercase keys, no '/'): billing reports can group by them
CLUSTER_LABEL = "luna-cluster"
POOL_LABEL = "luna-node-pool"
_INSTANCE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_GCE_LABEL_VALUE = re.compile(r"[^a-z0-9_-]")
# Label namespaces GKE or the kubelet own: GKE refuses them in a pool's labels and sets what it needs itself.
_RESERVED_LABEL_DOMAINS = ("kubernetes.io", "k8s.io", "cloud.google.com", "googleapis.com")
_EFFECTS = {
    Effect.NO_SCHEDULE: container_v1.NodeTaint.Effect.NO_SCHEDULE,
    Effect.PREFER_NO_SCHEDULE: container_v1.NodeTaint.Effect.PREFER_NO_SCHEDULE,
    Effect.NO_EXECUTE: container_v1.NodeTaint.Effect.NO_EXECUTE,
}


def pool_name(prefix: str, configuration: NodeConfiguration) -> str:
    return f"{prefix}{configuration.key}"


def instance_name(pool: str, launch_id: str) -> str:
    """The node's VM name: the pool's name and the launch id (a launch id GCE cannot hold is digested)."""
    name = f"{pool}-{launch_id}"
    if _INSTANCE_NAME.match(name):
        return name
    return f"{pool}-x{hashlib.sha256(launch_id.encode()).hexdigest()[:20]}"


def launch_id_of(pool: str, name: str) -> str:
    """The launch id in a node's VM name ("" if the VM is not named by a launch of ours)."""
    return name.removeprefix(f"{pool}-") if name.startswith(f"{pool}-") else ""


def gce_label_value(text: str) -> str:
    return _GCE_LABEL_VALUE.sub("-", text.lower())[:63]


def _reserved(key: str) -> bool:
    domain = key.rpartition("/")[0]
    return any(domain == d or domain.endswith("." + d) for d in _RESERVED_LABEL_DOMAINS)


def gpu_sharing(configuration: NodeConfiguration, it: InstanceType, gcp: GcpConfig) -> int:
    """GKE time-sharing clients per GPU for this configuration (0: none), from the time-sharing labels among its
    labels: the loop put them there from the offering (`Offering.time_sharing`, pricing.gcp.offerings), as the
    planner counted them, so the pool registers exactly what was planned.

    A time-sliced mode on `nvidia.com/gpu` is GKE's own time-sharing. A renamed one (`nvidia.com/gpu.shared`)
    needs the NVIDIA GPU operator's device plugin, which reads the mode's `nvidia.com/device-plugin.config` label:
    only possible when GKE installs no driver and plugin (`gcp.gpuDriverVersion: INSTALLATION_DISABLED`, and then
    the provider's catalog has no time-sharing labels)."""
    acc = it.accelerator
    if acc is None:
        return 0
    mode = configuration.gpu_mode
    if mode.resource is None:
        mode = GpuMode.recorded(acc.resource_name, acc.count, configuration.labels, fractional=acc.fractional)
    if mode.sliced and mode.resource != NVIDIA_GPU and gcp.gpu_driver_version != "INSTALLATION_DISABLED":
        raise ProviderConfigurationError(
            f"{it.name}: GKE time-sharing exposes nvidia.com/gpu only, not {mode.resource}: set gpuTimeSlicing "
            "renameByDefault to false, or gcp.gpuDriverVersion INSTALLATION_DISABLED with the NVIDIA GPU operator "
            "(docs/gcp.md)"
        )
    clients = configuration.labels.get(GKE_MAX_SHARED_CLIENTS_LABEL, "0")
    if not clients.isdigit():
        raise ProviderConfigurationError(f"{it.name}: label {GKE_MAX_SHARED_CLIENTS_LABEL}={clients!r} is no count")
    return int(clients)


@dataclass(frozen=True, slots=True)
class PoolRecord:
    """What a pool of ours remembers (its GCE metadata `luna-node-configuration`)."""

    cluster_name: str
    configuration: NodeConfiguration
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    first_launch_id: str = ""

    def to_json(self) -> str:
        c = self.configuration
        return json.dumps(
            {
                "version": RECORD_VERSION,
                "cluster": self.cluster_name,
                "instanceType": c.instance_type,
                "capacityType": c.capacity_type.value,
                "zone": c.zone,
                "labels": dict(sorted(c.labels.items())),
                "taints": [[t.key, t.value, str(t.effect)] for t in c.taints],
                "gpuMode": [c.gpu_mode.resource, c.gpu_mode.devices, c.gpu_mode.replicas, c.gpu_mode.config_name],
                "tags": dict(sorted(self.tags.items())),
                "firstLaunch": self.first_launch_id,
            },
            separators=(",", ":"),
        )

    @staticmethod
    def from_json(text: str) -> PoolRecord:
        """Raises ValueError (also for JSON of the wrong shape)."""
        try:
            doc: dict[str, Any] = json.loads(text)
            resource, devices, replicas, config_name = doc["gpuMode"]
            configuration = NodeConfiguration(
                instance_type=str(doc["instanceType"]),
                capacity_type=CapacityType(doc["capacityType"]),
                zone=str(doc["zone"]),
                labels=MappingProxyType({str(k): str(v) for k, v in doc["labels"].items()}),
                taints=tuple(Taint(str(k), str(v), str(e)) for k, v, e in doc["taints"]),
                gpu_mode=GpuMode(resource, int(devices), int(replicas), config_name),
            )
            tags = MappingProxyType({str(k): str(v) for k, v in doc["tags"].items()})
            return PoolRecord(str(doc["cluster"]), configuration, tags, str(doc.get("firstLaunch", "")))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"unreadable {RECORD_KEY}: {e}") from e


def pool_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """A launch's tags as its pool records them: the same for every launch of the pool."""
    return {k: v for k, v in tags.items() if k not in (TAG_LAUNCH_ID, TAG_GANG)}


def node_pool(gcp: GcpConfig, name: str, record: PoolRecord, it: InstanceType, sharing_clients: int) -> Any:
    """The GKE NodePool to create for `record` (no node, one zone, labels and taints registered by the kubelet)."""
    c = record.configuration
    spec = machine_spec(it)
    accelerators = []
    if spec.accelerator_count:
        sharing = None
        if sharing_clients:
            sharing = container_v1.GPUSharingConfig(
                max_shared_clients_per_gpu=sharing_clients,
                gpu_sharing_strategy=container_v1.GPUSharingConfig.GPUSharingStrategy.TIME_SHARING,
            )
        accelerators.append(
            container_v1.AcceleratorConfig(
                accelerator_count=spec.accelerator_count,
                accelerator_type=spec.accelerator_type,
                gpu_driver_installation_config=container_v1.GPUDriverInstallationConfig(
                    gpu_driver_version=container_v1.GPUDriverInstallationConfig.GPUDriverVersion[gcp.gpu_driver_version]
                ),
                gpu_sharing_config=sharing,
            )
        )
    taints = []
    for t in c.taints:
        if t.effect not in _EFFECTS:
            raise ProviderConfigurationError(f"node taint {t}: effect {t.effect!r} is not a Kubernetes taint effect")
        taints.append(container_v1.NodeTaint(key=t.key, value=t.value, effect=_EFFECTS[Effect(t.effect)]))
    config = container_v1.NodeConfig(
        machine_type=spec.machine_type,
        disk_size_gb=gcp.disk_size_gib,
        disk_type=gcp.disk_type,
        image_type=gcp.image_type,
        service_account=gcp.service_account,
        oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
        spot=c.capacity_type is CapacityType.SPOT,
        labels={k: v for k, v in sorted(c.labels.items()) if not _reserved(k)},
        taints=taints,
        accelerators=accelerators,
        metadata={RECORD_KEY: record.to_json(), "disable-legacy-endpoints": "true"},
        resource_labels={
            OWNER_LABEL: "luna-autoscaler",
            CLUSTER_LABEL: gce_label_value(record.cluster_name),
            POOL_LABEL: name,
        },
    )
    return container_v1.NodePool(
        name=name,
        config=config,
        initial_node_count=0,
        locations=[c.zone],
        management=container_v1.NodeManagement(auto_repair=True, auto_upgrade=True),
    )
