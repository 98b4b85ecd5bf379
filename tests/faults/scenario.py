"""Seeded, reproducible fault-injection scenarios for the reconcile loop at component level (issue 12).

One scenario: a fresh fake API server over HTTP, the real kube adapter in front of it, the fake provider behind
the `Cloud` seam and a fake clock (`tests.reconcile.world.World`). A random workload arrives and leaves while, at
every step, faults are drawn from the seed: API server 500/429/409 on some resource, slow responses, dropped
watches, 410 Expired (history compacted, then watches dropped), cloud throttling, insufficient capacity, spot
interruptions, and the reconciler thrown away and rebuilt (a daemon restart). Then the faults stop and the world
is given time to settle. Invariants are checked after every cycle and at the end:

- limits: never more live instances than `maxNodes`;
- no double launch: nothing is launched while every pod that needs capacity (unbound, or on a node being
  reclaimed) is already carried by a live, uninterrupted launch that has not registered yet (a pod may move to
  a new launch when new pods re-pack the in-flight ones);
- every cycle failure is one of the product's classified errors (a bare KeyError under faults is a bug);
- no eviction of a do-not-evict pod (except from a node whose spot instance is being reclaimed: it goes anyway),
  none that a PodDisruptionBudget refused, no pod deleted behind the Eviction API's back;
- at the end, every handled pod is bound to a node or carries an Event saying why not, and every live instance
  has a Node (no orphan survives garbage collection).

The same seed gives the same scenario: the faults, the workload and the clock are drawn from it (what the
threads of the kube adapter see in between is real concurrency, which is the point of testing over HTTP).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from luna_autoscaler.backoff import Backoff
from luna_autoscaler.errors import LunaError
from luna_autoscaler.kube import CallPolicy, KubeSettings, WatchSettings
from luna_autoscaler.models.pod import DO_NOT_EVICT
from luna_autoscaler.reconcile import CycleReport
from tests.faults.cloud import Cloud
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
GUARDED = {"app": "guarded"}  # pods a PodDisruptionBudget allows no disruption of


@dataclass
class Outcome:
    seed: int
    cycles: int = 0
    failed_cycles: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)


class Scenario:
    def __init__(self, seed: int, server: FakeApiServer, *, steps: int) -> None:
        self.rng = random.Random(seed)
        self.server = server
        self.steps = steps
        self.world = World(server, CONFIG, join_delay_seconds=60.0, kube_settings=KUBE)
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
        for _ in range(self.rng.randint(0, 3 if busy else 1)):
            self._pods += 1
            name = f"p{self._pods:03d}"
            kind = self.rng.random()
            annotations = {DO_NOT_EVICT: "true"} if self.rng.random() < 0.2 else {}
            labels = GUARDED if self.rng.random() < 0.2 else {}
            if annotations:
                self._protected.add(name)
            if labels:
                self._guarded.add(name)
            if kind < 0.25:
                self.world.add_pod(name, gpus=1, cpu="2", memory="8Gi", annotations=annotations, labels=labels)
            elif kind < 0.3:
                self.world.add_pod(name, cpu="500", memory="1Gi")  # fits no type: must get a reason
            else:
                cpu = self.rng.choice(("250m", "500m", "1", "2"))
                self.world.add_pod(name, cpu=cpu, memory="1Gi", annotations=annotations, labels=labels)
        running = [p["metadata"]["name"] for p in self.server.list("Pod") if p["spec"].get("nodeName")]
        if running and self.rng.random() < 0.3:
            self.world.finish(self.rng.choice(sorted(running)))

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
            fault = rng.choice(
                ("5xx", "429", "409", "slow", "drop", "expired", "throttle", "ice", "exhaust", "spot", "restart")
            )
            what = self._apply(fault)
            if what is not None:
                self.outcome.faults[what] += 1

    def _apply(self, fault: str) -> str | None:
        rng, server = self.rng, self.server
        target = rng.choice(sorted(API_PATHS))
        times = rng.choice((1, 3, 10, None))
        if fault in ("5xx", "429"):
            status = rng.choice((500, 503)) if fault == "5xx" else 429
            server.inject(Fault(path=API_PATHS[target], status=status, times=times, retry_after_seconds=1))
            if rng.random() < 0.5:  # open watches see no new request: cut them so the fault reaches the reflectors
                server.drop_watches()
            return f"apiserver {fault} on {target}"
        if fault == "409":
            server.inject(Fault(path=API_PATHS[rng.choice(("pods", "nodes"))], status=409, method="PATCH", times=times))
            return "apiserver 409 on PATCH"
        if fault == "slow":
            server.inject(Fault(path=API_PATHS[target], delay_seconds=0.05, times=rng.choice((1, 5))))
            return "slow responses"
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
            return self.cloud.interrupt(rng)
        self.world.reconciler = self.world.new_reconciler()
        return "restart"

    # --- the loop and the invariants ----------------------------------------------------------------------------

    def _cycle(self, *, advance_seconds: float, settle: bool) -> None:
        self.outcome.cycles += 1
        self.world.clock.advance(advance_seconds)
        reclaimed = self._reclaimed_nodes()
        pending = {  # what needs capacity: unbound pods, and those on nodes whose spot instance is reclaimed
            f"{p['metadata']['namespace']}/{p['metadata']['name']}"
            for p in self.server.list("Pod")
            if p["spec"].get("nodeName") in (None, *reclaimed)
        }
        try:
            if settle:
                self.world.settle()
            report = self.world.reconciler.run_once(self.world.clock())
        except LunaError:
            self.outcome.failed_cycles += 1
        except Exception as e:
            self.outcome.failed_cycles += 1
            self._violation(f"unclassified error in a cycle: {type(e).__name__}: {e}")
        else:
            self._check_launches(report, pending)
        live = self.cloud.live()
        if len(live) > MAX_NODES:
            self._violation(f"{len(live)} live instances, over maxNodes {MAX_NODES}")

    def _check_launches(self, report: CycleReport, pending: set[str]) -> None:
        live = self.cloud.live()
        registered = {n["spec"].get("providerID") for n in self.server.list("Node")}
        in_flight = {
            instance_id
            for instance_id, provider_id in live.items()
            if provider_id not in registered and instance_id not in self.cloud.interrupted
        }
        carried = {pod for pod, instance_id in self._launched_for.items() if instance_id in in_flight}
        if report.launched and pending <= carried:
            launches = ", ".join(f"{launch.instance_id} for {','.join(launch.pods)}" for launch in report.launched)
            self._violation(f"double launch: {launches} while in-flight launches carry every pending pod")
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
