"""Small hand-made catalogs and pods for planner tests: every price and size is visible in the test that uses it.

Shapes and on-demand prices follow real AWS us-east-1 types so the numbers read naturally, but nothing here
depends on the bundled catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import pytest

from luna_autoscaler.config import Config, config_from_mapping
from luna_autoscaler.models.catalog import Accelerator, CapacityType, Catalog, InstanceType, Offering, PriceProvenance
from luna_autoscaler.models.manifest import daemonset_from_manifest, pod_from_manifest
from luna_autoscaler.models.pod import DaemonSet, Pod
from luna_autoscaler.planner import plan
from luna_autoscaler.planner.types import Plan, PlanRequest
from pricing.overhead import with_nodes

PROVENANCE = PriceProvenance("test", date(2026, 1, 1))
ZONES = ("us-east-1a", "us-east-1b")


def t4(count: int = 1) -> Accelerator:
    return Accelerator("T4", count, memory_mib_per_device=15360)


TYPES: dict[str, tuple[InstanceType, float]] = {
    it.name: (it, price)
    for it, price in (
        (InstanceType("aws", "m5.large", "m5", 2, 8192, max_pods=29), 0.096),
        (InstanceType("aws", "m5.xlarge", "m5", 4, 16384, max_pods=58), 0.192),
        (InstanceType("aws", "m5.2xlarge", "m5", 8, 32768, max_pods=58), 0.384),
        (InstanceType("aws", "m5.4xlarge", "m5", 16, 65536, max_pods=234), 0.768),
        (InstanceType("aws", "c5.large", "c5", 2, 4096, max_pods=29), 0.085),
        (InstanceType("aws", "g4dn.xlarge", "g4dn", 4, 16384, accelerator=t4(), max_pods=29), 0.526),
        (InstanceType("aws", "g4dn.2xlarge", "g4dn", 8, 32768, accelerator=t4(), max_pods=29), 0.752),
        (InstanceType("aws", "g4dn.12xlarge", "g4dn", 48, 196608, accelerator=t4(4), max_pods=234), 3.912),
        (InstanceType("aws", "g5.xlarge", "g5", 4, 16384, accelerator=Accelerator("A10G", 1), max_pods=58), 1.006),
        (
            InstanceType(
                "aws", "g6f.large", "g6f", 2, 8192, accelerator=Accelerator("L4", 1, share_milli=125), max_pods=29
            ),
            0.201,
        ),
    )
}


def offering(
    name: str,
    zone: str = ZONES[0],
    capacity_type: CapacityType = CapacityType.ON_DEMAND,
    price: float | None = None,
    band: str | None = None,
) -> Offering:
    it, on_demand = TYPES[name]
    return Offering(it, "us-east-1", zone, capacity_type, on_demand if price is None else price, PROVENANCE, band)


def catalog(*offerings: Offering) -> Catalog:
    """A hand-made AWS catalog with EKS's node reservations on its types, as the bundled loader gives them."""
    return with_nodes(Catalog("aws", "us-east-1", tuple(offerings), PROVENANCE))


def on_demand_catalog(*names: str, zones: Iterable[str] = ZONES[:1]) -> Catalog:
    return catalog(*(offering(n, z) for n in names for z in zones))


def pod(
    name: str,
    cpu: str = "500m",
    memory: str = "1Gi",
    *,
    gpus: int = 0,
    shared_gpus: int = 0,
    annotations: Mapping[str, str] | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: list[dict[str, str]] | None = None,
    priority: int = 0,
    **extra: str,
) -> Pod:
    requests: dict[str, Any] = {"cpu": cpu, "memory": memory, **extra}
    if gpus:
        requests["nvidia.com/gpu"] = gpus
    if shared_gpus:
        requests["nvidia.com/gpu.shared"] = shared_gpus
    spec: dict[str, Any] = {"containers": [{"name": "c", "resources": {"requests": requests}}], "priority": priority}
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if tolerations:
        spec["tolerations"] = tolerations
    return pod_from_manifest(
        {"metadata": {"name": name, "namespace": "ns", "annotations": dict(annotations or {})}, "spec": spec}
    )


def daemonset(
    name: str,
    cpu: str,
    memory: str,
    node_selector: Mapping[str, str] | None = None,
    tolerations: list[dict[str, str]] | None = None,
) -> DaemonSet:
    spec: dict[str, Any] = {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if tolerations:
        spec["tolerations"] = tolerations
    return daemonset_from_manifest(
        {
            "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "kube-system"},
            "spec": {"template": {"spec": spec}},
        }
    )


def config(**keys: Any) -> Config:
    return config_from_mapping(keys)


def run(pods: Iterable[Pod], cat: Catalog, cfg: Config | None = None, **request: Any) -> Plan:
    """Plan as `luna-autoscaler plan` does: the catalog under its cloud's configuration section (`aws.*`)."""
    cfg = cfg or Config()
    return plan(PlanRequest(pods=tuple(pods), catalog=cfg.with_cloud_policy(cat), config=cfg, **request))


def types_bought(result: Plan) -> list[str]:
    return sorted(n.offering.instance_type.name for n in result.new_nodes)


def node_of(result: Plan, pod_key: str) -> str:
    for n in result.new_nodes:
        if pod_key in n.pods:
            return n.offering.instance_type.name
    raise AssertionError(f"{pod_key} not on a new node: {result}")


@pytest.fixture
def aws_small() -> Catalog:
    return on_demand_catalog(*TYPES)
