"""The seams between the core and the outside world (architecture.md, "Ports").

`NodeProvider` is what a cloud adapter implements (providers/<cloud>, registered as an entry point in the group
`luna_autoscaler.providers`); `CatalogSource` gives priced offerings; `Cluster` is the Kubernetes adapter as the
reconcile loop sees it. Every method is required; what a provider cannot do is data in `features`, not a
method that raises NotImplementedError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from luna_autoscaler.config import Config
from luna_autoscaler.errors import OfferingRef
from luna_autoscaler.models.catalog import Catalog, Offering
from luna_autoscaler.models.pod import DaemonSet, DisruptionBudget, Node, Pod
from luna_autoscaler.models.scheduling import Taint

_EMPTY: Mapping[str, str] = MappingProxyType({})

# Tags/labels every instance we launch carries, so that list() finds exactly ours.
TAG_CLUSTER = "luna.elotl.co/cluster"
TAG_OWNER = "luna.elotl.co/owner"
TAG_LAUNCH_ID = "luna.elotl.co/launch-id"
TAG_NODE_POOL = "luna.elotl.co/node-pool"
OWNER_VALUE = "luna-autoscaler"


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
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    taints: tuple[Taint, ...] = ()
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

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


@dataclass(frozen=True, slots=True)
class Instance:
    """A cloud machine we own. `provider_id` is what its Node's `spec.providerID` will be."""

    instance_id: str
    provider_id: str
    instance_type: str
    zone: str
    capacity_type: str
    launch_id: str
    state: InstanceState
    created_at: datetime
    price_usd_per_hour: float = 0.0
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    @property
    def offering(self) -> OfferingRef:
        return OfferingRef(self.instance_type, self.zone, self.capacity_type)

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
            capacity_type=offering.capacity_type.value,
            launch_id=request.launch_id,
            state=InstanceState.PENDING,
            created_at=created_at,
            price_usd_per_hour=offering.price_usd_per_hour,
            tags=MappingProxyType(dict(tags)),
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
        """Create one node's instance; idempotent on request.launch_id."""
        ...

    def terminate(self, instance_id: str) -> None:
        """Terminate; an instance that is already gone counts as success."""
        ...

    def list_instances(self) -> Sequence[Instance]:
        """Every live instance this cluster's autoscaler owns (by tags/labels)."""
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


@dataclass(frozen=True, slots=True)
class ProviderContext:
    """What a provider factory (the entry point's object) gets to build its NodeProvider."""

    config: Config
    cluster_name: str
    clock: Clock
    # A prometheus_client CollectorRegistry the provider may register its own collectors in (e.g. the age of its
    # live prices); None: the provider exports no metrics. Typed loosely so the ports stay free of prometheus.
    metrics_registry: Any = None
    # A catalog to sell instead of the provider's own: how `simulate --cloud gcp --region ...` prices the in-memory
    # fake provider from another cloud's bundled catalog. Real clouds ignore it. None: the provider's own catalog.
    catalog: Catalog | None = None


ProviderFactory = Callable[[ProviderContext], NodeProvider]
PROVIDER_ENTRY_POINT_GROUP = "luna_autoscaler.providers"
