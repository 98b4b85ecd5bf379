"""One cycle's reading of the cluster: which nodes are ours, which instance backs each, what is free where.

Built once per cycle from the snapshot and the provider's instances, so that scale-up, scale-down, drains and
garbage collection agree on the same facts (and `instance_id_of` is asked once per node, not once per use).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from luna_autoscaler.errors import OfferingRef
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import Catalog
from luna_autoscaler.models.pod import Node, Pod
from luna_autoscaler.models.resources import ZERO, Resources
from luna_autoscaler.models.selection import owned_nodes
from luna_autoscaler.planner.types import CapacityNode
from luna_autoscaler.ports import ClusterSnapshot, Instance, InstanceState, NodeProvider

_NONE: Mapping[str, Resources] = MappingProxyType({})


def stays_with_node(pod: Pod) -> bool:
    """A pod a drain leaves where it is: a DaemonSet pod (its controller would put it back; it dies with the
    node), a static (mirror) pod (the kubelet owns it), or one that has finished."""
    return pod.is_daemonset_pod or pod.is_mirror_pod or pod.terminal


def is_movable(pod: Pod) -> bool:
    """A pod that drain must evict and that must fit elsewhere: not one that stays with its node, not already on
    its way out."""
    return not (stays_with_node(pod) or pod.deleting)


def eviction_blocker(pods: Iterable[Pod]) -> str | None:
    """Why a scale-down may not drain the node of these pods: the first movable one that must not be evicted
    (do-not-evict, safe-to-evict=false, do-not-disrupt; Pod.blocks_eviction), or None."""
    return next((f"pod {p.key} has {why}" for p in pods if is_movable(p) and (why := p.blocks_eviction)), None)


def as_pending(pod: Pod) -> Pod:
    """The pod as it will be once evicted and recreated: unbound, so the planner looks for a place for it."""
    return replace(pod, node_name="", phase="Pending", unschedulable=True)


@dataclass(frozen=True)
class ClusterView:
    snapshot: ClusterSnapshot
    instances: Mapping[str, Instance]  # live instances we own, by instance id
    node_instance: Mapping[str, str]  # node name → instance id (nodes whose provider id the provider knows)
    used: Mapping[str, Resources]  # node name → requests of the non-terminal pods bound to it
    catalog: Catalog
    pods_by_node: Mapping[str, tuple[Pod, ...]] = field(default_factory=dict)
    prices: Mapping[OfferingRef, float] = field(default_factory=dict)

    @staticmethod
    def build(
        snapshot: ClusterSnapshot,
        instances: Iterable[Instance],
        provider: NodeProvider,
        catalog: Catalog,
        prices: PriceIndex,
    ) -> ClusterView:
        live = {
            i.instance_id: i for i in instances if i.state not in (InstanceState.TERMINATING, InstanceState.TERMINATED)
        }
        node_instance: dict[str, str] = {}
        for node in snapshot.nodes:
            if node.provider_id:
                instance_id = provider.instance_id_of(node.provider_id)
                if instance_id:
                    node_instance[node.name] = instance_id
        used: dict[str, Resources] = {}
        by_node: dict[str, list[Pod]] = {}
        for pod in snapshot.pods:
            if pod.node_name and not pod.terminal:
                used[pod.node_name] = used.get(pod.node_name, ZERO) + pod.requests
                by_node.setdefault(pod.node_name, []).append(pod)
        return ClusterView(
            snapshot,
            live,
            node_instance,
            used,
            catalog,
            {k: tuple(v) for k, v in by_node.items()},
            prices.of(catalog),
        )

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.snapshot.nodes

    def owned_nodes(self) -> tuple[Node, ...]:
        """Ours by the managed-by label, or backed by an instance the provider lists as ours (selection.py)."""
        return owned_nodes(self.snapshot.nodes, {i.provider_id for i in self.instances.values() if i.identified})

    def pods_on(self, node_name: str) -> tuple[Pod, ...]:
        return self.pods_by_node.get(node_name, ())

    def movable_pods(self, node_name: str) -> tuple[Pod, ...]:
        return tuple(p for p in self.pods_on(node_name) if is_movable(p))

    def used_on(self, node_name: str) -> Resources:
        return self.used.get(node_name, ZERO)

    def capacity(self, exclude: frozenset[str], reserved: Mapping[str, Resources] = _NONE) -> tuple[CapacityNode, ...]:
        """Registered nodes pods can be scheduled on now: Ready, not cordoned, not in `exclude` (nodes being
        removed or still initialising, which the launch tracker describes instead)."""
        out = []
        for node in self.snapshot.nodes:
            if not node.ready or node.unschedulable or node.name in exclude:
                continue
            out.append(
                CapacityNode(
                    name=node.name,
                    labels=node.labels,
                    taints=node.taints,
                    free=node.allocatable - self.used_on(node.name) - reserved.get(node.name, ZERO),
                    price_usd_per_hour=self.price_of(node),
                    gpu_sku=node.labels.get(lbl.GPU_SKU),
                )
            )
        return tuple(out)

    def price_of(self, node: Node) -> float:
        """What the node costs per hour: the provider's price for its instance, else the catalog's offering."""
        instance = self.instances.get(self.node_instance.get(node.name, ""))
        if instance is not None and instance.price_usd_per_hour:
            return instance.price_usd_per_hour
        ref = (
            instance.offering
            if instance is not None
            else OfferingRef(
                self.catalog.type_of(node.labels),
                node.labels.get(lbl.ZONE, ""),
                node.labels.get(lbl.CAPACITY_TYPE, "on-demand"),
            )
        )
        return self.prices.get(ref, 0.0)

    def gpus_of(self, node: Node) -> int:
        """Physical accelerators of the node's instance type (not time-sliced replicas), the type being the
        catalog's name for the node (`Catalog.type_of`: a cloud may label it by its machine type alone)."""
        it = self.catalog.instance_types.get(self.catalog.type_of(node.labels))
        if it is not None:
            return it.gpus
        try:
            return int(node.labels.get(lbl.GPU_COUNT, "0"))
        except ValueError:
            return 0


class PriceIndex:
    """Offering → price of the current catalog, built once per catalog (a provider returns the same immutable
    Catalog until its prices refresh), not once per cycle: a catalog has thousands of offerings."""

    def __init__(self) -> None:
        self._catalog: Catalog | None = None
        self._prices: Mapping[OfferingRef, float] = MappingProxyType({})

    def of(self, catalog: Catalog) -> Mapping[OfferingRef, float]:
        if catalog is not self._catalog:
            self._prices = MappingProxyType({o.ref: o.price_usd_per_hour for o in catalog.offerings})
            self._catalog = catalog
        return self._prices


def requests_of(pods: Sequence[Pod]) -> Resources:
    total = ZERO
    for p in pods:
        total = total + p.requests
    return total
