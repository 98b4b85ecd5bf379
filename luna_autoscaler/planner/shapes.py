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

Offerings get two corrections here, so that every planning decision sees the same prices: an on-demand offering
without a spot sibling gets an estimated spot offering at `spotPriceRatioEstimate` x its price (marked
`price_estimated`; estimated ones already in the catalog are re-priced, so the knob applies live), and offerings
that policy excludes (capacity errors, `aws.maxSpotInterruptBucket`, `aws.maxSpotPriceRatio`, a price of $0 that
can only be a catalog fault) are kept with the reason, because the reasons given for unplaced pods count them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from luna_autoscaler.config import Config, TimeSlicing
from luna_autoscaler.errors import OfferingRef
from luna_autoscaler.models.catalog import CapacityType, Catalog, InstanceType, Offering
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.gpu_sku import requested_skus
from luna_autoscaler.models.mig import layouts, mig_model
from luna_autoscaler.models.resources import NVIDIA_GPU, Resources
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.models.type_pattern import type_pattern
from luna_autoscaler.planner.overhead import node_allocatable

# AWS spot advisor interruption bands → aws.maxSpotInterruptBucket values.
MIG_SINGLE_TAINT = Taint("nvidia.com/mig", "single", "NoSchedule")
"""Nodes partitioned under the single MIG strategy expose slices as `nvidia.com/gpu`; pods that tolerate this
taint ask for a slice, the others (whole-GPU pods) never get one."""

INTERRUPT_BUCKETS: Mapping[str, int] = MappingProxyType({"<5%": 0, "5-10%": 1, "10-15%": 2, "15-20%": 3, ">20%": 4})


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


def node_kinds(types: Iterable[InstanceType], config: Config) -> tuple[NodeKind, ...]:
    """Every (instance type, GPU mode) with allocatable, taints and labels, in a deterministic order."""
    node_taints = tuple(parse_taint(t) for t in config.node_taints)
    gpu_taint = parse_taint(config.gpu_taint) if config.gpu_taint else None
    kinds: list[NodeKind] = []
    for it in sorted(types, key=lambda t: t.name):
        base = node_allocatable(it, config)
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
    """An offering with the reason policy excludes it (None: it may be bought)."""

    offering: Offering
    excluded: str | None = None


def _spot_policy(offering: Offering, on_demand_price: float | None, config: Config) -> str | None:
    if offering.capacity_type is not CapacityType.SPOT:
        return None
    policy = config.sections.get(offering.instance_type.cloud)
    max_bucket = getattr(policy, "max_spot_interrupt_bucket", None)
    band = offering.interruption_band
    if max_bucket is not None and band is not None and INTERRUPT_BUCKETS.get(band, 0) > max_bucket:
        return f"spot interruption {band} above aws.maxSpotInterruptBucket {max_bucket}"
    max_ratio = getattr(policy, "max_spot_price_ratio", None)
    if max_ratio is not None and on_demand_price:
        ratio = offering.price_usd_per_hour / on_demand_price
        if ratio > max_ratio:
            return f"spot/on-demand price ratio above aws.maxSpotPriceRatio {max_ratio:g}"
    return None


def purchasable_offerings(
    catalog: Catalog, config: Config, unavailable: frozenset[OfferingRef]
) -> tuple[Purchasable, ...]:
    """The catalog with estimated spot offerings added and policy exclusions attached, sorted deterministically."""
    on_demand: dict[tuple[str, str], Offering] = {}
    spot: dict[tuple[str, str], Offering] = {}
    for o in catalog.offerings:
        bucket = spot if o.capacity_type is CapacityType.SPOT else on_demand
        key = (o.instance_type.name, o.zone)
        if key not in bucket or o.price_usd_per_hour < bucket[key].price_usd_per_hour:
            bucket[key] = o
    ratio = config.spot_price_ratio_estimate
    for key, od in on_demand.items():
        existing = spot.get(key)
        if existing is None or existing.price_estimated:
            spot[key] = replace(
                od,
                capacity_type=CapacityType.SPOT,
                price_usd_per_hour=round(od.price_usd_per_hour * ratio, 6),
                price_estimated=True,
                interruption_band=existing.interruption_band if existing else None,
            )
    out = []
    for key, o in (*on_demand.items(), *spot.items()):
        sibling = on_demand.get(key)
        excluded = "unavailable (insufficient capacity)" if o.ref in unavailable else None
        if o.price_usd_per_hour <= 0:  # a catalog fault (GCP lists a4-highgpu-8g at $0): never "free", never chosen
            excluded = excluded or "no price in the catalog"
        excluded = excluded or _spot_policy(o, sibling.price_usd_per_hour if sibling else None, config)
        out.append(Purchasable(o, excluded))
    out.sort(key=lambda p: (p.offering.instance_type.name, p.offering.capacity_type.value, p.offering.zone))
    return tuple(out)


_PREPARED_MAX = 8
_prepared: dict[
    tuple[int, int, frozenset[OfferingRef]], tuple[Catalog, Config, tuple[Purchasable, ...], tuple[NodeKind, ...]]
] = {}


def prepared_offerings(
    catalog: Catalog, config: Config, unavailable: frozenset[OfferingRef]
) -> tuple[tuple[Purchasable, ...], tuple[NodeKind, ...]]:
    """`purchasable_offerings` and their `node_kinds`, remembered for the last few (catalog, config, unavailable).

    The daemon and the simulation plan many times a minute against the same catalog and config objects; building
    these over ~13,000 offerings was half the time of a simulated hour. Keyed by identity (the entry holds the
    objects, so their ids cannot be reused while it lives): a new catalog or config object is simply a miss, and
    the result is the same as computing it afresh.
    """
    key = (id(catalog), id(config), unavailable)
    hit = _prepared.get(key)
    if hit is not None and hit[0] is catalog and hit[1] is config:
        return hit[2], hit[3]
    offerings = purchasable_offerings(catalog, config, unavailable)
    types = {p.offering.instance_type.name: p.offering.instance_type for p in offerings}
    kinds = node_kinds(types.values(), config)
    if len(_prepared) >= _PREPARED_MAX:
        _prepared.pop(next(iter(_prepared)))
    _prepared[key] = (catalog, config, offerings, kinds)
    return offerings, kinds
