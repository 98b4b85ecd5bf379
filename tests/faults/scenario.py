"""Seeded, reproducible fault-injection scenarios for the reconcile loop at component level (issue 12).

One scenario: a fresh fake API server over HTTP, the real kube adapter in front of it, the fake provider behind
the `Cloud` seam and a fake clock (`tests.reconcile.world.World`). A random workload arrives and leaves while, at
every step, faults are drawn from the seed: API server 500/429/409 on some resource, slow responses, dropped
watches, 410 Expired (history compacted, then watches dropped), cloud throttling, insufficient capacity, spot
interruptions, the reconciler thrown away and rebuilt (a daemon restart), leadership moving to the other of two
replicas (tests/faults/replicas.py: each its own kube adapter and loop, one API server, one cloud) and API outages
longer than the staleness window. Then the faults stop and the world is given time to settle. Invariants are
checked after every cycle and at the end:

- limits: never more live instances than `maxNodes`;
- no double launch, across both replicas: nothing is launched while every pod that needs capacity (unbound, or on
  a node being reclaimed) is already carried by a live, uninterrupted launch that has not registered yet, whoever
  launched it (a pod may move to a new launch when new pods re-pack the in-flight ones; in a step not settled
  first, a launch only for pods that no longer needed capacity, deleted or bound just before, was planned on a
  cache a moment behind, not a double launch);
- honest health: during an API outage longer than the staleness window every replica's health (what its
  /healthz and /readyz answer) says unhealthy, and healthy again once the API server is back and a cycle ran;
- every cycle failure is one of the product's classified errors (a bare KeyError under faults is a bug);
- no eviction of a do-not-evict pod (except from a node whose spot instance is being reclaimed: it goes anyway),
  none that a PodDisruptionBudget refused, no pod deleted behind the Eviction API's back;
- at the end, every handled pod is bound to a node or carries an Event saying why not, and every live instance
  has a Node (no orphan survives garbage collection).

The same seed gives the same scenario: the faults (kind, target, status, count, step), the workload and the clock
are drawn from it, from two streams (faults, workload) that never depend on what the loop did; a choice among
what exists (which pod finishes, which instance is interrupted) takes a number drawn whatever exists.
`Outcome.summary()` is what repeats exactly. What the kube adapter's threads see in between is real concurrency
(the point of testing over HTTP): a fault good for N requests may be spent by a watch's relist or by the loop, so
how many cycles failed and exactly what was launched can differ between two runs of one seed.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from luna_autoscaler.backoff import Backoff
from luna_autoscaler.errors import LunaError
from luna_autoscaler.kube import CallPolicy, KubeCluster, KubeSettings, WatchSettings
from luna_autoscaler.models.pod import DO_NOT_EVICT
from luna_autoscaler.reconcile import CycleReport
from tests.faults.cloud import Cloud
from tests.faults.replicas import Replica
from tests.kubeapi import FakeApiServer, Fault
from tests.kubeapi import objects as k
from tests.reconcile.world import World

FAST = Backoff(initial_seconds=0.01, max_seconds=0.1)
KUBE = KubeSettings(
    watch=WatchSettings(page_size=100, watch_timeout_seconds=30, read_grace_seconds=5.0, backoff=FAST),
    calls=CallPolicy(timeout_seconds=5.0, attempts=2, backoff=FAST),
    instance="fault-suite",
)
MAX_NODES = 6
CONFIG = {
    "maxNodes": str(MAX_NODES),
    "defaultOfferings": "spot,on-demand",
    "scaleDown.nodeUnneededDuration": "2m",
    "scaleDown.delayAfterScaleUp": "0s",
    "registrationTimeout": "10m",
}
API_PATHS = {
    "pods": r"^/api/v1/(namespaces/[^/]+/)?pods",
    "nodes": r"^/api/v1/nodes",
    "events": r"/events",
    "evictions": r"/eviction$",
    "everything": r"^/api",
}
QUIET_STEPS = 25
OUTAGE_SECONDS = KUBE.stale_after_seconds + 5  # longer than the staleness window
OUTAGE_NOTICED_WITHIN_SECONDS = 20.0  # real time for the reflectors to see the outage (or its end)
FAULTS = (
    "5xx", "429", "409", "slow", "drop", "expired", "throttle", "ice", "exhaust", "spot", "restart", "leader", "outage"
)  # fmt: skip
GUARDED = {"app": "guarded"}  # pods a PodDisruptionBudget allows no disruption of


@dataclass
class Outcome:
    seed: int
    cycles: int = 0
    failed_cycles: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    schedule: list[str] = field(default_factory=list)  # every fault drawn, with its step and parameters
    undelivered: int = 0  # spot interruptions drawn when no instance was live to take them

    def summary(self) -> str:
        """What two runs of one seed print alike: the scenario (its fault schedule) and what it found."""
        digest = hashlib.sha256("\n".join(self.schedule).encode()).hexdigest()[:12]
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.faults.items()))
        return (
            f"seed {self.seed}: {self.cycles} cycles, {sum(self.faults.values())} faults (schedule {digest}: {kinds}), "
            f"{len(self.violations)} violations"
        )


class Scenario:
    def __init__(self, seed: int, server: FakeApiServer, *, steps: int) -> None:
        self.rng = random.Random(seed)  # the faults
        self.work = random.Random(f"workload {seed}")  # the pods
        self.server = server
        self.steps = steps
        self.step = 0
        # The adapters measure failing watches in real time, plus the length of every outage the scenario made
        # (the fake clock moves 5-45 s a step while a watch is re-opened in milliseconds: on the fake clock alone
        # every dropped watch would look like a long outage).
        self.outage_seconds = 0.0
        self.world = World(
            server,
            CONFIG,
            join_delay_seconds=60.0,
            kube_settings=KUBE,
            monotonic=lambda: time.monotonic() + self.outage_seconds,
        )
        self.replicas = (Replica(self.world, "a", self.world.cluster), Replica(self.world, "b"))
        self.leader = self.replicas[0]
        self.leader.leading = True
        self.cloud = Cloud(self.world.provider, self.world.catalog)
        self.outcome = Outcome(seed)
        self._pods = 0
        self._launched_for: dict[str, str] = {}  # pod key → instance id of the last launch that carried it
        self._protected: set[str] = set()  # do-not-evict pods
        self._guarded: set[str] = set()  # pods whose PodDisruptionBudget allows no disruption
        self._node_of: dict[str, str] = {}  # pod name → the node it was last seen bound to
        server.create(k.pdb("guarded", match_labels=GUARDED, disruptions_allowed=0))

    def run(self) -> Outcome:
        try:
            for step in range(self.steps):
                self.step = step
                self._arrivals(busy=step < self.steps // 2)
                self._inject()
                self._cycle(advance_seconds=self.rng.choice((5.0, 20.0, 45.0)), settle=False)
                self._kubernetes_moves()
            self.server.clear_faults()
            self.cloud.replenish_all()
            for _ in range(QUIET_STEPS):
                self._cycle(advance_seconds=30.0, settle=True)
                self._kubernetes_moves()
            self._final_checks()
        finally:
            self.world.close()
        return self.outcome

    # --- the workload and the parts of Kubernetes the loop does not do ------------------------------------------

    def _arrivals(self, *, busy: bool) -> None:
        rng = self.work
        for _ in range(rng.randint(0, 3 if busy else 1)):
            self._pods += 1
            name = f"p{self._pods:03d}"
            kind, size = rng.random(), rng.random()
            annotations = {DO_NOT_EVICT: "true"} if rng.random() < 0.2 else {}
            labels = GUARDED if rng.random() < 0.2 else {}
            if annotations:
                self._protected.add(name)
            if labels:
                self._guarded.add(name)
            if kind < 0.25:
                self.world.add_pod(name, gpus=1, cpu="2", memory="8Gi", annotations=annotations, labels=labels)
            elif kind < 0.3:
                self.world.add_pod(name, cpu="500", memory="1Gi")  # fits no type: must get a reason
            else:
                cpu = ("250m", "500m", "1", "2")[int(size * 4)]
                self.world.add_pod(name, cpu=cpu, memory="1Gi", annotations=annotations, labels=labels)
        finish, which = rng.random(), rng.random()  # drawn whatever runs, so the stream never depends on the loop
        running = sorted(p["metadata"]["name"] for p in self.server.list("Pod") if p["spec"].get("nodeName"))
        if running and finish < 0.3:
            self.world.finish(running[int(which * len(running))])

    def _kubernetes_moves(self) -> None:
        """The kubelet registers due instances and kube-scheduler binds what fits (in-process: never faulted)."""
        self.world.join()
        self.world.schedule()
        for p in self.server.list("Pod"):
            if p["spec"].get("nodeName"):
                self._node_of[p["metadata"]["name"]] = p["spec"]["nodeName"]

    # --- faults -------------------------------------------------------------------------------------------------

    def _inject(self) -> None:
        rng = self.rng
        if rng.random() < 0.5:
            self.server.clear_faults()
        for _ in range(rng.choice((0, 1, 1, 2))):
            what = self._apply(rng.choice(FAULTS))
            self.outcome.faults[what.split(" (")[0]] += 1
            self.outcome.schedule.append(f"{self.step}: {what}")

    def _apply(self, fault: str) -> str:
        """Inject one fault; what it was ("kind (parameters)"), from the fault stream alone."""
        rng, server = self.rng, self.server
        target = rng.choice(sorted(API_PATHS))
        times = rng.choice((1, 3, 10, None))
        if fault in ("5xx", "429"):
            status = rng.choice((500, 503)) if fault == "5xx" else 429
            server.inject(Fault(path=API_PATHS[target], status=status, times=times, retry_after_seconds=1))
            cut = rng.random() < 0.5
            if cut:  # open watches see no new request: cut them so the fault reaches the reflectors
                server.drop_watches()
            return f"apiserver {fault} on {target} ({status} x{times}{', watches cut' if cut else ''})"
        if fault == "409":
            resource = rng.choice(("pods", "nodes"))
            server.inject(Fault(path=API_PATHS[resource], status=409, method="PATCH", times=times))
            return f"apiserver 409 on PATCH ({resource} x{times})"
        if fault == "slow":
            n = rng.choice((1, 5))
            server.inject(Fault(path=API_PATHS[target], delay_seconds=0.05, times=n))
            return f"slow responses ({target} x{n})"
        if fault == "drop":
            server.drop_watches()
            return "dropped watches"
        if fault == "expired":
            server.compact()
            server.drop_watches()
            return "410 Expired"
        if fault == "throttle":
            return self.cloud.throttle()
        if fault == "ice":
            return self.cloud.insufficient_capacity_once(rng)
        if fault == "exhaust":
            return self.cloud.exhaust(rng)
        if fault == "spot":
            delivered = self.cloud.interrupt(rng.random())
            self.outcome.undelivered += not delivered
            return "spot interruption"
        if fault == "leader":
            self.leader.leading = False
            self.leader = next(r for r in self.replicas if r is not self.leader)
            self.leader.leading = True
            return f"leader change (to {self.leader.name})"
        if fault == "outage":
            self._outage()
            return "api outage past the staleness window"
        self.leader.restart()
        return f"restart ({self.leader.name})"

    def _outage(self) -> None:
        """Every request 503 and every watch cut for longer than the staleness window: each replica's health must
        say so while it lasts, and be healthy again once the API server is back and a cycle ran."""
        self.server.inject(Fault(path=API_PATHS["everything"], status=503, times=None))
        # cut again while waiting: a watch whose request got past the fault just before it was injected would
        # otherwise stream on through the "outage"
        if not self._wait_for(lambda c: {"pods", "nodes"} <= set(c.problems()), each=self.server.drop_watches):
            self._violation("the kube adapter did not notice a total API outage")
        self.outage_seconds += OUTAGE_SECONDS
        self._cycle(advance_seconds=OUTAGE_SECONDS, settle=False)
        for r in self.replicas:
            for probe, (ok, why) in (("healthz", r.health.healthy()), ("readyz", r.health.ready())):
                if ok:
                    self._violation(f"replica {r.name} /{probe} ok {OUTAGE_SECONDS:.0f}s into an API outage ({why})")
        self.server.clear_faults()
        if not self._wait_for(lambda c: not c.problems()):
            self._violation("the kube adapter did not recover from an API outage")
        self._cycle(advance_seconds=5.0, settle=True)
        for r in self.replicas:
            for probe, (ok, why) in (("healthz", r.health.healthy()), ("readyz", r.health.ready())):
                if not ok:
                    self._violation(f"replica {r.name} /{probe} still unhealthy after the API outage: {why}")

    def _wait_for(self, condition: Callable[[KubeCluster], bool], each: Callable[[], object] = lambda: None) -> bool:
        """Real time, bounded: the adapters' watch threads see the server change as they would in production."""
        deadline = time.monotonic() + OUTAGE_NOTICED_WITHIN_SECONDS
        while True:
            each()
            if all(condition(r.cluster) for r in self.replicas):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)

    # --- the loop and the invariants ----------------------------------------------------------------------------

    def _cycle(self, *, advance_seconds: float, settle: bool) -> None:
        self.outcome.cycles += 1
        self.world.clock.advance(advance_seconds)
        reclaimed = self._reclaimed_nodes()
        pods = self.server.list("Pod")
        pending = {  # what needs capacity: unbound pods, and those on nodes whose spot instance is reclaimed
            f"{p['metadata']['namespace']}/{p['metadata']['name']}"
            for p in pods
            if p["spec"].get("nodeName") in (None, *reclaimed)
        }
        if settle:
            self.world.settle(cluster=self.leader.cluster)
        report, error = self.leader.step()
        for standby in self.replicas:
            if standby is not self.leader:
                standby.step()
        if error is not None:
            self.outcome.failed_cycles += 1
            if not isinstance(error, LunaError):
                self._violation(f"unclassified error in a cycle: {type(error).__name__}: {error}")
        elif report is not None:
            self._check_launches(report, pending, settled=settle)
        live = self.cloud.live()
        if len(live) > MAX_NODES:
            self._violation(f"{len(live)} live instances, over maxNodes {MAX_NODES}")

    def _check_launches(self, report: CycleReport, pending: set[str], *, settled: bool) -> None:
        live = self.cloud.live()
        registered = {n["spec"].get("providerID") for n in self.server.list("Node")}
        in_flight = {
            instance_id
            for instance_id, provider_id in live.items()
            if provider_id not in registered and instance_id not in self.cloud.interrupted
        }
        carried = {pod for pod, instance_id in self._launched_for.items() if instance_id in in_flight}
        # In a cycle not settled first the cache may be a moment behind the server (watches lag, as in
        # production): a launch only for pods that no longer needed capacity (deleted, or bound since) was
        # planned on that view, not launched twice; it is judged once one of its pods still needed capacity.
        judged = [launch for launch in report.launched if settled or set(launch.pods) & pending]
        if judged and pending <= carried:
            launches = ", ".join(f"{launch.instance_id} for {','.join(launch.pods)}" for launch in judged)
            self._violation(
                f"double launch: {launches} while in-flight launches carry every pending pod (step {self.step}, "
                f"leader {self.leader.name}, {'settled' if settled else 'unsettled'}, pending {sorted(pending)}, "
                f"carried {sorted(carried)})"
            )
        for launch in report.launched:
            for pod in launch.pods:
                self._launched_for[pod] = launch.instance_id

    def _final_checks(self) -> None:
        self._check_evictions()
        pods = self.server.list("Pod")
        reasons = {
            name for reason in ("NotTriggerScaleUp", "InvalidAnnotation") for name, _ in self.world.events(reason)
        }
        for p in pods:
            name = p["metadata"]["name"]
            if not p["spec"].get("nodeName") and name not in reasons:
                self._violation(f"pod {name} neither got capacity nor a reason")
        registered = {n["spec"].get("providerID") for n in self.server.list("Node")}
        for instance_id, provider_id in self.cloud.live().items():
            if provider_id not in registered:
                self._violation(f"instance {instance_id} has no Node and survived garbage collection")

    def _check_evictions(self) -> None:
        reclaimed = self._reclaimed_nodes()
        for r in self.server.requests:
            if (
                r.resource == "pods/eviction"
                and r.name in self._protected
                and self._node_of.get(r.name) not in reclaimed
            ):
                self._violation(f"eviction of do-not-evict pod {r.name} (HTTP {r.status})")
            if r.resource == "pods/eviction" and r.status < 300 and r.name in self._guarded:
                self._violation(f"eviction of {r.name} beyond its PodDisruptionBudget")
            if r.resource == "pods" and r.method == "DELETE":
                self._violation(f"pod {r.name} deleted, not evicted")

    def _reclaimed_nodes(self) -> set[str]:
        return {f"ip-{instance_id}" for instance_id in self.cloud.interrupted}  # World.join's node names

    def _violation(self, what: str) -> None:
        self.outcome.violations.append(f"seed {self.outcome.seed}: {what}")


def run_scenario(seed: int, *, steps: int = 12) -> Outcome:
    with FakeApiServer() as server:
        return Scenario(seed, server, steps=steps).run()
