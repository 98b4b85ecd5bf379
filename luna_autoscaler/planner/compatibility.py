"""Whether a pod class may run on a node kind bought as a given offering, and if not, why, in words people use.

Each check has a stage, in the order kube-scheduler users expect to read them: the resource is missing
altogether (`no nvidia.com/gpu`), the type is wrong (arch, regexp, family, GPU SKU, max GPUs, bin-packing
bounds), a taint is not tolerated (the node kind's, or one the cloud puts on the offering's nodes:
`Offering.node_taints`), the pod does not fit after overhead and DaemonSets, and last what is specific to one
offering (node selector/affinity, including the labels the cloud adds, max cost, capacity type, availability).
When a pod fits nowhere, every offering is counted once under the reason of its furthest-reaching GPU mode, which
gives
`0/812 offerings: 640 no nvidia.com/gpu, 120 gpu-sku not in [T4], 52 over max cost 1.00`.

The same functions answer the fast path (is it compatible?) and the explanation (why not?), so the two can
never disagree. Results that do not depend on requests are cached per signature.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from luna_autoscaler.config import Config
from luna_autoscaler.errors import OfferingRef
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.models.mig import all_profile_names
from luna_autoscaler.models.pod import DaemonSet
from luna_autoscaler.models.resources import NVIDIA_GPU, NVIDIA_GPU_SHARED, NVIDIA_MIG_PREFIX, ZERO, Resources
from luna_autoscaler.models.scheduling import Toleration, tolerates_all
from luna_autoscaler.models.type_pattern import type_pattern
from luna_autoscaler.planner.classes import PodClass, Signature
from luna_autoscaler.planner.shapes import NodeKind, Purchasable
from luna_autoscaler.planner.types import BinKind

# The DaemonSet controller adds these tolerations to every DaemonSet pod (pkg/controller/daemon/util).
_DAEMONSET_TOLERATIONS = tuple(
    Toleration(key=f"node.kubernetes.io/{key}", operator="Exists", effect=effect)
    for key, effect in (
        ("not-ready", "NoExecute"),
        ("unreachable", "NoExecute"),
        ("disk-pressure", "NoSchedule"),
        ("memory-pressure", "NoSchedule"),
        ("pid-pressure", "NoSchedule"),
        ("unschedulable", "NoSchedule"),
    )
)


class Stage(IntEnum):
    RESOURCE = 0
    TYPE = 1
    TAINT = 2
    FIT = 3
    OFFERING = 4


@dataclass(frozen=True, slots=True)
class Rejection:
    stage: Stage
    reason: str


def _names(values: Iterable[str]) -> str:
    return "[" + ",".join(sorted(values)) + "]"


def capacity_type_rejection(offered: CapacityType, allowed: Iterable[CapacityType]) -> str:
    """Why an offering of `offered` capacity is refused to a pod allowing only `allowed`. Checked last, so an
    offering refused for this reason satisfies everything else: `plan` counts the pods spot alone would place."""
    return f"capacity type {offered.value} not in {_names(allowed)}"


class Compatibility:
    """Checks of pod classes against node kinds and offerings, with the caches that make them cheap."""

    def __init__(
        self,
        config: Config,
        offerings: Sequence[Purchasable],
        kinds: Sequence[NodeKind],
        daemonsets: Sequence[DaemonSet],
        unavailable: frozenset[OfferingRef] = frozenset(),
    ) -> None:
        self.config = config
        self.offerings = offerings
        self.unavailable = unavailable
        self.daemonsets = tuple(sorted(daemonsets, key=lambda d: (d.namespace, d.name)))
        self.architectures = config.architectures()
        self.pack_type_regexp = (
            type_pattern(config.bin_packing_node_type_regexp) if config.bin_packing_node_type_regexp else None
        )
        self.kinds_of_type: dict[str, list[NodeKind]] = {}
        for kind in kinds:
            self.kinds_of_type.setdefault(kind.instance_type.name, []).append(kind)
        self.offerings_of_type: dict[str, list[int]] = {}
        for i, p in enumerate(offerings):
            self.offerings_of_type.setdefault(p.offering.instance_type.name, []).append(i)
        for indexes in self.offerings_of_type.values():
            indexes.sort(key=lambda i: (offerings[i].offering.price_usd_per_hour, offerings[i].offering.zone))
        self._base_labels: dict[int, dict[str, str]] = {}
        self._labels: dict[tuple[int, str | None, BinKind], Mapping[str, str]] = {}
        self._kind_rejections: dict[tuple[int, int], Rejection | None] = {}
        self._offering_rejections: dict[tuple[int, int, str | None], Rejection | None] = {}
        self._daemonset_requests: dict[tuple[int, int, BinKind], Resources] = {}

    # Labels and DaemonSets of a node that would be launched.

    def labels(self, offering_index: int, kind: NodeKind, bin_kind: BinKind) -> Mapping[str, str]:
        """Every label the node will carry: the offering's, configured nodeLabels, the planner's own, and what
        the cloud adds for the kind's GPU mode (`Offering.mode_labels`: a cloud's own time-sharing labels)."""
        config_name = kind.mode.key
        key = (offering_index, config_name, bin_kind)
        labels = self._labels.get(key)
        if labels is None:
            offering = self.offerings[offering_index].offering
            base = self._base_labels.get(offering_index)
            if base is None:
                base = self._base_labels[offering_index] = {**offering.labels(), **self.config.node_labels}
            mode_labels = offering.mode_labels(kind.mode)
            labels = self._labels[key] = {**base, **kind.labels, **mode_labels, lbl.BIN_KIND: bin_kind.value}
        return labels

    def daemonset_requests(self, kind: NodeKind, offering_index: int, bin_kind: BinKind) -> Resources:
        """Requests of the DaemonSets whose selector and tolerations admit this node."""
        if not self.daemonsets:
            return ZERO
        key = (kind.index, offering_index, bin_kind)
        total = self._daemonset_requests.get(key)
        if total is None:
            labels = self.labels(offering_index, kind, bin_kind)
            taints = (*kind.taints, *self.offerings[offering_index].offering.node_taints)
            total = ZERO  # stays the ZERO object when no DaemonSet runs there (see `allocatable`)
            for ds in self.daemonsets:
                if (
                    ds.node_selector.matches(labels)
                    and tolerates_all((*ds.tolerations, *_DAEMONSET_TOLERATIONS), taints) is None
                ):
                    total = total + (ds.requests if ds.requests.pods else ds.requests + Resources.of(pods=1))
            self._daemonset_requests[key] = total
        return total

    def allocatable(self, kind: NodeKind, offering_index: int, bin_kind: BinKind) -> Resources:
        """What pods may request on this node once its DaemonSets run (the kind's own object when none do)."""
        daemonsets = self.daemonset_requests(kind, offering_index, bin_kind)
        return kind.allocatable if daemonsets is ZERO else kind.allocatable - daemonsets

    # The checks, by stage.

    def kind_rejection(self, sig: Signature, kind: NodeKind) -> Rejection | None:
        key = (sig.index, kind.index)
        if key not in self._kind_rejections:
            self._kind_rejections[key] = self._kind_rejection(sig, kind)
        return self._kind_rejections[key]

    def _kind_rejection(self, sig: Signature, kind: NodeKind) -> Rejection | None:
        it, mode, c = kind.instance_type, kind.mode, sig.constraints
        acc = it.accelerator
        for name in sig.extended_names:
            if name == mode.resource or kind.allocatable.get(name) > 0:
                continue
            if name == NVIDIA_GPU and acc is not None and acc.fractional:
                return Rejection(Stage.RESOURCE, "fractional GPU, only for nvidia.com/gpu.shared")
            if name.startswith(NVIDIA_MIG_PREFIX):
                return self._mig_rejection(name)
            if name == NVIDIA_GPU_SHARED and acc is not None and acc.resource_name == NVIDIA_GPU:
                return Rejection(
                    Stage.RESOURCE, "no nvidia.com/gpu.shared (no gpuTimeSlicing entry with renameByDefault)"
                )
            return Rejection(Stage.RESOURCE, f"no {name}")
        if it.arch.value not in self.architectures:
            return Rejection(Stage.TYPE, f"arch not in nodeArchitecture {self.config.node_architecture}")
        if c.instance_type_regexp is not None and not c.instance_type_regexp.search(it.name):
            return Rejection(Stage.TYPE, f"instance type not matching {c.instance_type_regexp.pattern}")
        family = it.family.lower()
        if c.family_inclusions is not None and family not in c.family_inclusions:
            return Rejection(Stage.TYPE, f"family not in {_names(c.family_inclusions)}")
        if family in c.family_exclusions:
            return Rejection(Stage.TYPE, f"family in exclusions {_names(c.family_exclusions)}")
        if c.gpu_skus is not None and (acc is None or acc.sku not in c.gpu_skus):
            return Rejection(Stage.TYPE, f"gpu-sku not in {_names(c.gpu_skus)}")
        if c.max_gpus is not None and it.gpus > c.max_gpus:
            return Rejection(Stage.TYPE, f"over max gpus {c.max_gpus}")
        if sig.bin is BinKind.PACK:
            rejection = self._pack_bounds(kind)
            if rejection is not None:
                return rejection
        taint = tolerates_all(sig.tolerations, kind.taints)
        if taint is not None:
            return Rejection(Stage.TAINT, f"taint {taint} not tolerated")
        return None

    def _mig_rejection(self, name: str) -> Rejection:
        profile = name.removeprefix(NVIDIA_MIG_PREFIX)
        if profile not in all_profile_names():
            return Rejection(Stage.RESOURCE, f"{name} is no MIG profile of any GPU")
        if self.config.mig_partitioning is None:
            return Rejection(Stage.RESOURCE, f"no {name} (migPartitioning is not set)")
        return Rejection(Stage.RESOURCE, f"no {name}")

    def _pack_bounds(self, kind: NodeKind) -> Rejection | None:
        it, config = kind.instance_type, self.config
        if config.bin_packing_node_cpu_millis is not None and it.vcpus * 1000 < config.bin_packing_node_cpu_millis:
            return Rejection(Stage.TYPE, "fewer CPUs than binPackingNodeCpu")
        if (
            config.bin_packing_node_memory_bytes is not None
            and it.memory_mib * 2**20 < config.bin_packing_node_memory_bytes
        ):
            return Rejection(Stage.TYPE, "less memory than binPackingNodeMemory")
        if self.pack_type_regexp is not None and not self.pack_type_regexp.search(it.name):
            return Rejection(Stage.TYPE, "instance type not matching binPackingNodeTypeRegexp")
        if it.max_pods < config.bin_packing_node_min_pod_count:
            return Rejection(Stage.TYPE, "max pods below binPackingNodeMinPodCount")
        return None

    @staticmethod
    def fit_rejection(requests: Resources, kind: NodeKind, allocatable: Resources) -> Rejection | None:
        if kind.mode.sliced and kind.mode.resource == NVIDIA_GPU and requests.get(NVIDIA_GPU) > 1:
            return Rejection(Stage.FIT, "time-sliced GPU, not for pods requesting several GPUs")
        if requests.fits_in(allocatable):
            return None
        short = requests.shortfall(allocatable)
        if short == ("pods",):
            return Rejection(Stage.FIT, "too many pods")
        return Rejection(Stage.FIT, "insufficient " + ", ".join(short))

    def offering_rejection(self, sig: Signature, offering_index: int, kind: NodeKind) -> Rejection | None:
        key = (sig.index, offering_index, kind.mode.key)
        if key not in self._offering_rejections:
            self._offering_rejections[key] = self._offering_rejection(sig, offering_index, kind)
        return self._offering_rejections[key]

    def _offering_rejection(self, sig: Signature, offering_index: int, kind: NodeKind) -> Rejection | None:
        purchasable = self.offerings[offering_index]
        offering = purchasable.offering
        if offering.node_taints:  # the cloud's own (AKS spot nodes...): rare, so checked per offering, then cached
            taint = tolerates_all(sig.tolerations, offering.node_taints)
            if taint is not None:
                return Rejection(Stage.TAINT, f"taint {taint} not tolerated")
        if sig.selector.selector or sig.selector.terms:
            labels = self.labels(offering_index, kind, sig.bin)
            for requirement in sig.selector.selector:
                if not requirement.matches(labels):
                    return Rejection(Stage.OFFERING, f"node selector {requirement}")
            if sig.selector.terms and not any(t.matches(labels) for t in sig.selector.terms):
                terms = " OR ".join("(" + ", ".join(str(r) for r in t.requirements) + ")" for t in sig.selector.terms)
                return Rejection(Stage.OFFERING, f"node affinity {terms}")
        max_cost = sig.constraints.max_cost_usd_per_hour
        if max_cost is not None and offering.price_usd_per_hour > max_cost:
            return Rejection(Stage.OFFERING, f"over max cost {max_cost:.2f}")
        if offering.capacity_type not in sig.capacity_types:
            return Rejection(Stage.OFFERING, capacity_type_rejection(offering.capacity_type, sig.capacity_types))
        if self.unavailable and offering.ref in self.unavailable:
            return Rejection(Stage.OFFERING, "unavailable (insufficient capacity)")
        if purchasable.excluded is not None:
            return Rejection(Stage.OFFERING, purchasable.excluded)
        return None

    def rejection_counts(self, cls: PodClass) -> Counter[str]:
        """For every offering, the first reason in stage order why `cls` cannot run there, taking the GPU mode that
        gets furthest (kube-scheduler style counts)."""
        sig = cls.signature
        fits: dict[tuple[int, Resources], Rejection | None] = {}  # per kind and DaemonSet load: zones share them

        def rejection(kind: NodeKind, i: int) -> Rejection | None:
            if (r := self.kind_rejection(sig, kind)) is not None:
                return r
            key = (kind.index, self.daemonset_requests(kind, i, sig.bin))
            if key not in fits:
                fits[key] = self.fit_rejection(cls.requests, kind, self.allocatable(kind, i, sig.bin))
            return fits[key] or self.offering_rejection(sig, i, kind)

        counts: Counter[str] = Counter()
        for type_name, indexes in self.offerings_of_type.items():
            kinds = self.kinds_of_type[type_name]
            for i in indexes:
                worst: Rejection | None = None
                for kind in kinds:
                    r = rejection(kind, i)
                    if r is None:
                        worst = None
                        break
                    if worst is None or r.stage > worst.stage:
                        worst = r
                if worst is not None:
                    counts[worst.reason] += 1
        return counts
