"""What can be bought: instance types, their accelerators, and priced offerings (type × zone × capacity type).

An `Offering` is the unit the planner chooses and that capacity errors make unavailable. Every offering knows
where its price came from and how old it is, so a plan can say what it rests on. GPU models carry one SKU
vocabulary across clouds (`A10G`, `A10`, `A100-40GB`, `A100-80GB`, `H100`, `L4`, `T4`, ...); see
`luna_autoscaler.models.gpu_sku` for the normalisation and docs/annotations.md for the list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from luna_autoscaler.errors import OfferingRef
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.gpu_mode import CloudTimeSharing, GpuMode
from luna_autoscaler.models.resources import NVIDIA_GPU, Resources


class CapacityType(StrEnum):
    SPOT = "spot"
    ON_DEMAND = "on-demand"


class Arch(StrEnum):
    AMD64 = "amd64"
    ARM64 = "arm64"


@dataclass(frozen=True, slots=True)
class Accelerator:
    """The accelerator devices of an instance type, as the device plugin will expose them.

    `count` is the number of devices Kubernetes will see (`nvidia.com/gpu: count`). `share_milli` is how much of
    one physical device each of them is: 1000 for a whole GPU, 125 for an AWS g6f.large (1/8 of an L4), 167 for
    Azure Standard_NV6ads_A10_v5 (1/6 of an A10). A fractional device is still one schedulable device, so a pod
    asking for `nvidia.com/gpu: 1` fits there; the planner only chooses it for pods that accept a partial GPU.
    """

    sku: str
    count: int
    resource_name: str = NVIDIA_GPU
    kind: str = "gpu"  # gpu | neuron | inference | fpga ...
    share_milli: int = 1000
    memory_mib_per_device: int = 0
    manufacturer: str = "NVIDIA"

    @property
    def fractional(self) -> bool:
        return self.share_milli < 1000


@dataclass(frozen=True, slots=True)
class NodeResources:
    """`status.capacity` and `status.allocatable` of a fresh node of an instance type, without accelerators and
    before DaemonSets: what the node keeps for itself (memory the kernel takes, kube-reserved, eviction
    thresholds), as its cloud configures the kubelet. Cloud policy as data: set by `pricing.overhead` when a
    catalog is built, or observed on a registered node of the type. `source` says where the figures come from."""

    capacity: Resources
    allocatable: Resources
    source: str


@dataclass(frozen=True, slots=True)
class InstanceType:
    """A machine shape of one cloud. `family` is the cloud's own family name (docs/annotations.md).

    `node` is what a node of it will offer pods (None: unknown, and the planner assumes the bare capacity).
    `registered_as` is how a node of it is told apart by its labels when its cloud does not label it by this
    name (cloud policy as data, set by pricing/<cloud>): a GKE node of `n1-standard-4_t4x1` registers as
    `node.kubernetes.io/instance-type=n1-standard-4` with `cloud.google.com/gke-accelerator=nvidia-tesla-t4`
    (and, launched by us, `node.elotl.co/gpu-count=1`). Empty: the node is labelled by the name.
    """

    cloud: str
    name: str
    family: str
    vcpus: int
    memory_mib: int
    arch: Arch = Arch.AMD64
    accelerator: Accelerator | None = None
    max_pods: int = 110  # EKS: from ENIs (pricing.aws); GKE 110, AKS 250 (Azure CNI overlay default), OKE 110
    ephemeral_storage_gib: int = 0  # 0: unknown, taken from the node configuration's boot volume
    node: NodeResources | None = None
    registered_as: tuple[tuple[str, str], ...] = ()

    @property
    def gpus(self) -> int:
        return self.accelerator.count if self.accelerator else 0

    @property
    def gpu_sku(self) -> str | None:
        return self.accelerator.sku if self.accelerator else None

    def capacity(self) -> Resources:
        """Node capacity before any overhead (`status.capacity` as the kubelet will report it)."""
        extended = {self.accelerator.resource_name: self.accelerator.count} if self.accelerator else None
        return Resources.of(
            cpu_millis=self.vcpus * 1000,
            memory_bytes=self.memory_mib * 2**20,
            pods=self.max_pods,
            ephemeral_storage_bytes=self.ephemeral_storage_gib * 2**30,
            extended=extended,
        )


@dataclass(frozen=True, slots=True)
class PriceProvenance:
    """Where a price came from: a bundled snapshot (with its date) or a live fetch (with its time)."""

    source: str
    as_of: date

    def __str__(self) -> str:
        return f"{self.source} ({self.as_of.isoformat()})"


@dataclass(frozen=True, slots=True)
class Offering:
    """One purchasable option. `interruption_band` is AWS's spot advisor band (e.g. `<5%`, `15-20%`)."""

    instance_type: InstanceType
    region: str
    zone: str
    capacity_type: CapacityType
    price_usd_per_hour: float
    provenance: PriceProvenance
    interruption_band: str | None = None
    price_estimated: bool = False  # spot price derived from spotPriceRatioEstimate, not observed
    # Why the cloud's policy forbids buying it (`aws.maxSpotInterruptBucket`...; None: it may be bought), set where
    # the catalog is made (pricing/<cloud>, the provider); kept, not dropped, so unplaced pods can count it.
    exclusion: str | None = None
    # What the cloud itself puts on a node of this offering, beyond the well-known labels (cloud policy as data,
    # set by pricing/<cloud> or the provider): AKS taints spot nodes `kubernetes.azure.com/scalesetpriority=spot:
    # NoSchedule`, GKE labels them `cloud.google.com/gke-spot=true`, OKE taints preemptible ones. The planner counts
    # them when it checks a pod's tolerations and selectors.
    # Pairs, not a mapping: offerings are hashed and pickled (the simulation's baseline runs in another process).
    node_labels: tuple[tuple[str, str], ...] = ()
    node_taints: tuple[lbl.Taint, ...] = ()
    # What the cloud puts on a *spot* node of this type, on an on-demand offering: what `spot_estimate` gives the
    # spot offering it makes (AKS's spot taint, GKE's spot label), so an estimated spot node is planned as it will run.
    spot_node_labels: tuple[tuple[str, str], ...] = ()
    spot_node_taints: tuple[lbl.Taint, ...] = ()
    # How the cloud labels a node of this offering whose GPUs it time-shares (GKE's time-sharing labels), set by
    # pricing/<cloud>: the labels depend on the GPU mode the node is launched in (`mode_labels`).
    time_sharing: CloudTimeSharing | None = None

    @property
    def ref(self) -> OfferingRef:
        return OfferingRef(self.instance_type.name, self.zone, self.capacity_type.value)

    @property
    def name(self) -> str:
        return self.instance_type.name

    def spot_estimate(self, ratio: float) -> Offering:
        """The spot offering of this on-demand one priced at `ratio` x its price, where no spot price was observed
        (`spotPriceRatioEstimate`): marked `price_estimated`, its provenance naming this row's source and the ratio."""
        source = f"{self.provenance.source}, on-demand x spotPriceRatioEstimate {ratio:g}"
        return replace(
            self,
            capacity_type=CapacityType.SPOT,
            price_usd_per_hour=round(self.price_usd_per_hour * ratio, 6),
            provenance=PriceProvenance(source, self.provenance.as_of),
            price_estimated=True,
            interruption_band=None,
            node_labels=self.spot_node_labels or self.node_labels,
            node_taints=self.spot_node_taints or self.node_taints,
            spot_node_labels=(),
            spot_node_taints=(),
        )

    def mode_labels(self, mode: GpuMode) -> dict[str, str]:
        """What the cloud puts on a node of this offering because of the GPU mode it runs in (GKE's time-sharing
        labels on a time-sliced node); the device plugin's own labels are the mode's (`GpuMode.node_labels`)."""
        acc = self.instance_type.accelerator
        if self.time_sharing is None or acc is None:
            return {}
        return self.time_sharing.node_labels(mode, acc.resource_name)

    def labels(self, mode: GpuMode | None = None) -> dict[str, str]:
        """The well-known labels a node of this offering will carry (before configured extra labels), with what
        the cloud adds for `mode` when given."""
        it = self.instance_type
        registered = dict(it.registered_as)
        type_label = registered.get(lbl.INSTANCE_TYPE, it.name)
        labels = {
            lbl.INSTANCE_TYPE: type_label,
            lbl.INSTANCE_TYPE_BETA: type_label,
            lbl.ARCH: it.arch.value,
            lbl.ARCH_BETA: it.arch.value,
            lbl.OS: "linux",
            lbl.ZONE: self.zone,
            lbl.ZONE_BETA: self.zone,
            lbl.REGION: self.region,
            lbl.REGION_BETA: self.region,
            lbl.CAPACITY_TYPE: self.capacity_type.value,
            lbl.NODE_CAPACITY_TYPE: self.capacity_type.value,
            lbl.INSTANCE_FAMILY: it.family,
            lbl.MANAGED_BY: lbl.MANAGED_BY_VALUE,
        }
        labels.update(self.node_labels)
        if it.accelerator is not None:
            labels[lbl.GPU_SKU] = it.accelerator.sku
            labels[lbl.GPU_COUNT] = str(it.accelerator.count)
            if it.accelerator.resource_name == NVIDIA_GPU:
                labels[lbl.GPU_PRESENT] = "true"
        labels.update(registered)
        if mode is not None:
            labels.update(self.mode_labels(mode))
        return labels


@dataclass(frozen=True)
class Catalog:
    """Offerings of one cloud and region, with provenance. Immutable: a price refresh builds a new one."""

    cloud: str
    region: str
    offerings: tuple[Offering, ...]
    provenance: PriceProvenance
    instance_types: Mapping[str, InstanceType] = field(default_factory=lambda: MappingProxyType({}))
    # Instance-type label → the types registered under it (`InstanceType.registered_as`), for `type_of`.
    _registered: Mapping[str, tuple[InstanceType, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not self.instance_types:
            types = {o.instance_type.name: o.instance_type for o in self.offerings}
            object.__setattr__(self, "instance_types", MappingProxyType(types))
        registered: dict[str, list[InstanceType]] = {}
        for it in self.instance_types.values():
            if it.registered_as:
                registered.setdefault(dict(it.registered_as).get(lbl.INSTANCE_TYPE, it.name), []).append(it)
        object.__setattr__(self, "_registered", {k: tuple(v) for k, v in registered.items()})

    def type_of(self, node_labels: Mapping[str, str]) -> str:
        """The catalog's name for the instance type of a node with these labels: the type whose `registered_as`
        labels the node carries (GKE's `n1-standard-4` with a T4 attached is `n1-standard-4_t4x1`), else the
        node's instance-type label as it is."""
        named = node_labels.get(lbl.INSTANCE_TYPE, "")
        candidates = self._registered.get(named, ())
        matching = [it for it in candidates if all(node_labels.get(k) == v for k, v in it.registered_as)]
        return matching[0].name if len(matching) == 1 else named

    def __iter__(self) -> Iterator[Offering]:
        return iter(self.offerings)

    def __len__(self) -> int:
        return len(self.offerings)

    def zones(self) -> tuple[str, ...]:
        return tuple(sorted({o.zone for o in self.offerings}))

    def find(self, ref: OfferingRef) -> Offering | None:
        for o in self.offerings:
            if o.ref == ref:
                return o
        return None
