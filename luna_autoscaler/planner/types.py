"""The planner's inputs and outputs: plain values, so the planner stays a pure function (architecture.md).

`plan(PlanRequest) -> Plan`: for every pending pod, a node (existing, in flight, or new) or a reason. The
reconcile loop, `plan` and `simulate` all build a PlanRequest and read a Plan; nothing else crosses this seam.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from luna_autoscaler.config import Config
from luna_autoscaler.errors import OfferingRef
from luna_autoscaler.models.catalog import Catalog, Offering
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.pod import DaemonSet, Pod
from luna_autoscaler.models.resources import Resources
from luna_autoscaler.models.scheduling import Taint

_EMPTY_STR: Mapping[str, str] = MappingProxyType({})
_EMPTY_INT: Mapping[str, int] = MappingProxyType({})


class BinKind(StrEnum):
    PACK = "pack"  # shared node for small pods (scale-down threshold 20 %)
    SELECT = "select"  # node chosen for a pod's own constraints (GPU, large, annotated; threshold 75 %)


@dataclass(frozen=True, slots=True)
class CapacityNode:
    """Capacity that exists or is coming: a registered node, or an in-flight launch not yet a node.

    `free` is allocatable minus the requests of the pods already bound to it. For an in-flight node, or a GPU
    node whose device plugin has not reported yet, `free` is what the node *will* offer, so pods it will take
    are not planned twice.
    """

    name: str
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    free: Resources
    in_flight: bool = False
    price_usd_per_hour: float = 0.0
    gpu_sku: str | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """What cluster limits leave for new nodes in this plan (None: unlimited)."""

    nodes: int | None = None
    gpus: int | None = None
    hourly_cost_usd: float | None = None


@dataclass(frozen=True)
class PlanRequest:
    pods: tuple[Pod, ...]
    catalog: Catalog
    config: Config = field(default_factory=Config)
    nodes: tuple[CapacityNode, ...] = ()
    daemonsets: tuple[DaemonSet, ...] = ()
    unavailable: frozenset[OfferingRef] = frozenset()
    limits: Limits = field(default_factory=Limits)
    name_prefix: str = "new"  # new node names: f"{name_prefix}-{i:04d}", deterministic


@dataclass(frozen=True, slots=True)
class PlannedNode:
    """A node to launch. `alternatives` are other offerings (in preference order) that fit the same pods under
    every constraint of every pod on it, for providers that pass fallbacks to the cloud in one call."""

    name: str
    offering: Offering
    pods: tuple[str, ...]  # "namespace/name"
    allocatable: Resources  # after overhead and time-slicing, as the scheduler will see it
    bin: BinKind
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY_STR)
    taints: tuple[Taint, ...] = ()
    alternatives: tuple[Offering, ...] = ()
    gpu_mode: GpuMode = field(default_factory=GpuMode)  # how its device plugin must expose the accelerators

    @property
    def price_usd_per_hour(self) -> float:
        return self.offering.price_usd_per_hour


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A pod that no offering or node can take, with a reason a person can act on and the rejection counts
    (like kube-scheduler: `0/812 offerings: 640 no GPU, 120 gpu-sku not in [T4]`)."""

    pod: str
    reason: str
    rejections: Mapping[str, int] = field(default_factory=lambda: _EMPTY_INT)


@dataclass(frozen=True)
class Plan:
    new_nodes: tuple[PlannedNode, ...]
    on_existing: Mapping[str, str]  # pod key → existing or in-flight node name
    unplaced: tuple[Unplaced, ...]

    @property
    def total_price_usd_per_hour(self) -> float:
        return round(sum(n.price_usd_per_hour for n in self.new_nodes), 6)
