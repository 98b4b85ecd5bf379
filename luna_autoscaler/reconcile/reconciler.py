"""The reconcile cycle: read the cluster and the provider once, then follow launches, answer interruptions,
scale up, scale down, drain and collect orphans, in that order, and record what was done.

The order matters. Launches are followed first so that capacity that just became a node is not counted twice;
interruptions come before scale-up so that the pods of a node about to be reclaimed are planned in the same
cycle; scale-up comes before scale-down so that a node the plan just counted on for pending pods is not
removed; garbage collection comes last, when every instance has had its chance to be accounted for.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from luna_autoscaler.config import Config
from luna_autoscaler.models.catalog import Catalog, NodeResources
from luna_autoscaler.models.pod import Node, Pod
from luna_autoscaler.models.scheduling import CAPACITY_TYPE
from luna_autoscaler.models.workloads import WorkloadSource
from luna_autoscaler.observability.metrics import Metrics
from luna_autoscaler.planner.shapes import PreparedOfferings, observed_node_resources
from luna_autoscaler.planner.types import Limits, PlanRequest
from luna_autoscaler.ports import Clock, Cluster, InterruptionKind, NodeProvider
from luna_autoscaler.reconcile.consolidation import Consolidator
from luna_autoscaler.reconcile.drain import Drainer
from luna_autoscaler.reconcile.estimates import CostEstimates
from luna_autoscaler.reconcile.events import PodEvents
from luna_autoscaler.reconcile.gang_launches import GangLaunches
from luna_autoscaler.reconcile.garbage import OrphanCollector
from luna_autoscaler.reconcile.launches import LaunchTracker, PlanCapacity
from luna_autoscaler.reconcile.report import CycleReport, RemovalSummary
from luna_autoscaler.reconcile.scale_down import BlockReports, ScaleDown
from luna_autoscaler.reconcile.scale_up import ScaleUp, ScaleUpOutcome
from luna_autoscaler.reconcile.state import LaunchRecord, UnavailableOfferings
from luna_autoscaler.reconcile.triage import Triage, triage
from luna_autoscaler.reconcile.view import ClusterView, PriceIndex, as_pending
from luna_autoscaler.reconcile.workloads import GangsAndQueues

log = structlog.get_logger("luna_autoscaler.reconcile")


def _uuid_launch_id() -> str:
    return uuid.uuid4().hex[:20]


class Reconciler:
    """One autoscaler's memory and its cycle; see the package docstring for the public contract."""

    def __init__(
        self,
        cluster: Cluster,
        provider: NodeProvider,
        *,
        clock: Clock,
        cluster_name: str,
        local_config: Config | None = None,
        metrics: Metrics | None = None,
        dry_run: bool = False,
        batching: bool = True,
        launch_ids: Callable[[], str] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        workloads: WorkloadSource | None = None,
    ) -> None:
        self._cluster = cluster
        self._workload_source = workloads
        self._provider = provider
        self._clock = clock
        self._cluster_name = cluster_name
        self._local_config = local_config or Config()
        self.metrics = metrics or Metrics()
        self._dry_run = dry_run
        self._batching = batching
        self._launch_ids = launch_ids or _uuid_launch_id
        self._should_stop = should_stop
        self._config: Config | None = None
        self._prepared: PreparedOfferings | None = None
        self._observed: dict[str, NodeResources] = {}  # what our nodes report where the catalog differs
        self._prices = PriceIndex()
        self.forget()

    def forget(self) -> None:
        """Drop everything remembered between cycles; the next cycle rebuilds it from the cluster and the
        provider. The Daemon calls this when leadership comes back: another replica acted in between."""
        self._unavailable = UnavailableOfferings()
        self._tracker = LaunchTracker(
            self._provider, self._cluster_name, self._unavailable, self.metrics, self._launch_ids
        )
        self._events = PodEvents(self._cluster, dry_run=self._dry_run)
        self._estimates = CostEstimates(self._events, self.metrics)
        self._gang_launches = GangLaunches(self._tracker, self._provider, self.metrics)
        self._gangs_and_queues = GangsAndQueues(self._workload_source, self._events, dry_run=self._dry_run)
        blocks = BlockReports(self._cluster, self.metrics, dry_run=self._dry_run)
        self._scale_up = ScaleUp(
            self._tracker,
            self._unavailable,
            self._events,
            self.metrics,
            self._gang_launches,
            dry_run=self._dry_run,
            batching=self._batching,
            should_stop=self._should_stop,
        )
        self._scale_down = ScaleDown(blocks, self.metrics)
        self._drainer = Drainer(self._cluster, self._provider, blocks, self.metrics, should_stop=self._should_stop)
        self._orphans = OrphanCollector()
        self._consolidator = Consolidator(self._tracker, self.metrics, dry_run=self._dry_run)
        self._rebuilt = False
        self._labelled: set[str] = set()  # launch ids whose Node got our labels and taints
        # Launches whose Node the API refused to label, by launch id: retried every cycle while the Node exists,
        # even after the launch itself is finished (it may initialise in the very cycle labelling failed).
        self._unlabelled: dict[str, LaunchRecord] = {}

    # --- what callers may read ------------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        """The configuration in effect: the ConfigMap's when there is one, else the local file's, else defaults."""
        from_cluster = self._cluster.config()
        current = from_cluster or self._local_config
        if current != self._config:
            source = "ConfigMap" if from_cluster is not None else "local"
            log.info("config", source=source, config=current.document())
            self._config = current
        return current

    @property
    def unneeded_since(self) -> dict[str, datetime]:
        return dict(self._scale_down.unneeded_since)

    # --- the cycle ------------------------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> CycleReport:
        now = now or self._clock()
        started = time.perf_counter()
        config = self.config
        catalog = self._provider.catalog()
        snapshot = self._cluster.snapshot()
        instances = self._provider.list_instances()
        view = ClusterView.build(snapshot, instances, self._provider, catalog, self._prices)
        prepared = self._prepared_offerings(catalog, config, snapshot.nodes)
        if not self._rebuilt:
            self._tracker.rebuild(instances, snapshot.nodes, catalog, config)
            if not self._dry_run:  # a dry run terminates nothing, not even a half gang
                self._gang_launches.recover(instances, snapshot, config, now)
            self._scale_up.last_launch_at = max((r.started_at for r in self._tracker.records.values()), default=None)
            self._drainer.resume(view, now)
            self._rebuilt = True
        removed: list[RemovalSummary] = []

        with self._events.deferred():  # pod Events after the launch requests, not between them
            followed, failed_in_cloud = self._follow_launches(view, config, now)
            removed += followed
            self._gang_launches.follow(now)
            interrupted = self._answer_interruptions(view, config, now)
            pods = triage(snapshot.pods, config)
            up = self._scale_up_for(pods, view, prepared, now)
            self._report_problems(pods, prepared, view, now)  # estimates buy nothing: after what does
        drains_started = self._scale_down_for(view, catalog, config, up, now)
        drains_started += self._consolidate(view, prepared, pods, now)
        if not self._dry_run:
            removed += self._drainer.progress(view, now)
        removed += self._collect_orphans(view, removed, now)

        self._record_gauges(view, pods, up)
        self.metrics.cycle_duration.observe(time.perf_counter() - started)
        self.metrics.last_success.set(now.timestamp())
        return CycleReport(
            now=now,
            pending_pods=len(pods.pending),
            planned=up.planned,
            launched=up.launched,
            launch_errors=failed_in_cloud + up.errors,
            unplaced=up.unplaced,
            drains_started=interrupted + drains_started,
            removed=tuple(removed),
            in_flight=len(self._tracker.records),
            dry_run=self._dry_run,
        )

    # --- launches -------------------------------------------------------------------------------------------

    def _follow_launches(
        self, view: ClusterView, config: Config, now: datetime
    ) -> tuple[list[RemovalSummary], tuple[str, ...]]:
        """Launches followed to their nodes; returns what was removed (timed out) and the launches that failed
        since the last cycle (retries given up, refusals the cloud reported later), as `kind: message`."""
        tracked = self._tracker.track(view.nodes, tuple(view.instances.values()), config, now)
        self._consolidator.launches_ended(
            {r.launch_id for r in tracked.initialised},
            {r.launch_id for r in tracked.timed_out} | {f.record.launch_id for f in tracked.failures},
        )
        for record, _ in tracked.with_nodes:
            if record.launch_id not in self._labelled and not self._dry_run:
                self._unlabelled[record.launch_id] = record
        nodes = {n.name: n for n in view.nodes}
        for launch_id, record in list(self._unlabelled.items()):
            current = nodes.get(record.node_name)
            if current is None or self._label_and_taint(record, current):
                del self._unlabelled[launch_id]
                self._labelled.add(launch_id)
        self._labelled &= set(self._tracker.records)
        removed = []
        for record in tracked.timed_out:
            instance_id = record.instance.instance_id if record.instance else ""
            removed.append(RemovalSummary(record.node_name, instance_id, "registration-timeout"))
            if self._dry_run:
                log.info("launch.would_terminate", launch_id=record.launch_id, instance_id=instance_id)
                continue
            self._remove(record.node_name, instance_id, "registration-timeout")
        return removed, tuple(f"{f.kind}: {f.message}" for f in tracked.failures)

    def _label_and_taint(self, record: LaunchRecord, node: Node) -> bool:
        """Our labels and taints on the Node, where the cloud's bootstrap did not already put them; False if the
        API refused (tried again next cycle)."""
        missing = {k: v for k, v in record.labels.items() if node.labels.get(k) != v}
        taints = [t for t in record.taints if not any(n.key == t.key and n.effect == t.effect for n in node.taints)]
        try:
            if missing:
                self._cluster.label_node(node.name, missing)
                log.info("node.labelled", node=node.name, labels=sorted(missing))
            for taint in taints:
                self._cluster.taint_node(node.name, taint)
                log.info("node.tainted", node=node.name, taint=str(taint))
        except Exception as e:
            self.metrics.node_operation_failures.labels("label").inc()
            log.warning("node.label_failed", node=node.name, error=f"{type(e).__name__}: {e}")
            return False
        return True

    def _remove(self, node_name: str, instance_id: str, reason: str) -> bool:
        """Delete the Node (if any) and terminate the instance; False (logged) if a call failed: the instance is
        then an orphan, which garbage collection terminates later."""
        try:
            if node_name:
                self._cluster.delete_node(node_name)
            if instance_id:
                self._provider.terminate(instance_id)
        except Exception as e:
            self.metrics.node_operation_failures.labels("remove").inc()
            log.warning(
                "remove.failed",
                node=node_name,
                instance_id=instance_id,
                reason=reason,
                error=f"{type(e).__name__}: {e}",
            )
            return False
        self.metrics.nodes_removed.labels(reason).inc()
        return True

    # --- interruptions --------------------------------------------------------------------------------------

    def _answer_interruptions(self, view: ClusterView, config: Config, now: datetime) -> tuple[RemovalSummary, ...]:
        """Cordon and drain an interrupted node now; its offering is unavailable for a while (it was reclaimed)."""
        node_of = {instance_id: node for node, instance_id in view.node_instance.items()}
        started: list[RemovalSummary] = []
        for notice in self._provider.poll_interruptions():
            self.metrics.interruptions.labels(notice.kind.value).inc()
            node = node_of.get(notice.instance_id)
            log.warning("interruption", instance_id=notice.instance_id, kind=notice.kind.value, node=node or "")
            if notice.kind is InterruptionKind.REBALANCE:
                continue  # a raised risk, not a notice: the node keeps serving until a real notice comes
            instance = view.instances.get(notice.instance_id)
            if instance is not None:
                self._unavailable.mark((instance.offering,), now, config.ice_ttl_seconds, "interrupted")
            if node is not None:
                started.append(RemovalSummary(node, notice.instance_id, "interrupted"))
            if self._dry_run:
                continue
            if node is not None:
                self._drainer.start(node, notice.instance_id, "interrupted", now, urgent=True)
            elif (record := self._tracker.forget_instance(notice.instance_id)) is not None:
                log.info("launch.interrupted", launch_id=record.launch_id, instance_id=notice.instance_id)
                self._remove("", notice.instance_id, "interrupted")
        return tuple(started)

    # --- scale-up -------------------------------------------------------------------------------------------

    def _prepared_offerings(self, catalog: Catalog, config: Config, nodes: Sequence[Node]) -> PreparedOfferings:
        """The offerings every plan of this cycle buys from: kept while the catalog, the configuration and what
        our registered nodes report stay the same, rebuilt when one changes (a ConfigMap edit applies here). Only
        reports that differ from the catalog's figures count, so nodes coming and going rebuild nothing."""
        for type_name, seen in observed_node_resources(nodes, catalog).items():
            known = catalog.instance_types.get(type_name)
            if known is None or known.node is None or known.node.allocatable != seen.allocatable:
                self._observed[type_name] = seen  # remembered: a type's reality does not leave with its last node
        kept = self._prepared
        self._prepared = (
            kept.current(catalog, config, self._observed)
            if kept
            else PreparedOfferings.build(catalog, config, dict(self._observed))
        )
        return self._prepared

    def _report_problems(self, pods: Triage, prepared: PreparedOfferings, view: ClusterView, now: datetime) -> None:
        for pod, problems in pods.invalid:
            message = "; ".join(str(p) for p in problems)
            log.warning("pod.invalid_annotation", pod=pod.key, problems=message)
            self._events.post(pod, "InvalidAnnotation", message, warning=True)
        unavailable = self._unavailable.current(now)
        self._estimates.post(pods.gated, prepared.catalog, prepared.config, unavailable, prepared)
        self._events.keep_only(view.snapshot.pods)

    def _scale_up_for(
        self, pods: Triage, view: ClusterView, prepared: PreparedOfferings, now: datetime
    ) -> ScaleUpOutcome:
        config = prepared.config
        replaced = [
            as_pending(p)
            for drain in self._drainer.drains.values()
            if drain.urgent
            for p in view.movable_pods(drain.node)
        ]
        pending = {p.key: p for p in (*pods.pending, *replaced)}
        exclude = frozenset(self._drainer.drains) | self._tracker.registering_nodes()

        def capacity(may_wait: Mapping[str, Pod]) -> PlanCapacity:
            return PlanCapacity(view.capacity(exclude)) + self._tracker.capacity(view.used_on, may_wait)

        admitted = self._gangs_and_queues.prepare(tuple(pending.values()), view.snapshot.pods)
        up = self._scale_up.run(
            admitted.pending,
            catalog=prepared.catalog,
            config=config,
            prepared=prepared,
            daemonsets=view.snapshot.daemonsets,
            capacity=capacity,
            limits=lambda: self._limits(config, view),
            now=now,
            urgent=bool(replaced),
            gangs=admitted.gangs,
        )
        if up.planned or not admitted.pending:  # not while the batch is still open
            launched = {k: s.instance_id for s in up.launched for k in s.pods if s.instance_id}
            self._gangs_and_queues.answer(
                admitted,
                placed=up.placed,
                launched_instances=launched,
                base=PlanRequest(
                    pods=(),
                    catalog=prepared.catalog,
                    config=config,
                    nodes=capacity({}).nodes,
                    daemonsets=view.snapshot.daemonsets,
                    unavailable=self._unavailable.current(now),
                ),
                live_instances=frozenset(view.instances) | frozenset(launched.values()),
                bound=[p for p in view.snapshot.pods if p.node_name],
                now=now,
            )
        return replace(up, unplaced=(*admitted.held, *up.unplaced)) if admitted.held else up

    def _limits(self, config: Config, view: ClusterView) -> Limits:
        """What maxNodes, maxGpus and maxHourlyCost leave, counting our nodes and our launches without a node."""
        owned = view.owned_nodes()
        coming = [r for r in self._tracker.records.values() if not r.node_name]
        nodes = len(owned) + len(coming)
        gpus = sum(view.gpus_of(n) for n in owned) + sum(r.gpus for r in coming)
        cost = sum(view.price_of(n) for n in owned) + sum(r.price_usd_per_hour for r in coming)
        return Limits(
            nodes=None if config.max_nodes is None else max(0, config.max_nodes - nodes),
            gpus=None if config.max_gpus is None else max(0, config.max_gpus - gpus),
            hourly_cost_usd=None
            if config.max_hourly_cost_usd is None
            else max(0.0, round(config.max_hourly_cost_usd - cost, 6)),
        )

    # --- scale-down -----------------------------------------------------------------------------------------

    def _scale_down_for(
        self, view: ClusterView, catalog: Catalog, config: Config, up: ScaleUpOutcome, now: datetime
    ) -> tuple[RemovalSummary, ...]:
        if not config.scale_down.enabled:
            return ()
        exclude = frozenset(self._drainer.drains) | self._tracker.registering_nodes()
        candidates = self._scale_down.find_unneeded(view, config, catalog, exclude=exclude, reserved=up.reserved or {})
        due = self._scale_down.due(candidates, now, config)
        last_up = self._scale_up.last_launch_at
        if (
            due
            and last_up is not None
            and now - last_up < timedelta(seconds=config.scale_down.delay_after_scale_up_seconds)
        ):
            log.info("scale_down.delayed", nodes=[c.node.name for c in due], last_scale_up=last_up.isoformat())
            return ()
        slots = max(0, config.scale_down.max_parallel_drains - self._drainer.active(urgent=False))
        started = []
        for c in due[:slots]:
            summary = RemovalSummary(c.node.name, c.instance_id, c.reason)
            started.append(summary)
            if self._dry_run:
                log.info("scale_down.would_remove", node=c.node.name, reason=c.reason)
                continue
            self._drainer.start(c.node.name, c.instance_id, c.reason, now)
            self._scale_down.forget(c.node.name)
        return tuple(started)

    def _consolidate(
        self, view: ClusterView, prepared: PreparedOfferings, pods: Triage, now: datetime
    ) -> tuple[RemovalSummary, ...]:
        config = prepared.config
        if not (config.scale_down.enabled and config.scale_down.consolidation):
            return ()
        last_up = self._scale_up.last_launch_at
        at_rest = (
            not pods.pending
            and not self._tracker.records
            and not self._drainer.drains
            and (last_up is None or now - last_up >= timedelta(seconds=config.scale_down.delay_after_scale_up_seconds))
        )
        decision = self._consolidator.step(
            view,
            prepared.catalog,
            config,
            prepared=prepared,
            at_rest=at_rest,
            limits=lambda: self._limits(config, view),
            now=now,
        )
        if decision is None:
            return ()
        self._drainer.start(decision.node, decision.instance_id, "consolidated", now)
        self._scale_down.forget(decision.node)
        return (RemovalSummary(decision.node, decision.instance_id, "consolidated"),)

    # --- garbage collection ---------------------------------------------------------------------------------

    def _collect_orphans(
        self, view: ClusterView, removed: Sequence[RemovalSummary], now: datetime
    ) -> list[RemovalSummary]:
        accounted = (
            set(view.node_instance.values())
            | self._tracker.instance_ids()
            | {d.instance_id for d in self._drainer.drains.values()}
            | {r.instance_id for r in removed}
        )
        out = []
        for instance in self._orphans.due(view.instances, accounted, now):
            if self._dry_run:
                log.info("orphan.would_terminate", instance_id=instance.instance_id)
            elif self._remove("", instance.instance_id, "orphan"):
                self._orphans.collected(instance.instance_id)
                log.info("orphan.terminated", instance_id=instance.instance_id, launch_id=instance.launch_id)
            else:
                continue  # still an orphan: tried again next cycle
            out.append(RemovalSummary("", instance.instance_id, "orphan"))
        return out

    # --- metrics --------------------------------------------------------------------------------------------

    def _record_gauges(self, view: ClusterView, pods: Triage, up: ScaleUpOutcome) -> None:
        m = self.metrics
        m.pending_pods.labels("pending").set(len(pods.pending))
        m.pending_pods.labels("gated").set(len(pods.gated))
        m.pending_pods.labels("invalid").set(len(pods.invalid))
        m.pending_pods.labels("unplaced").set(len(up.unplaced))
        m.nodes.clear()
        counts: dict[tuple[str, str, str], int] = {}
        registering = self._tracker.registering_nodes()
        cost = 0.0
        for node in view.owned_nodes():
            state = "initialising" if node.name in registering else "cordoned" if node.unschedulable else "ready"
            key = (view.catalog.type_of(node.labels), _capacity_type(node), state)
            counts[key] = counts.get(key, 0) + 1
            cost += view.price_of(node)
        for r in self._tracker.records.values():
            if not r.node_name:
                key = (r.instance_type, r.capacity_type, "launching")
                counts[key] = counts.get(key, 0) + 1
                cost += r.price_usd_per_hour
        for (instance_type, capacity_type, state), n in counts.items():
            m.nodes.labels(instance_type, capacity_type, state).set(n)
        m.hourly_cost.set(round(cost, 6))
        m.unavailable_offerings.clear()
        for reason, n in self._unavailable.count_by_reason().items():
            m.unavailable_offerings.labels(reason).set(n)


def _capacity_type(node: Node) -> str:
    return node.labels.get(CAPACITY_TYPE, "on-demand")
