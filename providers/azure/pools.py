"""One AKS agent pool per node configuration: its name, its shape, and how a pool read back tells its launches.

docs/design/aks-agent-pools.md says why pools and not single VMs. A pool is named after
`NodeConfiguration.key` (`lu` + 10 hex digits: AKS allows 12 lower-case alphanumerics for a Linux pool), so
equal configurations share one pool whatever process computes the name. The pool registers the configuration
with every node it makes: `vmSize`, `availabilityZones`, `scaleSetPriority=Spot` (with eviction `Delete` and
`spotMaxPrice=-1`, pay up to on-demand), `nodeLabels`, `nodeTaints`; AKS's own labels and taints (the well-known
Kubernetes ones and AKS's spot taint, which AKS adds itself) are not repeated.

Launch identity lives in the pool's tags, one tag per launch: `luna.elotl.co_launch_<launch id>` = the Unix
time it was submitted. Azure tag names cannot hold `/`, so the port's tags (`luna.elotl.co/cluster`) are stored
with `_` and translated back when read. A pool holds at most `MAX_LAUNCHES_PER_POOL` launches (Azure allows 50
tags on a resource).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

from luna_autoscaler.models.catalog import CapacityType, InstanceType, Offering, PriceProvenance
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.resources import NVIDIA_GPU
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import OWNER_VALUE, TAG_CLUSTER, TAG_OWNER, NodeConfiguration

POOL_PREFIX = "lu"
LAUNCH_TAG_PREFIX = "luna.elotl.co_launch_"
MAX_LAUNCHES_PER_POOL = 44
SPOT = "Spot"
REGULAR = "Regular"
# Label domains AKS or the kubelet set on every node (and AKS refuses in nodeLabels).
_CLOUD_LABEL_DOMAINS = ("kubernetes.io", "k8s.io", "kubernetes.azure.com")
_NO_PROVENANCE = PriceProvenance("agent pool", date(1970, 1, 1))  # labels only: the price is not read
_TAINT = re.compile(r"^(?P<key>[^=:]+)(?:=(?P<value>[^:]*))?:(?P<effect>NoSchedule|PreferNoSchedule|NoExecute)$")


def pool_name(configuration: NodeConfiguration) -> str:
    return f"{POOL_PREFIX}{configuration.key[:10]}"


def azure_tag(key: str) -> str:
    return key.replace("/", "_")


def launch_tag(launch_id: str) -> str:
    return f"{LAUNCH_TAG_PREFIX}{launch_id}"


def is_cloud_label(key: str) -> bool:
    domain = key.split("/", 1)[0] if "/" in key else ""
    return any(domain == d or domain.endswith(f".{d}") for d in _CLOUD_LABEL_DOMAINS)


def ownership_tags(cluster_name: str) -> dict[str, str]:
    return {azure_tag(TAG_CLUSTER): cluster_name, azure_tag(TAG_OWNER): OWNER_VALUE}


def zone_label(region: str, zone: str) -> str:
    """The `topology.kubernetes.io/zone` of an AKS node in availability zone `zone` ("1" → `eastus-1`)."""
    return f"{region}-{zone}"


def availability_zone(region: str, zone_label_value: str) -> str | None:
    """The availability zone of an offering's zone (`eastus-1` → "1"); None for a regional offering."""
    prefix = f"{region}-"
    return zone_label_value.removeprefix(prefix) if zone_label_value.startswith(prefix) else None


def parse_taint(text: str) -> Taint | None:
    m = _TAINT.match(text.strip())
    return Taint(m["key"], m["value"] or "", m["effect"]) if m else None


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """What every pool of this cluster shares, from `azure.*`."""

    region: str
    os_disk_gib: int
    os_sku: str
    vnet_subnet_id: str = ""
    max_pods: int | None = None
    skip_gpu_driver_install: bool = False


def pool_body(
    configuration: NodeConfiguration,
    offering: Offering,
    settings: PoolSettings,
    *,
    count: int,
    tags: Mapping[str, str],
) -> dict[str, Any]:
    """The ARM body of the agent pool for `configuration` (the `properties` of an AgentPool)."""
    cloud_taints = set(offering.node_taints)
    properties: dict[str, Any] = {
        "count": count,
        "vmSize": configuration.instance_type,
        "osType": "Linux",
        "osSKU": settings.os_sku,
        "osDiskSizeGB": settings.os_disk_gib,
        "mode": "User",
        "type": "VirtualMachineScaleSets",
        "enableAutoScaling": False,
        "scaleDownMode": "Delete",
        "nodeLabels": {k: v for k, v in configuration.labels.items() if not is_cloud_label(k)},
        "nodeTaints": [str(t) for t in configuration.taints if t not in cloud_taints],
        "tags": dict(tags),
    }
    zone = availability_zone(settings.region, configuration.zone)
    if zone is not None:
        properties["availabilityZones"] = [zone]
    if configuration.capacity_type is CapacityType.SPOT:
        properties |= {"scaleSetPriority": SPOT, "scaleSetEvictionPolicy": "Delete", "spotMaxPrice": -1}
    if settings.vnet_subnet_id:
        properties["vnetSubnetID"] = settings.vnet_subnet_id
    if settings.max_pods is not None:
        properties["maxPods"] = settings.max_pods
    accelerator = offering.instance_type.accelerator
    if settings.skip_gpu_driver_install and accelerator is not None and accelerator.resource_name == NVIDIA_GPU:
        properties["gpuProfile"] = {"driver": "None"}
    return {"properties": properties}


@dataclass(frozen=True, slots=True)
class PoolView:
    """An agent pool of ours as read back: its configuration and the launches its tags record."""

    name: str
    configuration: NodeConfiguration | None  # None: a size the catalog no longer knows
    count: int
    provisioning_state: str
    launches: Mapping[str, datetime]  # launch id → submitted at
    tags: Mapping[str, str]  # the port's tag names, launch tags left out
    raw: Mapping[str, Any]  # the pool's ARM document, for a read-modify-write PUT
    fault_body: Mapping[str, Any] | None  # status.provisioningError of a failed pool

    @property
    def busy(self) -> bool:
        return self.provisioning_state.lower() not in {"succeeded", "failed", "canceled"}

    @property
    def failed(self) -> bool:
        return self.provisioning_state.lower() == "failed"


def _as_dict(pool: Any) -> Mapping[str, Any]:
    return pool.as_dict() if hasattr(pool, "as_dict") else dict(pool)


def read_pool(pool: Any, region: str, instance_types: Mapping[str, InstanceType]) -> PoolView:
    """A pool from the SDK (or its JSON) as this provider sees it."""
    doc = _as_dict(pool)
    props: Mapping[str, Any] = doc.get("properties") or {}
    raw_tags: Mapping[str, str] = props.get("tags") or {}
    launches = {
        key.removeprefix(LAUNCH_TAG_PREFIX): datetime.fromtimestamp(_int(value), UTC)
        for key, value in raw_tags.items()
        if key.startswith(LAUNCH_TAG_PREFIX)
    }
    tags = {k.replace("_", "/", 1) if k.startswith("luna.elotl.co_") else k: v for k, v in raw_tags.items()}
    tags = {k: v for k, v in tags.items() if not k.startswith("luna.elotl.co/launch_")}
    status = props.get("status") or {}
    error = status.get("provisioningError") if isinstance(status, Mapping) else None
    return PoolView(
        name=str(doc.get("name", "")),
        configuration=_configuration(props, region, instance_types),
        count=_int(props.get("count")),
        provisioning_state=str(props.get("provisioningState") or "Succeeded"),
        launches=MappingProxyType(launches),
        tags=MappingProxyType(tags),
        fault_body=error if isinstance(error, Mapping) else None,
        raw=doc,
    )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _configuration(
    props: Mapping[str, Any], region: str, instance_types: Mapping[str, InstanceType]
) -> NodeConfiguration | None:
    it = instance_types.get(str(props.get("vmSize", "")))
    if it is None:
        return None
    zones = props.get("availabilityZones") or []
    zone = zone_label(region, str(zones[0])) if zones else region
    capacity = CapacityType.SPOT if props.get("scaleSetPriority") == SPOT else CapacityType.ON_DEMAND
    offering_labels = Offering(it, region, zone, capacity, 0.0, _NO_PROVENANCE).labels()
    labels = {k: v for k, v in offering_labels.items() if is_cloud_label(k)} | dict(props.get("nodeLabels") or {})
    taints = tuple(t for t in (parse_taint(str(s)) for s in props.get("nodeTaints") or ()) if t is not None)
    accelerator = it.accelerator
    mode = (
        GpuMode.recorded(accelerator.resource_name, accelerator.count, labels, fractional=accelerator.fractional)
        if accelerator is not None
        else GpuMode()
    )
    return NodeConfiguration(it.name, capacity, zone, MappingProxyType(labels), taints, mode)
