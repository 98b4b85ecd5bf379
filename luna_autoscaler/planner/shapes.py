"""The nodes the planner can buy: each instance type in each way its GPUs can be exposed, and the offerings of it.

An instance type is not one node shape. With `gpuTimeSlicing` a node with G physical GPUs offers G x N replicas
(`nvidia.com/gpu`, or `nvidia.com/gpu.shared` with renameByDefault); without it, G whole GPUs. The slicing is
decided per node: a node that will host shared-GPU pods carries the label `nvidia.com/device-plugin.config=<name>`
that selects a time-slicing configuration of the NVIDIA device plugin (its per-node config mechanism); a node
for whole-GPU pods carries no such label and stays unsliced, so both kinds of pods coexist in one cluster.
`NodeKind` is an instance type in one such mode, with its allocatable, taints and labels.

Fractional GPU types (AWS g6f, Azure NV*ads_A10_v5: one device that is a fraction of a physical GPU) are only
offered as shared GPUs (`nvidia.com/gpu.shared`): a pod asking for a whole `nvidia.com/gpu` must never be given
an eighth of an L4.

Allocatable is data: what registered nodes of the type report (`observed_node_resources`), else the catalog's
`InstanceType.node` (pricing.overhead: each cloud's reservation rule, applied where the catalog is made); the
planner names no cloud. Offerings get one correction here, the only place that makes it: an on-demand offering
without a spot sibling gets an estimated spot offering at `spotPriceRatioEstimate` x its price (marked
`price_estimated`, its provenance naming the on-demand source and the ratio), so a ConfigMap change applies at
the next prepared value. Offerings excluded where the catalog was made (`Offering.exclusion`: a cloud's spot
limits) or priced at $0 (a catalog fault) are kept with the reason, because the reasons given for unplaced pods
count them. All of it is built once per catalog and configuration, as a `PreparedOfferings` value the caller
keeps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from luna_autoscaler.config import Config, TimeSlicing
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import (
    CapacityType,
    Catalog,
    InstanceType,
    NodeResources,
    Offering,
)
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.gpu_sku import requested_skus
from luna_autoscaler.models.mig import layouts, mig_model
from luna_autoscaler.models.pod import Node
from luna_autoscaler.models.resources import CPU, EPHEMERAL_STORAGE, MEMORY, NVIDIA_GPU, PODS, Resources
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.models.type_pattern import type_pattern

MIG_SINGLE_TAINT = Taint("nvidia.com/mig", "single", "NoSchedule")
"""Nodes partitioned under the single MIG strategy expose slices as `nvidia.com/gpu`; pods that tolerate this
taint ask for a slice, the others (whole-GPU pods) never get one."""


def parse_taint(text: str) -> Taint:
    """`key[=value]:Effect` (config `gpuTaint`, `nodeTaints`; validated by the config schema)."""
    head, _, effect = text.rpartition(":")
    key, _, value = head.partition("=")
    return Taint(key, value, effect)


@dataclass(frozen=True, slots=True)
class NodeKind:
    """An instance type in one GPU mode: what every offering of it offers, before DaemonSets."""

    index: int
    instance_type: InstanceType
    mode: GpuMode
    allocatable: Resources  # after kube/system reserved and eviction, with the mode's accelerators
    taints: tuple[Taint, ...]
    labels: Mapping[str, str]  # labels the planner adds for this mode (device plugin config)


def _slicing_entry(it: InstanceType, entries: Iterable[TimeSlicing]) -> TimeSlicing | None:
    sku = it.gpu_sku
    for entry in entries:
        if sku is not None and any(sku in requested_skus(s) for s in entry.gpu_skus):
            return entry
        if entry.instance_type_regexp and type_pattern(entry.instance_type_regexp).search(it.name):
            return entry
    return None


def gpu_modes(it: InstanceType, config: Config) -> tuple[GpuMode, ...]:
    """The ways this type's accelerators can be exposed, unsliced first."""
    acc = it.accelerator
    if acc is None:
        return (GpuMode(),)
    if acc.resource_name != NVIDIA_GPU:
        return (GpuMode.whole(acc.resource_name, acc.count),)
    entry = _slicing_entry(it, config.gpu_time_slicing)
    if acc.fractional:
        # A fractional device (g6f.large: 1/8 of an L4) is sliced so that each replica keeps at least the share of
        # a GPU the entry gives on a whole one (replicas 4 → a quarter of a GPU each): 1/8 L4 stays one replica,
        # a half L4 (g6f.4xlarge) becomes two, never 1/32 of a GPU per pod.
        replicas = max(1, entry.replicas * acc.share_milli // 1000) if entry else 1
        return (GpuMode.time_sliced(acc.count, replicas, renamed=True),)
    whole = GpuMode.whole(NVIDIA_GPU, acc.count)
    sliced = () if entry is None else (GpuMode.time_sliced(acc.count, entry.replicas, renamed=entry.rename_by_default),)
    return (whole, *sliced, *mig_modes(it, config))


def mig_modes(it: InstanceType, config: Config) -> tuple[GpuMode, ...]:
    """The MIG layouts a node of this type may be bought in: every layout of its GPU model when `migPartitioning`
    names its SKU (default layouts first, so an equally cheap plan uses a name the MIG manager already knows)."""
    partitioning, acc = config.mig_partitioning, it.accelerator
    if partitioning is None or acc is None or acc.resource_name != NVIDIA_GPU or acc.fractional:
        return ()
    if not any(acc.sku in requested_skus(s) for s in partitioning.gpu_skus):
        return ()
    model = mig_model(acc.sku, acc.memory_mib_per_device)
    if model is None:
        return ()
    single = partitioning.strategy == "single"
    return tuple(GpuMode.partitioned(layout, acc.count, single=single) for layout in layouts(model))


def base_allocatable(it: InstanceType, observed: Mapping[str, NodeResources] | None = None) -> Resources:
    """What a node of `it` offers pods before DaemonSets, without accelerators: what its registered nodes report if
    the cluster has some, else what the catalog says (`InstanceType.node`), else its bare size."""
    seen = observed.get(it.name) if observed else None
    node = seen or it.node
    if node is not None:
        return node.allocatable
    return Resources.of(
        cpu_millis=it.vcpus * 1000,
        memory_bytes=it.memory_mib * 2**20,
        pods=it.max_pods,
        ephemeral_storage_bytes=it.ephemeral_storage_gib * 2**30,
    )


def node_kinds(
    types: Iterable[InstanceType], config: Config, observed: Mapping[str, NodeResources] | None = None
) -> tuple[NodeKind, ...]:
    """Every (instance type, GPU mode) with allocatable, taints and labels, in a deterministic order."""
    node_taints = tuple(parse_taint(t) for t in config.node_taints)
    gpu_taint = parse_taint(config.gpu_taint) if config.gpu_taint else None
    kinds: list[NodeKind] = []
    for it in sorted(types, key=lambda t: t.name):
        base = base_allocatable(it, observed)
        for mode in gpu_modes(it, config):
            taints = node_taints
            if gpu_taint is not None and it.accelerator is not None:
                # Every accelerator node is tainted, so pods that need no accelerator never take (and pay for) one:
                # an inf2.48xlarge at a spot discount is no CPU node. With the default key the taint is keyed by the
                # resource the node exposes (nvidia.com/gpu.shared, aws.amazon.com/neuron, amd.com/gpu...), which is
                # exactly the toleration the ExtendedResourceToleration admission plugin gives the pods requesting it.
                key = mode.taint_key if gpu_taint.key == NVIDIA_GPU and mode.taint_key else gpu_taint.key
                taints = (*taints, replace(gpu_taint, key=key))
                if mode.mig_single:  # slices look like whole GPUs: only pods that asked for MIG may land there
                    taints = (*taints, MIG_SINGLE_TAINT)
            extended = dict(mode.extended())
            allocatable = base + Resources.of(extended=extended or None)
            kinds.append(NodeKind(len(kinds), it, mode, allocatable, taints, mode.node_labels()))
    return tuple(kinds)


@dataclass(frozen=True, slots=True)
class Purchasable:
    """An offering with the reason it may not be bought (None: it may be)."""

    offering: Offering
    excluded: str | None = None


def purchasable_offerings(catalog: Catalog, config: Config) -> tuple[Purchasable, ...]:
    """The catalog with estimated spot offerings added and exclusions attached, sorted deterministically."""
    on_demand: dict[tuple[str, str], Offering] = {}
    spot: dict[tuple[str, str], Offering] = {}
    for o in catalog.offerings:
        bucket = spot if o.capacity_type is CapacityType.SPOT else on_demand
        key = (o.instance_type.name, o.zone)
        if key not in bucket or o.price_usd_per_hour < bucket[key].price_usd_per_hour:
            bucket[key] = o
    ratio = config.spot_price_ratio_estimate
    for key, od in on_demand.items():
        if key not in spot:
            spot[key] = od.spot_estimate(ratio)
    out = []
    for o in (*on_demand.values(), *spot.values()):
        excluded = o.exclusion
        if o.price_usd_per_hour <= 0:  # a catalog fault (GCP lists a4-highgpu-8g at $0): never "free", never chosen
            excluded = excluded or "no price in the catalog"
        out.append(Purchasable(o, excluded))
    out.sort(key=lambda p: (p.offering.instance_type.name, p.offering.capacity_type.value, p.offering.zone))
    return tuple(out)


BASE_RESOURCES = (CPU, MEMORY, PODS, EPHEMERAL_STORAGE)


def observed_node_resources(nodes: Iterable[Node], catalog: Catalog | None = None) -> Mapping[str, NodeResources]:
    """What registered nodes we launched report, per instance type: the smallest capacity and allocatable of
    each resource among them (nodes of one type differ by a few MiB), accelerators left out (the GPU mode adds
    them). Reality beats any formula: a type seen in the cluster is planned with what its nodes really offer.
    A node's type is the catalog's name for it (`Catalog.type_of`: a node labelled by its machine type alone is
    the catalog's GPU variant it carries the labels of, not the CPU type), else its instance-type label."""
    seen: dict[str, list[Node]] = {}
    for node in nodes:
        type_name = catalog.type_of(node.labels) if catalog is not None else node.instance_type
        if node.labels.get(lbl.MANAGED_BY) == lbl.MANAGED_BY_VALUE and type_name and node.allocatable.pods:
            seen.setdefault(type_name, []).append(node)
    out: dict[str, NodeResources] = {}
    for type_name, group in sorted(seen.items()):
        names = sorted(n.name for n in group)
        out[type_name] = NodeResources(
            capacity=_smallest(n.capacity for n in group),
            allocatable=_smallest(n.allocatable for n in group),
            source=f"observed on {len(names)} node(s): {', '.join(names[:3])}",
        )
    return MappingProxyType(out)


def _smallest(vectors: Iterable[Resources]) -> Resources:
    listed = list(vectors)
    cpu, memory, pods, storage = (min(v.get(name) for v in listed) for name in BASE_RESOURCES)
    return Resources.of(cpu_millis=cpu, memory_bytes=memory, pods=pods, ephemeral_storage_bytes=storage)


@dataclass(frozen=True, eq=False)
class PreparedOfferings:
    """What the planner buys from, for one catalog, configuration and set of observed node types: offerings with
    estimated spot prices and exclusions, and every (instance type, GPU mode) with its allocatable.

    Building it over ~13,000 offerings costs more than a small plan, so the caller that plans again and again
    (the reconcile loop, and through it the simulation) builds it when the catalog, the configuration or the
    observed nodes change and passes it in every `PlanRequest`; a plan given none (or one built for another
    catalog or configuration) builds its own. An explicit value, never a hidden cache.
    """

    catalog: Catalog
    config: Config
    offerings: tuple[Purchasable, ...]
    kinds: tuple[NodeKind, ...]
    observed: Mapping[str, NodeResources]

    @staticmethod
    def build(
        catalog: Catalog, config: Config, observed: Mapping[str, NodeResources] | None = None
    ) -> PreparedOfferings:
        offerings = purchasable_offerings(catalog, config)
        types = {p.offering.instance_type.name: p.offering.instance_type for p in offerings}
        seen = observed or MappingProxyType({})
        return PreparedOfferings(catalog, config, offerings, node_kinds(types.values(), config, seen), seen)

    def serves(self, catalog: Catalog, config: Config) -> bool:
        """Built for exactly this catalog and configuration (the objects, as the caller keeps them)."""
        return self.catalog is catalog and self.config is config

    def current(
        self, catalog: Catalog, config: Config, observed: Mapping[str, NodeResources] | None = None
    ) -> PreparedOfferings:
        """This value if it still serves `catalog`, `config` and `observed`, else a new one for them."""
        if self.serves(catalog, config) and dict(self.observed) == dict(observed or {}):
            return self
        return PreparedOfferings.build(catalog, config, dict(observed or {}))
