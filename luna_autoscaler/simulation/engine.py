"""The simulation's clock and event loop: the daemon's own Reconciler, unchanged, against a simulated world.

Time jumps from event to event (a pod arrives or finishes, a machine joins, its GPUs appear, a spot notice, a
reclaim, and a reconcile cycle every `reconcileInterval`), so hours of cluster time take seconds. At each instant
the world's events are applied first, then kube-scheduler binds what fits, then (on a cycle) the loop runs and
the scheduler binds again, since on a real cluster it reacts within milliseconds.

The workload behaves like a Job controller: a pod that is evicted or loses its node is replaced by a new pending
pod that needs the rest of its run time (the work done before is kept, as with checkpointing), so disruption
shows up as extra pending time and node-hours, not as lost pods.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from luna_autoscaler.config import Config
from luna_autoscaler.errors import CatalogError
from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering
from luna_autoscaler.models.pod import Node, OwnerRef, Pod
from luna_autoscaler.ports import Clock, NodeProvider
from luna_autoscaler.reconcile import Reconciler
from luna_autoscaler.simulation.cloud import Machine, SimulatedCloud
from luna_autoscaler.simulation.cluster import PodStop, SimulatedCluster, owned
from luna_autoscaler.simulation.kubelet import registered_node, with_gpus
from luna_autoscaler.simulation.results import RunResult, Sample
from luna_autoscaler.simulation.scenario import Arrival, Scenario

ProviderMaker = Callable[[Clock], NodeProvider]
"""Builds the provider the simulated cloud wraps (the fake provider), on the simulation's clock."""

Progress = Callable[[float, int, int], None]
"""Told after every reconcile cycle: (simulated seconds so far, trace pods served so far, trace pods arrived)."""


class SimulatedClock:
    """A `Clock` that only moves when the simulation says so."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.seconds = 0.0

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)


class _Event(IntEnum):
    """Kinds of events; at one instant they apply in this order, the reconcile cycle last."""

    FINISH = 0
    RECLAIM = 1
    JOIN = 2
    GPUS = 3
    NOTICE = 4
    ARRIVE = 5
    CYCLE = 6


@dataclass
class _Work:
    """One trace pod across its incarnations (the original and the replacements after disruptions)."""

    arrival: Arrival
    remaining_seconds: float
    key: str
    incarnation: int = 0
    bound_at: float | None = None
    served: bool = False
    done: bool = False


def static_offering(catalog: Catalog, instance_type: str) -> Offering:
    """The on-demand offering a static node group of this type runs on (first zone)."""
    choices = sorted(
        (o for o in catalog if o.name == instance_type and o.capacity_type is CapacityType.ON_DEMAND),
        key=lambda o: o.zone,
    )
    if not choices:
        raise CatalogError(f"static node type {instance_type!r} has no on-demand offering in {catalog.region}")
    return choices[0]


class Simulation:
    """One run of the loop over a scenario; `run()` once."""

    def __init__(
        self,
        scenario: Scenario,
        make_provider: ProviderMaker,
        *,
        config: Config | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.scenario = scenario
        self._progress = progress
        self.config = config or scenario.config  # the scenario's, or a variant of it (the all-on-demand baseline)
        self.label = ",".join(c.value for c in self.config.default_offerings)
        self.clock = SimulatedClock(scenario.start)
        self.cluster = SimulatedCluster(
            self.clock,
            config=self.config,
            scoring=scenario.scoring,
            daemonsets=scenario.daemonsets,
            observer=self,
            pod_groups=scenario.pod_groups,
            queues=scenario.queues,
        )
        self.cloud = SimulatedCloud(
            make_provider(self.clock), scenario.cloud_model, self.clock, started_at=self.clock()
        )
        launch_numbers = itertools.count(1)
        self.reconciler = Reconciler(
            self.cluster,
            self.cloud,
            clock=self.clock,
            cluster_name=scenario.cluster_name,
            local_config=self.config,
            launch_ids=lambda: f"launch-{next(launch_numbers):05d}",
            workloads=self.cluster,
        )
        self._horizon = scenario.hours * 3600
        self._queue: list[tuple[float, int, int, str]] = []
        self._sequence = itertools.count()
        self._works: dict[str, _Work] = {}  # live ones, by the current pod key
        self._arrived: list[_Work] = []
        self._served = 0  # of _arrived, those that ran at least once
        self._node_of: dict[str, str] = {}  # instance id → node name
        self._machine_of: dict[str, Machine] = {}  # node name → machine
        self._pending_seconds: list[float] = []
        self._disrupted: Counter[str] = Counter()
        self._interruptions = 0
        self._launch_errors: Counter[str] = Counter()
        self._cycles = 0
        self._cycle_errors = 0
        self._first_cycle_error = ""
        self._samples: list[Sample] = []
        self._static_cost = 0.0

    # ---- PodObserver (the Job controller of the workload) ------------------------------------------------

    def pod_bound(self, pod: Pod, node: Node, at: datetime) -> None:
        work = self._works.get(pod.key)
        if work is None:
            return  # a DaemonSet pod
        now = self.clock.seconds
        self._pending_seconds.append((at - (pod.created_at or at)).total_seconds())
        self._served += not work.served
        work.bound_at, work.served = now, True
        self._push(now + work.remaining_seconds, _Event.FINISH, f"{work.incarnation}|{pod.key}")

    def pod_stopped(self, pod: Pod, cause: PodStop, at: datetime) -> None:
        work = self._works.pop(pod.key, None)
        if work is None:
            return
        if cause is PodStop.COMPLETED:
            work.done = True
            return
        now = self.clock.seconds
        if work.bound_at is not None:
            work.remaining_seconds = max(1.0, work.remaining_seconds - (now - work.bound_at))
        self._disrupted[cause.value] += 1
        work.incarnation += 1
        work.bound_at = None
        self._create(work, dataclasses.replace(work.arrival.pod, name=f"{work.arrival.pod.name}-{work.incarnation}"))

    # ---- the run -----------------------------------------------------------------------------------------

    def run(self) -> RunResult:
        wall = time.perf_counter()
        self._start_static_nodes()
        for i, arrival in enumerate(self.scenario.arrivals):
            self._push(arrival.at_seconds, _Event.ARRIVE, str(i))
        interval = self.scenario.reconcile_interval_seconds
        for n in range(int(self._horizon // interval) + 1):
            self._push(n * interval, _Event.CYCLE, "")
        while self._queue and self._queue[0][0] <= self._horizon:
            now = self._queue[0][0]
            self.clock.seconds = now
            cycle = False
            while self._queue and self._queue[0][0] == now:
                _, kind, _, payload = heapq.heappop(self._queue)
                if kind == _Event.CYCLE:
                    cycle = True
                else:
                    self._apply(_Event(kind), payload)
            self.cluster.schedule()
            if cycle:
                self._cycle()
        self.clock.seconds = self._horizon
        self.cluster.finish()
        return self._result(time.perf_counter() - wall)

    def _cycle(self) -> None:
        self._cycles += 1
        try:
            report = self.reconciler.run_once(self.clock())
        except Exception as e:  # the daemon backs off on any failed cycle; count it and go on, as it would
            self._cycle_errors += 1
            self._first_cycle_error = self._first_cycle_error or f"{self.clock().isoformat()}: {type(e).__name__}: {e}"
        else:
            for error in report.launch_errors:
                self._launch_errors[error.split(":", 1)[0]] += 1
        for machine in self.cloud.take_launched():
            if machine.joins_at is not None:
                self._push(self._seconds(machine.joins_at), _Event.JOIN, machine.instance_id)
            if machine.interrupted_at is not None:
                self._push(self._seconds(machine.interrupted_at), _Event.NOTICE, machine.instance_id)
        for machine in self.cloud.take_ended():
            node = self._node_of.get(machine.instance_id)
            if node is not None:
                self.cluster.lose_node(node)
        self.cluster.schedule()
        self._sample()
        if self._progress is not None:
            self._progress(self.clock.seconds, self._served, len(self._arrived))

    def _apply(self, kind: _Event, payload: str) -> None:
        if kind is _Event.ARRIVE:
            arrival = self.scenario.arrivals[int(payload)]
            new = _Work(arrival, arrival.run_seconds, arrival.pod.key)
            self._arrived.append(new)
            self._create(new, arrival.pod)
        elif kind is _Event.FINISH:
            incarnation, key = payload.split("|", 1)
            work = self._works.get(key)
            if work is not None and str(work.incarnation) == incarnation and work.bound_at is not None:
                self.cluster.complete_pod(key)
        elif kind is _Event.JOIN:
            self._join(payload)
        elif kind is _Event.GPUS:
            node_name = self._node_of.get(payload)
            node = self.cluster.nodes.get(node_name or "")
            machine = self.cloud.machine(payload)
            if node is not None and machine is not None:
                self.cluster.set_allocatable(node.name, with_gpus(node, machine.offering.instance_type, self.config))
        elif kind is _Event.NOTICE:
            deadline = self.cloud.send_notice(payload)
            if deadline is not None:
                self._interruptions += 1
                if payload in self._node_of:
                    self.cluster.mark_interrupted(self._node_of[payload])
                self._push(self._seconds(deadline), _Event.RECLAIM, payload)
        elif kind is _Event.RECLAIM:
            machine = self.cloud.reclaim(payload)
            if machine is not None and payload in self._node_of:
                self.cluster.lose_node(self._node_of[payload])

    def _join(self, instance_id: str) -> None:
        machine = self.cloud.machine(instance_id)
        if machine is None or machine.ended_at is not None:
            return
        name = f"sim-node-{len(self._node_of) + 1:05d}"
        node = registered_node(
            name,
            machine.offering,
            provider_id=machine.provider_id,
            requested_labels=machine.labels,
            taints=machine.taints,
            config=self.config,
            at=self.clock(),
        )
        self._node_of[instance_id] = name
        self._machine_of[name] = machine
        self.cluster.register_node(node)
        if machine.gpus and machine.gpus_ready_at is not None:
            self._push(self._seconds(machine.gpus_ready_at), _Event.GPUS, instance_id)
        elif machine.gpus:
            self.cluster.set_allocatable(name, with_gpus(node, machine.offering.instance_type, self.config))
        if machine.interrupted_at is not None and machine.interrupted_at <= self.clock():
            self.cluster.mark_interrupted(name)

    def _create(self, work: _Work, template: Pod) -> None:
        pod = dataclasses.replace(
            template,
            uid=f"{template.namespace}/{template.name}",
            owners=(OwnerRef("Job", work.arrival.pod.name, controller=True),),
            created_at=self.clock(),
        )
        work.key = pod.key
        self._works[pod.key] = work
        self.cluster.create_pod(pod)

    def _start_static_nodes(self) -> None:
        catalog = self.cloud.catalog()
        for group in self.scenario.static_nodes:
            instance_type = group.type_on(catalog.cloud)
            if instance_type is None:
                continue  # this scenario has no such node group on this cloud
            offering = static_offering(catalog, instance_type)
            for i in range(group.count):
                name = f"{group.name}-{i}"
                node = registered_node(
                    name,
                    offering,
                    provider_id=f"static:///{name}",
                    requested_labels=group.labels,
                    taints=(),
                    config=self.config,
                    at=self.clock(),
                )
                self.cluster.register_node(node)
                self._static_cost += offering.price_usd_per_hour

    # ---- bookkeeping -------------------------------------------------------------------------------------

    def _push(self, at_seconds: float, kind: _Event, payload: str) -> None:
        heapq.heappush(self._queue, (at_seconds, int(kind), next(self._sequence), payload))

    def _seconds(self, at: datetime) -> float:
        return (at - self.clock.start).total_seconds()

    def _sample(self) -> None:
        nodes = self.cluster.nodes
        by_type: Counter[str] = Counter()
        for name, node in nodes.items():
            machine = self._machine_of.get(name)
            if machine is not None and owned(node):
                by_type[machine.offering.capacity_type.value] += 1
        live = [m for m in self.cloud.machines if m.ended_at is None]
        running = sum(1 for w in self._works.values() if w.bound_at is not None)
        self._samples.append(
            Sample(
                at_seconds=self.clock.seconds,
                pending_pods=len(self._works) - running,
                running_pods=running,
                nodes_on_demand=by_type[CapacityType.ON_DEMAND.value],
                nodes_spot=by_type[CapacityType.SPOT.value],
                launching=sum(1 for m in live if m.instance_id not in self._node_of),
                gpus=sum(m.gpus for m in live),
                cost_usd_per_hour=round(sum(m.price_usd_per_hour for m in live) + self._static_cost, 6),
            )
        )

    def _never_served_why(self) -> dict[str, int]:
        """For pods that never ran, the loop's own explanation: the last NotTriggerScaleUp Event on each."""
        latest: dict[str, str] = {}
        for event in self.cluster.events:
            if event.reason == "NotTriggerScaleUp" and event.about.kind == "Pod":
                latest[f"{event.about.namespace}/{event.about.name}"] = event.message
        waiting = (latest.get(w.key, "no NotTriggerScaleUp Event") for w in self._arrived if not w.served)
        return dict(Counter(waiting).most_common())

    def _result(self, wall_seconds: float) -> RunResult:
        return RunResult(
            label=self.label,
            started_at=self.clock.start,
            hours=self.scenario.hours,
            samples=tuple(self._samples),
            pending_seconds=tuple(self._pending_seconds),
            pods_arrived=len(self._arrived),
            pods_served=self._served,
            pods_completed=sum(1 for w in self._arrived if w.done),
            pods_never_served=sum(1 for w in self._arrived if not w.served),
            pods_disrupted=dict(self._disrupted),
            machines=tuple(self.cloud.machines),
            static_cost_usd_per_hour=self._static_cost,
            interruptions=self._interruptions,
            insufficient_capacity_errors=self.cloud.insufficient_capacity_errors,
            launch_errors=dict(self._launch_errors),
            cycles=self._cycles,
            cycle_errors=self._cycle_errors,
            first_cycle_error=self._first_cycle_error,
            violations=tuple(str(v) for v in self.cluster.violations),
            events=dict(Counter(e.reason for e in self.cluster.events)),
            never_served_why=self._never_served_why(),
            partial_gang_gpu_hours=self.cluster.partial_gangs.wasted_gpu_seconds / 3600,
            gang_wait_gpu_hours=self.cluster.partial_gangs.waited_gpu_seconds / 3600,
            wall_seconds=wall_seconds,
        )
