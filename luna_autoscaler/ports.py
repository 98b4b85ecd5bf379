"""The seams between the core and the outside world (architecture.md, "Ports"; docs/design/providers.md).

`NodeProvider` is what a cloud adapter implements (providers/<cloud>, registered as an entry point in the group
`luna_autoscaler.providers`); `CatalogSource` gives priced offerings; `Cluster` is the Kubernetes adapter as the
reconcile loop sees it. Every method is required; what a provider cannot do is data in `features`, not a
method that raises NotImplementedError.

The provider port fits instance clouds (EC2: one call makes one named machine) and pool clouds alike (GKE node
pools, AKS agent pools, OKE node pools: a resize is a long-running operation, the machine gets a name later, and
labels are shared by the pool), in the spirit of Karpenter's CloudProvider and the Cluster Autoscaler's
NodeGroup:

- A `NodeConfiguration` is everything a node boots with apart from its name: instance type, capacity type, zone,
  labels, taints and GPU mode. Providers key launch templates or pools by `NodeConfiguration.key`.
- `launch` submits and returns without waiting on a long-running operation. The Instance it returns may be
  PENDING with no cloud identity yet (`Instance.identified` False, `instance_id` a provisional handle); a later
  `list_instances()` reports the same launch id with its real id, or FAILED with the classified error.
- Launch identity (which instance belongs to which launch id) is the provider's to record: instance tags on AWS,
  instance names or pool metadata elsewhere. A restart rebuilds in-flight launches from `list_instances()` alone,
  including each instance's `configuration`, so nothing (the GPU mode included) is guessed.
- `terminate` of a pool member also lowers the pool's target size; `terminate` of a provisional handle cancels a
  launch that has no machine yet.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from luna_autoscaler.config import Config
from luna_autoscaler.errors import OfferingRef, ProviderError
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.pod import DaemonSet, DisruptionBudget, Node, Pod
from luna_autoscaler.models.scheduling import Taint

_EMPTY: Mapping[str, str] = MappingProxyType({})

# Tags/labels every instance we launch carries, so that list() finds exactly ours.
TAG_CLUSTER = "luna.elotl.co/cluster"
TAG_OWNER = "luna.elotl.co/owner"
TAG_LAUNCH_ID = "luna.elotl.co/launch-id"
TAG_NODE_POOL = "luna.elotl.co/node-pool"
TAG_GANG = "luna.elotl.co/gang"
"""On each launch of a gang: `<gang id>.<number of launches>`, so a restart can tell a half-launched gang
(reconcile/gang_launches.py). Per launch: a pool cloud, whose tags are the pool's, does not record it."""
OWNER_VALUE = "luna-autoscaler"

PER_LAUNCH_LABELS = frozenset({lbl.LAUNCH_ID})
"""Node labels that differ between two launches of one configuration: an instance cloud puts them on the node at
boot, a pool cloud cannot (its labels are the pool's), and the loop adds them once the Node registers."""


@dataclass(frozen=True, slots=True)
class NodeConfiguration:
    """What a node boots with, apart from its name: the unit providers key launch templates and pools by.

    `labels` and `taints` are registered with the node by its kubelet (never added later, so no pod lands on it
    in between); they hold no per-launch label. `gpu_mode` is how its device plugin exposes the accelerators; its
    labels are among `labels`.
    """

    instance_type: str
    capacity_type: CapacityType
    zone: str
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    taints: tuple[Taint, ...] = ()
    gpu_mode: GpuMode = field(default_factory=GpuMode)

    @property
    def offering(self) -> OfferingRef:
        return OfferingRef(self.instance_type, self.zone, self.capacity_type.value)

    @property
    def key(self) -> str:
        """A short digest of the whole configuration, the same in every process: equal configurations share a
        pool or template, and a changed setting is a new one (never a half-updated pool)."""
        canonical = json.dumps(
            {
                "instance_type": self.instance_type,
                "capacity_type": self.capacity_type.value,
                "zone": self.zone,
                "labels": sorted(self.labels.items()),
                "taints": sorted((t.key, t.value, t.effect) for t in self.taints),
                "gpu_mode": self.gpu_mode.as_record(),
            },
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def record(self, derived_labels: Mapping[str, str]) -> str:
        """A compact text a provider stores with the instance (tags, metadata) to give the configuration back
        after a restart; labels equal to `derived_labels` (what the offering itself implies, which the provider
        can recompute) are left out to stay within clouds' tag sizes."""
        labels = {k: v for k, v in sorted(self.labels.items()) if derived_labels.get(k) != v}
        doc = {"l": labels, "t": [[t.key, t.value, t.effect] for t in self.taints], "g": self.gpu_mode.as_record()}
        return json.dumps(doc, separators=(",", ":"), sort_keys=True)

    @staticmethod
    def recorded(
        text: str, *, instance_type: str, capacity_type: CapacityType, zone: str, derived_labels: Mapping[str, str]
    ) -> NodeConfiguration | None:
        """The configuration `record` wrote; None when the text is not one (an instance tagged by hand)."""
        try:
            doc = json.loads(text)
            labels = {**derived_labels, **{str(k): str(v) for k, v in doc["l"].items()}}
            taints = tuple(Taint(str(k), str(v), str(e)) for k, v, e in doc["t"])
            mode = GpuMode.from_record(doc["g"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return NodeConfiguration(instance_type, capacity_type, zone, MappingProxyType(labels), taints, mode)


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """Launch one node. `offerings` are interchangeable choices in the planner's order of preference (each
    fits the pods); a provider that can pass several to the cloud at once (EC2 Fleet overrides) does, the others
    take the first and report InsufficientCapacity so the loop falls back.

    `launch_id` is the idempotency key: launching twice with the same id yields the same instance.
    """

    launch_id: str
    cluster_name: str
    offerings: tuple[Offering, ...]
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # for offerings[0], with per-launch labels
    taints: tuple[Taint, ...] = ()
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    gpu_mode: GpuMode = field(default_factory=GpuMode)
    placement_group: str = ""
    """A cluster placement group the instance joins (a gang's nodes share one, for EFA or InfiniBand); a
    provider that has none ignores it, since the planner already keeps the gang in one zone."""

    def configuration(self, offering: Offering | None = None) -> NodeConfiguration:
        """The node configuration of this launch on `offering` (default: the first choice): the well-known labels
        follow the offering (an alternative has its own type and zone), per-launch labels are left out."""
        chosen = offering or self.offerings[0]
        first = set(self.offerings[0].labels(self.gpu_mode)) if self.offerings else set()
        labels = {k: v for k, v in self.labels.items() if k not in first and k not in PER_LAUNCH_LABELS}
        return NodeConfiguration(
            instance_type=chosen.name,
            capacity_type=chosen.capacity_type,
            zone=chosen.zone,
            labels=MappingProxyType({**chosen.labels(self.gpu_mode), **labels}),
            taints=self.taints,
            gpu_mode=self.gpu_mode,
        )

    @property
    def ownership_tags(self) -> dict[str, str]:
        """The tags by which `list_instances` knows an instance as this cluster's and finds its launch again: a
        provider puts them on what it launches whatever `tags` holds."""
        return {TAG_CLUSTER: self.cluster_name, TAG_OWNER: OWNER_VALUE, TAG_LAUNCH_ID: self.launch_id}


class InstanceState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    FAILED = "failed"  # the cloud gave up on a submitted launch; `Instance.failure` says why


PROVISIONAL_PREFIX = "launch:"


@dataclass(frozen=True, slots=True)
class Instance:
    """A cloud machine we own, or a launch of one the cloud has accepted but not yet named.

    `provider_id` is what its Node's `spec.providerID` will be; empty while the cloud has not named the machine,
    and then `instance_id` is the provisional handle `launch:<launch id>` (terminate cancels the launch).
    `configuration` is the node configuration it was launched with, as the provider recorded it (None only for
    an instance of ours whose record the provider could not read back). `failure` is the classified error of a
    FAILED launch.
    """

    instance_id: str
    provider_id: str
    instance_type: str
    zone: str
    capacity_type: CapacityType
    launch_id: str
    state: InstanceState
    created_at: datetime
    price_usd_per_hour: float = 0.0
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    configuration: NodeConfiguration | None = None
    failure: ProviderError | None = None

    @property
    def offering(self) -> OfferingRef:
        return OfferingRef(self.instance_type, self.zone, self.capacity_type.value)

    @property
    def identified(self) -> bool:
        """The cloud has named the machine: its provider id (and so its Node) can be known."""
        return bool(self.provider_id)

    @staticmethod
    def provisional_id(launch_id: str) -> str:
        return f"{PROVISIONAL_PREFIX}{launch_id}"

    @staticmethod
    def submitted(request: LaunchRequest, offering: Offering, *, created_at: datetime) -> Instance:
        """What a pool cloud's `launch` returns: the launch accepted, no machine named yet."""
        return Instance(
            instance_id=Instance.provisional_id(request.launch_id),
            provider_id="",
            instance_type=offering.name,
            zone=offering.zone,
            capacity_type=offering.capacity_type,
            launch_id=request.launch_id,
            state=InstanceState.PENDING,
            created_at=created_at,
            price_usd_per_hour=offering.price_usd_per_hour,
            tags=MappingProxyType({**request.tags, **request.ownership_tags}),
            configuration=request.configuration(offering),
        )

    @staticmethod
    def launched(
        request: LaunchRequest,
        offering: Offering,
        *,
        instance_id: str,
        provider_id: str,
        created_at: datetime,
        tags: Mapping[str, str],
    ) -> Instance:
        """What `launch` returns: the new instance of `offering` for `request`, pending, at the offering's price."""
        return Instance(
            instance_id=instance_id,
            provider_id=provider_id,
            instance_type=offering.name,
            zone=offering.zone,
            capacity_type=offering.capacity_type,
            launch_id=request.launch_id,
            state=InstanceState.PENDING,
            created_at=created_at,
            price_usd_per_hour=offering.price_usd_per_hour,
            tags=MappingProxyType(dict(tags)),
            configuration=request.configuration(offering),
        )


class InterruptionKind(StrEnum):
    SPOT_INTERRUPTION = "spot-interruption"  # AWS 2-minute notice, GCP/Azure/OCI preemption
    REBALANCE = "rebalance"  # AWS rebalance recommendation: elevated risk, not yet a notice
    SCHEDULED_MAINTENANCE = "scheduled-maintenance"


@dataclass(frozen=True, slots=True)
class InterruptionNotice:
    instance_id: str
    kind: InterruptionKind
    received_at: datetime
    deadline: datetime | None = None


@runtime_checkable
class NodeProvider(Protocol):
    """A cloud adapter. Errors raised are the classified ones of `luna_autoscaler.errors`."""

    @property
    def name(self) -> str:
        """The cloud (`aws`, `gcp`, `azure`, `oci`, `fake`)."""
        ...

    @property
    def features(self) -> Mapping[str, str]:
        """What this provider cannot do, feature → reason (empty: everything)."""
        ...

    def catalog(self) -> Catalog:
        """Offerings it can launch now, with current prices (refreshed by the provider, swapped atomically)."""
        ...

    def launch(self, request: LaunchRequest) -> Instance:
        """Submit one node's launch and return at once (never wait on a long-running cloud operation).

        Idempotent on `request.launch_id`: a second call for the same id returns the same instance and launches
        nothing. The node must register with `request.configuration(chosen)`'s labels and taints. Returns the
        instance (PENDING, maybe not yet `identified`); raises a classified ProviderError when the cloud refused
        at once. A refusal found later is a FAILED instance in `list_instances()`."""
        ...

    def terminate(self, instance_id: str) -> None:
        """Terminate (a pool member: and lower the pool's target size; a provisional handle: cancel the launch).
        An instance that is already gone counts as success."""
        ...

    def list_instances(self) -> Sequence[Instance]:
        """Every live instance and in-flight launch this cluster's autoscaler owns (by tags, names or pool
        metadata), each with its launch id and node configuration; a launch the cloud gave up on is listed FAILED
        with its error until it is terminated."""
        ...

    def instance_id_of(self, provider_id: str) -> str | None:
        """The instance behind a Node's spec.providerID, or None if it is not this cloud's."""
        ...

    def poll_interruptions(self) -> Sequence[InterruptionNotice]:
        """Interruption notices received since the last call (empty where unsupported; see features)."""
        ...


class CatalogSource(Protocol):
    """Priced offerings for a cloud and region (bundled snapshot or live refresh)."""

    def catalog(self, cloud: str, region: str) -> Catalog: ...


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """A consistent view of the cluster for one reconcile cycle."""

    pods: tuple[Pod, ...]
    nodes: tuple[Node, ...]
    daemonsets: tuple[DaemonSet, ...] = ()
    pdbs: tuple[DisruptionBudget, ...] = ()
    resource_version: str = ""

    def pods_on(self, node_name: str) -> tuple[Pod, ...]:
        return tuple(p for p in self.pods if p.node_name == node_name and not p.terminal)


class EvictionOutcome(StrEnum):
    EVICTED = "evicted"
    GONE = "gone"  # already deleted
    BLOCKED = "blocked"  # a PDB said no (HTTP 429): retry later with backoff


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """What an Event is about."""

    kind: str  # Pod | Node | ConfigMap
    name: str
    namespace: str = ""
    uid: str = ""


class Cluster(Protocol):
    """The Kubernetes adapter as the reconcile loop sees it."""

    def snapshot(self) -> ClusterSnapshot: ...

    def config(self) -> Config | None:
        """The last good configuration from the ConfigMap (None: no ConfigMap, use local/default)."""
        ...

    def label_node(self, node_name: str, labels: Mapping[str, str]) -> None: ...

    def taint_node(self, node_name: str, taint: Taint) -> None: ...

    def cordon(self, node_name: str) -> None: ...

    def evict(self, pod: Pod) -> EvictionOutcome: ...

    def delete_node(self, node_name: str) -> None: ...

    def post_event(self, about: ObjectRef, reason: str, message: str, *, warning: bool = False) -> None: ...


class Leadership(Protocol):
    """Leader election: only the leader acts; `is_leader` is cheap and current."""

    def is_leader(self) -> bool: ...

    def release(self) -> None: ...


Clock = Callable[[], datetime]


class NodeRegistrar(Protocol):
    """Registers the Node of a machine that has no kubelet to do it, and removes it when the machine is gone.

    On a real cloud the machine's kubelet registers its Node (with the labels and `--register-with-taints` the
    launch asked for) and the cloud's node lifecycle controller deletes the Node of a terminated machine. The fake
    cloud's machines have neither; with `fake.registerNodes` the fake plays both parts through this port, which the
    composition root gives it in `ProviderContext.node_registrar` (docs/design/reliability.md, "Nodes of the fake
    cloud"). Both calls are idempotent; a failure is a LunaError and the caller tries again later.
    """

    def register(self, instance: Instance, offering: Offering) -> None:
        """Create the Node of a running `instance` of `offering`, with its configuration's labels and taints."""
        ...

    def deregister(self, instance: Instance) -> None:
        """Delete the Node of `instance` (gone already: success)."""
        ...


@dataclass(frozen=True, slots=True)
class ProviderContext:
    """What a provider factory (the entry point's object) gets to build its NodeProvider."""

    config: Config
    cluster_name: str
    clock: Clock
    # A prometheus_client CollectorRegistry the provider may register its own collectors in (e.g. the age of its
    # live prices); None: the provider exports no metrics. Typed loosely so the ports stay free of prometheus.
    metrics_registry: Any = None
    # Who registers Nodes for machines without a kubelet (the fake cloud's, `fake.registerNodes`); None: nobody.
    node_registrar: NodeRegistrar | None = None


ProviderFactory = Callable[[ProviderContext], NodeProvider]
PROVIDER_ENTRY_POINT_GROUP = "luna_autoscaler.providers"
