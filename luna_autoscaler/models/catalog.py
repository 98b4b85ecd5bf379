"""What can be bought: instance types, their accelerators, and priced offerings (type × zone × capacity type).

An `Offering` is the unit the planner chooses and that capacity errors make unavailable. Every offering knows
where its price came from and how old it is, so a plan can say what it rests on. GPU models carry one SKU
vocabulary across clouds (`A10G`, `A10`, `A100-40GB`, `A100-80GB`, `H100`, `L4`, `T4`, ...); see
`luna_autoscaler.models.gpu_sku` for the normalisation and docs/annotations.md for the list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from luna_autoscaler.errors import OfferingRef
from luna_autoscaler.models import scheduling as lbl
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
class InstanceType:
    """A machine shape of one cloud. `family` is the cloud's own family name (docs/annotations.md)."""

    cloud: str
    name: str
    family: str
    vcpus: int
    memory_mib: int
    arch: Arch = Arch.AMD64
    accelerator: Accelerator | None = None
    max_pods: int = 110  # EKS: from ENIs (pricing.aws); GKE 110, AKS 250 (Azure CNI overlay default), OKE 110
    ephemeral_storage_gib: int = 0  # 0: unknown, taken from the node configuration's boot volume

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
    # What the cloud itself puts on a node of this offering, beyond the well-known labels (cloud policy as data,
    # set by pricing/<cloud> or the provider): AKS taints spot nodes `kubernetes.azure.com/scalesetpriority=spot:
    # NoSchedule`, GKE labels them `cloud.google.com/gke-spot=true`, OKE taints preemptible ones. The planner counts
    # them when it checks a pod's tolerations and selectors.
    # Pairs, not a mapping: offerings are hashed and pickled (the simulation's baseline runs in another process).
    node_labels: tuple[tuple[str, str], ...] = ()
    node_taints: tuple[lbl.Taint, ...] = ()

    @property
    def ref(self) -> OfferingRef:
        return OfferingRef(self.instance_type.name, self.zone, self.capacity_type.value)

    @property
    def name(self) -> str:
        return self.instance_type.name

    def labels(self) -> dict[str, str]:
        """The well-known labels a node of this offering will carry (before configured extra labels)."""
        it = self.instance_type
        labels = {
            lbl.INSTANCE_TYPE: it.name,
            lbl.INSTANCE_TYPE_BETA: it.name,
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
        return labels


@dataclass(frozen=True)
class Catalog:
    """Offerings of one cloud and region, with provenance. Immutable: a price refresh builds a new one."""

    cloud: str
    region: str
    offerings: tuple[Offering, ...]
    provenance: PriceProvenance
    instance_types: Mapping[str, InstanceType] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not self.instance_types:
            types = {o.instance_type.name: o.instance_type for o in self.offerings}
            object.__setattr__(self, "instance_types", MappingProxyType(types))

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
