"""Launches from the provider call until the Node is initialised: the in-flight capacity the planner must see.

A launch is in flight while its instance has no Node, and while its Node is not yet Ready or (GPU nodes) has no
GPU allocatable because the device plugin has not started; during that time its planned allocatable stands in
for the node, so pending pods it will take are not planned a second time. A launch that does not get there
within `registrationTimeout` is terminated and its offering penalised, as Karpenter does.

The records are a cache: `rebuild` recreates them from the provider's instances (launch id and node configuration,
as the provider recorded them) and the nodes, so a restart mid-launch counts the instance as in flight, in the GPU
mode it was launched in, instead of launching again.

Pool clouds accept a launch before they name the machine (ports.py): such a record holds a provisional instance
that `track` fills in from `list_instances()`, and a launch the cloud gives up on later comes back as a FAILED
instance, handled like an error of the launch call itself (same classes, same unavailability, same re-plan).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType

import structlog

from luna_autoscaler.backoff import Backoff
from luna_autoscaler.config import Config
from luna_autoscaler.errors import (
    InsufficientCapacity,
    OfferingRef,
    Permanent,
    ProviderConfigurationError,
    QuotaExceeded,
    Transient,
)
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import Catalog, Offering
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.pod import Node, Pod
from luna_autoscaler.models.resources import Resources
from luna_autoscaler.models.scheduling import Taint, node_admits
from luna_autoscaler.observability.metrics import Metrics
from luna_autoscaler.planner.shapes import node_kinds, parse_taint
from luna_autoscaler.planner.types import CapacityNode, PlannedNode
from luna_autoscaler.ports import (
    OWNER_VALUE,
    TAG_CLUSTER,
    TAG_LAUNCH_ID,
    TAG_NODE_POOL,
    TAG_OWNER,
    Instance,
    InstanceState,
    LaunchRequest,
    NodeProvider,
)
from luna_autoscaler.reconcile.state import LaunchPhase, LaunchRecord, UnavailableOfferings

log = structlog.get_logger("luna_autoscaler.reconcile")

PERMANENT_TTL_SECONDS = 6 * 3600.0
"""How long an offering the cloud called impossible (Permanent) stays out of plans: long, but not forever, so
that a fixed account or a new zone is picked up without a restart."""

MAX_TRANSIENT_ATTEMPTS = 6
"""Transient launch failures retried (same launch id, exponential backoff) before the launch is given up and its
pods are planned afresh."""

TRANSIENT_BACKOFF = Backoff(initial_seconds=5.0, max_seconds=120.0, jitter=0.0)


def node_labels(
    config: Config, offering: Offering, planned: Mapping[str, str], launch_id: str, bin_kind: str, *, mode: GpuMode
) -> dict[str, str]:
    """The labels a node of ours carries: the offering's well-known labels with what the cloud adds for its GPU
    mode (a cloud's time-sharing labels: the provider takes them from here), the configured extras, the planner's,
    and the launch id (how a Node is matched to its launch when the provider id is not yet known)."""
    return {
        **offering.labels(mode),
        **config.node_labels,
        **planned,
        lbl.LAUNCH_ID: launch_id,
        lbl.BIN_KIND: bin_kind,
    }


def node_taints(config: Config, planned: Iterable[Taint]) -> tuple[Taint, ...]:
    out: list[Taint] = []
    for taint in (*planned, *(parse_taint(t) for t in config.node_taints)):
        if taint not in out:
            out.append(taint)
    return tuple(out)


NODE_CLOCK_SKEW = timedelta(minutes=5)
"""A Node created this long before its launch started cannot be that launch's (clocks of the cloud and the API
server differ by less): matching by provider id never adopts a Node that existed before the launch."""


def is_initialised(node: Node, gpus: int) -> bool:
    """Ready, and for a GPU node its GPUs are allocatable (the device plugin has reported)."""
    return node.ready and (gpus == 0 or node.allocatable.gpus() > 0)


@dataclass(frozen=True, slots=True)
class PlanCapacity:
    """The capacity a plan may use, and the pending pods already on their way to part of it."""

    nodes: tuple[CapacityNode, ...]
    awaiting: Mapping[str, str] = field(default_factory=dict)  # pending pod key → in-flight node launched for it

    def __add__(self, other: PlanCapacity) -> PlanCapacity:
        return PlanCapacity(self.nodes + other.nodes, {**self.awaiting, **other.awaiting})


_NO_PODS: Mapping[str, Pod] = MappingProxyType({})


def _admits(pod: Pod, record: LaunchRecord, free: Resources) -> bool:
    """Whether the pod may still go on the launch's node: it fits what is left, the node's labels and taints
    admit it (as kube-scheduler will check)."""
    return pod.requests.fits_in(free) and node_admits(pod.node_selector, pod.tolerations, record.labels, record.taints)


@dataclass(frozen=True, slots=True)
class LaunchFailure:
    """A launch that failed in a way that frees its pods for another plan (capacity, quota, permanent)."""

    record: LaunchRecord
    kind: str
    message: str
    replan: bool  # True: other offerings may work now; False: configuration error, retrying will not help


@dataclass(frozen=True, slots=True)
class TrackResult:
    with_nodes: tuple[tuple[LaunchRecord, Node], ...]  # every launch whose Node exists (to label and taint)
    initialised: tuple[LaunchRecord, ...]
    timed_out: tuple[LaunchRecord, ...]
    failures: tuple[LaunchFailure, ...]


class LaunchTracker:
    """Launch records by launch id, and the calls that create, retry, follow and abandon them."""

    def __init__(
        self,
        provider: NodeProvider,
        cluster_name: str,
        unavailable: UnavailableOfferings,
        metrics: Metrics,
        launch_ids: Callable[[], str],
    ) -> None:
        self._provider = provider
        self._cluster_name = cluster_name
        self._unavailable = unavailable
        self._metrics = metrics
        self._launch_ids = launch_ids
        self.records: dict[str, LaunchRecord] = {}

    # --- rebuilding after a restart -------------------------------------------------------------------------

    def rebuild(self, instances: Sequence[Instance], nodes: Sequence[Node], catalog: Catalog, config: Config) -> None:
        """Every instance with a launch id whose Node is missing or not yet initialised is a launch in flight.

        Its shape comes from the node configuration the provider recorded with it (labels, taints, GPU mode), so
        a time-sliced node in flight is counted with its replicas; an instance without one (an older provider's)
        is taken in the type's unsliced mode, which is what a fresh plan would assume."""
        by_launch = {n.labels[lbl.LAUNCH_ID]: n for n in nodes if lbl.LAUNCH_ID in n.labels}
        by_provider_id = {n.provider_id: n for n in nodes if n.provider_id}
        for inst in instances:
            if not inst.launch_id or inst.launch_id in self.records:
                continue
            node = (by_provider_id.get(inst.provider_id) if inst.identified else None) or by_launch.get(inst.launch_id)
            it = catalog.instance_types.get(inst.instance_type)
            if it is None:
                log.warning(
                    "launch.rebuild.unknown_type", instance_id=inst.instance_id, instance_type=inst.instance_type
                )
                continue
            if node is not None and is_initialised(node, it.gpus):
                continue
            offering = catalog.find(inst.offering) or Offering(
                it,
                catalog.region,
                inst.zone,
                inst.capacity_type,
                inst.price_usd_per_hour,
                catalog.provenance,
            )
            kinds = node_kinds((it,), config)
            recorded = inst.configuration
            kind = next((k for k in kinds if recorded is not None and k.mode == recorded.gpu_mode), kinds[0])
            bin_kind = inst.tags.get(TAG_NODE_POOL) or (recorded.labels.get(lbl.BIN_KIND) if recorded else None)
            if recorded is not None:
                labels = {**recorded.labels, lbl.LAUNCH_ID: inst.launch_id}
                taints = recorded.taints
            else:
                labels = node_labels(config, offering, kind.labels, inst.launch_id, bin_kind or "pack", mode=kind.mode)
                taints = node_taints(config, kind.taints)
            request = LaunchRequest(
                inst.launch_id, self._cluster_name, (offering,), labels, taints, dict(inst.tags), kind.mode
            )
            record = LaunchRecord(
                launch_id=inst.launch_id,
                request=request,
                allocatable=kind.allocatable,
                labels=labels,
                taints=taints,
                price_usd_per_hour=inst.price_usd_per_hour or offering.price_usd_per_hour,
                gpus=it.gpus,
                gpu_sku=it.gpu_sku,
                started_at=inst.created_at,
            ).launched(inst)
            if node is not None:
                record = record.registered(node.name)
            self.records[inst.launch_id] = record
            log.info(
                "launch.rebuilt",
                launch_id=inst.launch_id,
                instance_id=inst.instance_id,
                instance_type=inst.instance_type,
                phase=record.phase.value,
            )

    # --- capacity the planner sees --------------------------------------------------------------------------

    def capacity(self, node_pods: Callable[[str], Resources], pending: Mapping[str, Pod] = _NO_PODS) -> PlanCapacity:
        """In-flight capacity: planned allocatable, less the requests of pods already bound to a registered node
        and of the `pending` pods the launch was bought for, which wait for it (`awaiting`) instead of being
        planned again. Left to the planner's best fit onto in-flight nodes, the pods of a plan do not always land
        back where the plan packed them, and the ones that miss got a second node: with 1,000 trace pods the cycle
        after the launches bought 10 more nodes. A pod waits only while it still fits and still admits the node
        (selector, tolerations): one recreated with other needs is planned afresh."""
        out = []
        awaiting: dict[str, str] = {}
        for r in self.records.values():
            name = r.node_name or r.launch_id
            free = r.allocatable - (node_pods(r.node_name) if r.node_name else Resources())
            for key in r.pods:
                pod = pending.get(key)
                if pod is None or key in awaiting or not _admits(pod, r, free):
                    continue
                free = free - pod.requests
                awaiting[key] = name
            out.append(
                CapacityNode(
                    name=name,
                    labels=r.labels,
                    taints=r.taints,
                    free=free,
                    in_flight=True,
                    price_usd_per_hour=r.price_usd_per_hour,
                    gpu_sku=r.gpu_sku,
                )
            )
        return PlanCapacity(tuple(out), MappingProxyType(awaiting))

    def registering_nodes(self) -> frozenset[str]:
        return frozenset(r.node_name for r in self.records.values() if r.node_name)

    def instance_ids(self) -> frozenset[str]:
        return frozenset(r.instance.instance_id for r in self.records.values() if r.instance is not None)

    def forget_instance(self, instance_id: str) -> LaunchRecord | None:
        """Drop the launch of an instance that will not become a node (interrupted before it registered)."""
        for record in list(self.records.values()):
            if record.instance is not None and record.instance.instance_id == instance_id:
                return self.records.pop(record.launch_id)
        return None

    # --- launching ------------------------------------------------------------------------------------------

    def new_record(self, planned: PlannedNode, config: Config, now: datetime) -> LaunchRecord:
        launch_id = self._launch_ids()
        labels = node_labels(
            config, planned.offering, planned.labels, launch_id, planned.bin.value, mode=planned.gpu_mode
        )
        taints = node_taints(config, planned.taints)
        tags = {
            **config.node_tags,
            TAG_CLUSTER: self._cluster_name,
            TAG_OWNER: OWNER_VALUE,
            TAG_LAUNCH_ID: launch_id,
            TAG_NODE_POOL: planned.bin.value,
        }
        request = LaunchRequest(
            launch_id=launch_id,
            cluster_name=self._cluster_name,
            offerings=(planned.offering, *planned.alternatives),
            labels=labels,
            taints=taints,
            tags=tags,
            gpu_mode=planned.gpu_mode,
        )
        it = planned.offering.instance_type
        return LaunchRecord(
            launch_id=launch_id,
            request=request,
            allocatable=planned.allocatable,
            labels=labels,
            taints=taints,
            price_usd_per_hour=planned.price_usd_per_hour,
            gpus=it.gpus,
            gpu_sku=it.gpu_sku,
            started_at=now,
            pods=planned.pods,
        )

    def launch(self, record: LaunchRecord, config: Config, now: datetime) -> LaunchRecord | LaunchFailure:
        """Call the provider. Success and transient failures keep the record (in flight); the others drop it and
        mark unavailable, for the error's TTL, the offerings the error names, or the first one asked for when it
        names none (the one the cloud surely tried; the next plan then tries the next)."""
        self.records[record.launch_id] = record
        try:
            instance = self._provider.launch(record.request)
        except Exception as e:
            return self._refused(record, e, config, now)
        launched = record.launched(instance)
        if instance.offering != record.request.offerings[0].ref:
            launched = self._as_alternative(launched, instance)
        self.records[record.launch_id] = launched
        self._metrics.launches.labels(instance.instance_type, instance.capacity_type).inc()
        log.info(
            "launch",
            launch_id=record.launch_id,
            instance_id=instance.instance_id,
            instance_type=instance.instance_type,
            zone=instance.zone,
            capacity_type=instance.capacity_type,
            price_usd_per_hour=launched.price_usd_per_hour,
            pods=len(record.pods),
            attempt=record.attempts + 1,
        )
        return launched

    def _refused(
        self, record: LaunchRecord, error: Exception, config: Config, now: datetime
    ) -> LaunchRecord | LaunchFailure:
        """What a launch's error means, whether the call raised it or the cloud reported it later (a FAILED
        instance): mark the offerings it names unavailable for its TTL (or the first one asked for, the one the
        cloud surely tried) and free the pods for another plan; retry the same id for a transient fault."""
        if isinstance(error, InsufficientCapacity):
            self._metrics.insufficient_capacity.labels(record.capacity_type).inc()
            refs = error.offerings or (record.offering,)
            self._unavailable.mark(refs, now, error.ttl_seconds or config.ice_ttl_seconds, "insufficient-capacity")
            return self._failed(record, "insufficient-capacity", error, refs, replan=True)
        if isinstance(error, QuotaExceeded):
            refs = error.offerings or (record.offering,)
            self._unavailable.mark(refs, now, error.ttl_seconds or config.quota_ttl_seconds, "quota")
            return self._failed(record, "quota", error, refs, replan=True)
        if isinstance(error, Permanent):
            refs = error.offerings or (record.offering,)
            self._unavailable.mark(refs, now, error.ttl_seconds or PERMANENT_TTL_SECONDS, "permanent")
            return self._failed(record, "permanent", error, refs, replan=True)
        if isinstance(error, ProviderConfigurationError):
            return self._failed(record, "configuration", error, (), replan=False)
        if isinstance(error, Transient):
            return self._retry(record, now, "transient", error, error.retry_after_seconds)
        # An unclassified provider fault: the call may have happened, so retry the same id.
        return self._retry(record, now, type(error).__name__, error, 0.0)

    def _as_alternative(self, record: LaunchRecord, instance: Instance) -> LaunchRecord:
        """The provider took a fallback offering from the request: labels and price follow the real one."""
        chosen = next((o for o in record.request.offerings if o.ref == instance.offering), None)
        if chosen is None:
            return record
        labels = {**record.labels, **chosen.labels(record.request.gpu_mode)}
        return replace(
            record,
            labels=labels,
            price_usd_per_hour=instance.price_usd_per_hour or chosen.price_usd_per_hour,
            gpus=chosen.instance_type.gpus,
            gpu_sku=chosen.instance_type.gpu_sku,
        )

    def _failed(
        self, record: LaunchRecord, kind: str, error: Exception, refs: Sequence[OfferingRef], *, replan: bool
    ) -> LaunchFailure:
        self.records.pop(record.launch_id, None)
        self._metrics.launch_errors.labels(kind).inc()
        log.warning(
            "launch.failed",
            launch_id=record.launch_id,
            kind=kind,
            error=str(error),
            unavailable=[str(r) for r in refs],
            pods=len(record.pods),
        )
        return LaunchFailure(record, kind, str(error), replan)

    def _retry(
        self, record: LaunchRecord, now: datetime, kind: str, error: Exception, retry_after: float
    ) -> LaunchRecord | LaunchFailure:
        self._metrics.launch_errors.labels("transient").inc()
        if record.attempts + 1 >= MAX_TRANSIENT_ATTEMPTS:
            self.records.pop(record.launch_id, None)
            log.error(
                "launch.abandoned",
                launch_id=record.launch_id,
                kind=kind,
                error=str(error),
                attempts=record.attempts + 1,
            )
            return LaunchFailure(record, kind, str(error), replan=True)
        delay = max(retry_after, TRANSIENT_BACKOFF.delay_seconds(record.attempts))
        retried = record.retry_later(now + timedelta(seconds=delay))
        self.records[record.launch_id] = retried
        log.warning("launch.retry", launch_id=record.launch_id, kind=kind, error=str(error), retry_in_seconds=delay)
        return retried

    # --- following launches to their nodes ------------------------------------------------------------------

    def track(self, nodes: Sequence[Node], instances: Sequence[Instance], config: Config, now: datetime) -> TrackResult:
        """Follow what the provider now says of each launch (named, or failed), retry due transient failures,
        match Nodes to launches, finish initialised ones, time out the rest."""
        failures: list[LaunchFailure] = list(self._follow_instances(instances, config, now))
        for record in list(self.records.values()):
            if record.phase is LaunchPhase.REQUESTED and record.retry_at is not None and record.retry_at <= now:
                outcome = self.launch(record, config, now)
                if isinstance(outcome, LaunchFailure):
                    failures.append(outcome)
        with_nodes: list[tuple[LaunchRecord, Node]] = []
        initialised: list[LaunchRecord] = []
        timed_out: list[LaunchRecord] = []
        for record, node in self._match(nodes):
            if node is not None:
                with_nodes.append((record, node))
            if node is not None and is_initialised(node, record.gpus):
                del self.records[record.launch_id]
                latency = (now - record.started_at).total_seconds()
                self._metrics.launch_latency.observe(max(0.0, latency))
                log.info("launch.initialised", launch_id=record.launch_id, node=node.name, latency_seconds=latency)
                initialised.append(record)
            elif now - record.started_at >= timedelta(seconds=config.registration_timeout_seconds):
                del self.records[record.launch_id]
                self._unavailable.mark((record.offering,), now, config.ice_ttl_seconds, "registration-timeout")
                log.warning(
                    "launch.timeout",
                    launch_id=record.launch_id,
                    phase=record.phase.value,
                    node=record.node_name,
                    instance_id=record.instance.instance_id if record.instance else "",
                    offering=str(record.offering),
                    timeout_seconds=config.registration_timeout_seconds,
                )
                timed_out.append(record)
        return TrackResult(tuple(with_nodes), tuple(initialised), tuple(timed_out), tuple(failures))

    def _follow_instances(self, instances: Sequence[Instance], config: Config, now: datetime) -> list[LaunchFailure]:
        """Launches the cloud has since named get their instance; launches it gave up on fail as if the launch
        call had raised, and the provider is told to clean up (a pool's target size comes back down)."""
        by_launch = {i.launch_id: i for i in instances if i.launch_id}
        failures = []
        for record in list(self.records.values()):
            reported = by_launch.get(record.launch_id)
            if record.instance is None or reported is None or reported == record.instance:
                continue
            if reported.state is InstanceState.FAILED:
                error = reported.failure or Permanent(f"launch {record.launch_id} failed in the cloud")
                log.warning("launch.failed_in_cloud", launch_id=record.launch_id, error=str(error))
                self._terminate_quietly(reported.instance_id)
                outcome = self._refused(record, error, config, now)
                if isinstance(outcome, LaunchFailure):
                    failures.append(outcome)
                else:  # transient: the cloud may try again itself; the record waits for it, in flight
                    self.records[record.launch_id] = outcome.launched(reported)
            elif reported.identified and not record.instance.identified:
                log.info("launch.named", launch_id=record.launch_id, instance_id=reported.instance_id)
                self.records[record.launch_id] = replace(record, instance=reported)
        return failures

    def _terminate_quietly(self, instance_id: str) -> None:
        """Clean up after a failed launch; if that fails too, garbage collection terminates it later."""
        try:
            self._provider.terminate(instance_id)
        except Exception as e:
            log.warning("launch.cleanup_failed", instance_id=instance_id, error=f"{type(e).__name__}: {e}")

    def _match(self, nodes: Sequence[Node]) -> list[tuple[LaunchRecord, Node | None]]:
        """Each launch with its Node (by launch-id label, else by provider id), newly matched ones registered. A
        Node older than the launch is never adopted (a recycled provider id is not this launch's machine)."""
        by_launch = {n.labels[lbl.LAUNCH_ID]: n for n in nodes if lbl.LAUNCH_ID in n.labels}
        by_provider_id = {n.provider_id: n for n in nodes if n.provider_id}
        out: list[tuple[LaunchRecord, Node | None]] = []
        for record in list(self.records.values()):
            node = by_launch.get(record.launch_id)
            if node is None and record.instance is not None and record.instance.identified:
                node = by_provider_id.get(record.instance.provider_id)
                if node is not None and node.created_at and node.created_at < record.started_at - NODE_CLOCK_SKEW:
                    node = None
            if node is not None and record.phase is not LaunchPhase.REGISTERED:
                log.info("launch.registered", launch_id=record.launch_id, node=node.name)
                self.records[record.launch_id] = record.registered(node.name)
            out.append((self.records[record.launch_id], node))
        return out
