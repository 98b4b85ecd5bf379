"""A small world for the reconcile loop's component tests: the fake API server over HTTP, the real kube adapter
(`KubeCluster`, watch-fed cache) in front of it, the in-memory fake provider, and a fake clock.

The test plays the parts of Kubernetes the loop relies on but does not do itself: the scheduler (`schedule`
binds pending pods that fit, with the simulation's kube-scheduler rules), the kubelet (`join` registers a Node
for each instance whose join delay has passed, as the cloud's bootstrap would, with the labels and taints the
launch asked for; GPUs can be reported late) and pod admission (GPU pods tolerate the GPU taint, as the
ExtendedResourceToleration plugin does). `cycle()` waits until the adapter's cache has seen every change made
so far (a bounded wait on the real watch streams), then runs one reconcile cycle at the fake clock's time.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from luna_autoscaler.config import Config
from luna_autoscaler.kube import KubeCluster, KubeSettings
from luna_autoscaler.kube.registration import node_object
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import Catalog
from luna_autoscaler.models.manifest import node_from_manifest, pod_from_manifest
from luna_autoscaler.models.resources import ZERO
from luna_autoscaler.observability.metrics import Metrics
from luna_autoscaler.ports import Instance, LaunchRequest
from luna_autoscaler.reconcile import CycleReport, Reconciler
from luna_autoscaler.simulation.kubelet import registered_node, with_gpus
from luna_autoscaler.simulation.scheduler import Scoring, choose_node
from pricing.catalog import load_catalog
from providers.fake import FakeProvider
from tests.kubeapi import FakeApiServer
from tests.kubeapi import objects as k

CONFIG_NAMESPACE = "luna-autoscaler"
CONFIG_NAME = "luna-autoscaler-config"
CLUSTER = "test"
HANDLED = {"elotl-luna": "true"}
# A few real AWS types (bundled us-east-1 prices) keep plans fast and their answers easy to check by hand.
TYPES = (
    "t3a.medium",
    "t3a.xlarge",
    "m5.large",
    "m5.2xlarge",
    "g4dn.xlarge",
    "g5.xlarge",
    "g4dn.12xlarge",
    "g5.48xlarge",  # 8 GPUs: what multi-node training gangs ask for
)
ZONES = ("us-east-1a", "us-east-1b")
WORKLOAD_KINDS = (
    ("PodGroup", "scheduling.run.ai/v2alpha2"),
    ("PodGroup", "scheduling.x-k8s.io/v1alpha1"),
    ("PodGroup", "scheduling.volcano.sh/v1beta1"),
    ("Queue", "scheduling.run.ai/v2"),
    ("ClusterQueue", "kueue.x-k8s.io/v1beta1"),
    ("LocalQueue", "kueue.x-k8s.io/v1beta1"),
    ("PodTemplate", "v1"),
    ("ProvisioningRequest", "autoscaling.x-k8s.io/v1"),
)
INVALID_KIND = {
    "podgroups.scheduling.run.ai": "PodGroup",
    "podgroups.scheduling.x-k8s.io": "PodGroup",
    "podgroups.scheduling.volcano.sh": "PodGroup",
    "queues.scheduling.run.ai": "Queue",
    "clusterqueues.kueue.x-k8s.io": "ClusterQueue",
    "localqueues.kueue.x-k8s.io": "LocalQueue",
    "provisioningrequests.autoscaling.x-k8s.io": "ProvisioningRequest",
    "podtemplates": "PodTemplate",
}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def small_catalog() -> Catalog:
    full = load_catalog("aws", "us-east-1")
    kept = tuple(o for o in full.offerings if o.instance_type.name in TYPES and o.zone in ZONES)
    return Catalog(full.cloud, full.region, kept, full.provenance)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class World:
    def __init__(
        self,
        server: FakeApiServer,
        config: Mapping[str, str],
        *,
        join_delay_seconds: float = 60.0,
        kube_settings: KubeSettings | None = None,
        pool_shaped: bool = False,
        catalog: Catalog | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        """`monotonic`: the clock on which the adapter measures how long its watches have been failing (default:
        real time), so that a test can make an outage last longer than it really does."""
        self.server = server
        # Starts at the real time: the fake API server stamps objects (creationTimestamp) with it.
        self.clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
        self.catalog = catalog or small_catalog()
        server.create(k.configmap(CONFIG_NAME, CONFIG_NAMESPACE, {"batching.idleDuration": "0s", **config}))
        self.api = server.client()
        self._kube_settings = dataclasses.replace(
            kube_settings or KubeSettings(), config_map_name=CONFIG_NAME, config_map_namespace=CONFIG_NAMESPACE
        )
        self._monotonic = monotonic
        self._clusters: list[KubeCluster] = []
        self.cluster = self.new_cluster()
        self.provider = FakeProvider(
            self.catalog,
            self.clock,
            cluster_name=CLUSTER,
            join_delay_seconds=join_delay_seconds,
            pool_shaped=pool_shaped,
        )
        self._launch_numbers = itertools.count(1)
        self.reconciler = self.new_reconciler()

    def close(self) -> None:
        for cluster in self._clusters:
            cluster.stop()
        self.api.close()

    def new_cluster(self, leading: Callable[[], bool] = lambda: True) -> KubeCluster:
        """Another replica's kube adapter on the same API server (its own cache and watches), synced."""
        options: dict[str, Any] = {"monotonic": self._monotonic} if self._monotonic is not None else {}
        cluster = KubeCluster(self.api, self._kube_settings, clock=self.clock, leading=leading, **options).start()
        self._clusters.append(cluster)
        assert cluster.wait_for_sync(10), "the kube adapter did not sync with the fake API server"
        return cluster

    def new_reconciler(self, **options: Any) -> Reconciler:
        """A fresh Reconciler (a restarted daemon): only the cluster and the provider remember anything."""
        cluster = options.pop("cluster", self.cluster)
        return Reconciler(
            cluster,
            options.pop("provider", self.provider),
            clock=self.clock,
            cluster_name=CLUSTER,
            metrics=Metrics(),
            batching=options.pop("batching", False),
            launch_ids=lambda: f"launch-{next(self._launch_numbers):03d}",
            workloads=options.pop("workloads", cluster),
            **options,
        )

    @property
    def config(self) -> Config:
        config = self.cluster.config()
        assert config is not None
        return config

    # --- the world's moves ------------------------------------------------------------------------------------

    def add_pod(self, name: str, *, gpus: int = 0, handled: bool = True, **kw: Any) -> None:
        labels = {**(HANDLED if handled else {}), **kw.pop("labels", {})}
        obj = k.pod(name, gpus=gpus, labels=labels, unschedulable=not kw.get("scheduling_gates"), **kw)
        if gpus:
            obj["spec"]["tolerations"].append(GPU_TOLERATION)
        self.server.create(obj)

    def add_node(
        self, name: str, *, owned: bool = True, cpu: str = "8", memory: str = "32Gi", bin_kind: str = "pack"
    ) -> None:
        """A Ready node that was there before this test's loop: ours (managed-by label, a fake provider id), or
        someone else's."""
        labels = {lbl.INSTANCE_TYPE: "m5.2xlarge", lbl.ZONE: ZONES[0], lbl.CAPACITY_TYPE: "on-demand"}
        if owned:
            labels |= {lbl.MANAGED_BY: lbl.MANAGED_BY_VALUE, lbl.BIN_KIND: bin_kind}
        self.server.create(
            k.node(name, cpu=cpu, memory=memory, labels=labels, provider_id=f"fake://i-{name}" if owned else "")
        )

    def add_running_pod(self, name: str, node: str, **kw: Any) -> None:
        self.server.create(k.pod(name, node_name=node, labels={**HANDLED, **kw.pop("labels", {})}, **kw))

    def launch_request(self, instance: Instance) -> LaunchRequest:
        return next(
            c.args[0]
            for c in self.provider.calls
            if c.method == "launch"
            and isinstance(c.args[0], LaunchRequest)
            and c.args[0].launch_id == instance.launch_id
        )

    def join(self, *, gpus_ready: bool = True) -> list[str]:
        """Register a Node for every instance due to join (Ready; GPUs allocatable unless `gpus_ready=False`)."""
        names = []
        for instance in self.provider.due_to_join(self.clock()):
            request = self.launch_request(instance)
            offering = next(o for o in request.offerings if o.ref == instance.offering)
            name = f"ip-{instance.instance_id}"
            node = registered_node(
                name,
                offering,
                provider_id=instance.provider_id,
                requested_labels=request.labels,
                taints=request.taints,
                config=self.config,
                at=self.clock(),
            )
            if gpus_ready:
                node = dataclasses.replace(node, allocatable=with_gpus(node, offering.instance_type, self.config))
            self.server.create(node_object(node))
            names.append(name)
        return names

    def report_gpus(self, node_name: str) -> None:
        """The device plugin started on `node_name`: its GPUs become allocatable."""
        node = node_from_manifest(self.server.get("Node", node_name))
        it = self.catalog.instance_types[self.catalog.type_of(node.labels)]
        allocatable = with_gpus(node, it, self.config)
        self.server.patch("Node", node_name, {"status": {"allocatable": allocatable.as_quantities()}})

    def schedule(self) -> dict[str, str]:
        """kube-scheduler: bind every pending pod that fits somewhere; returns pod → node."""
        nodes = [node_from_manifest(n) for n in self.server.list("Node")]
        pods = [pod_from_manifest(p) for p in self.server.list("Pod")]
        used = {n.name: ZERO for n in nodes}
        for p in pods:
            if p.node_name in used and not p.terminal:
                used[p.node_name] = used[p.node_name] + p.requests
        bound = {}
        for pod in sorted((p for p in pods if not p.node_name and not p.scheduling_gates), key=lambda p: p.key):
            node = choose_node(pod, ((n, used[n.name]) for n in nodes), Scoring.LEAST_ALLOCATED)
            if node is None:
                continue
            used[node.name] = used[node.name] + pod.requests
            self.server.patch(
                "Pod",
                pod.name,
                {
                    "spec": {"nodeName": node.name},
                    "status": {"phase": "Running", "conditions": [{"type": "PodScheduled", "status": "True"}]},
                },
                namespace=pod.namespace,
            )
            bound[pod.key] = node.name
        return bound

    def finish(self, pod_name: str, namespace: str = "default") -> None:
        self.server.delete("Pod", pod_name, namespace=namespace)

    # --- the loop ---------------------------------------------------------------------------------------------

    def settle(self, timeout_seconds: float = 10.0, cluster: KubeCluster | None = None) -> None:
        """Wait until the adapter's cache holds exactly the server's pods and nodes (same resourceVersions)."""
        cluster = cluster or self.cluster
        deadline = time.monotonic() + timeout_seconds
        while True:
            expected = (
                {
                    (f"{p['metadata']['namespace']}/{p['metadata']['name']}", p["metadata"]["resourceVersion"])
                    for p in self.server.list("Pod")
                    if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
                },
                {(n["metadata"]["name"], n["metadata"]["resourceVersion"]) for n in self.server.list("Node")},
            )
            generation = cluster.cache.generation
            snapshot = cluster.snapshot()
            seen = (
                {(p.key, p.resource_version) for p in snapshot.pods},
                {(n.name, n.resource_version) for n in snapshot.nodes},
            )
            expected += (self._server_workloads(),)
            seen += (self._cached_workloads(cluster),)
            if seen == expected:
                return
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"the cache did not catch up with the server: {seen} != {expected}"
            cluster.wait_for_change(generation, remaining)

    def _server_workloads(self) -> set[tuple[str, str, int]]:
        """(kind, namespace/name, number of status conditions) of the gang and queue objects in the server."""
        out = set()
        for kind, api_version in WORKLOAD_KINDS:
            for obj in self.server.list(kind, api_version=api_version):
                meta = obj["metadata"]
                conditions = len((obj.get("status") or {}).get("conditions") or ())
                out.add((kind, f"{meta.get('namespace', '')}/{meta['name']}", conditions))
        return out

    def _cached_workloads(self, cluster: KubeCluster) -> set[tuple[str, str, int]]:
        w = cluster.workloads()
        return (
            {("PodGroup", f"{g.namespace}/{g.name}", 0) for g in w.pod_groups}
            | {("Queue", f"/{q.name}", 0) for q in w.queues}
            | {("ClusterQueue", f"/{q.name}", 0) for q in w.cluster_queues}
            | {("LocalQueue", q.key, 0) for q in w.local_queues}
            | {("PodTemplate", f"{t.namespace}/{t.name}", 0) for t in w.pod_templates}
            | {("ProvisioningRequest", r.key, len(r.conditions)) for r in w.provisioning_requests}
            | {
                (INVALID_KIND[key.split(" ")[0]], key.split(" ")[1], 0)
                for key in cluster.workload_stores.invalid_objects()
            }
        )

    def cycle(self, advance_seconds: float = 0.0, reconciler: Reconciler | None = None) -> CycleReport:
        self.clock.advance(advance_seconds)
        self.settle()
        return (reconciler or self.reconciler).run_once(self.clock())

    # --- what tests look at -----------------------------------------------------------------------------------

    def events(self, reason: str) -> list[tuple[str, str]]:
        """(object name, message) of the Events with this reason, either Event API."""
        out = []
        for e in self.server.list("Event", api_version="events.k8s.io/v1"):
            if e.get("reason") == reason:
                out.append((e["regarding"]["name"], e.get("note", "")))
        for e in self.server.list("Event", api_version="v1"):
            if e.get("reason") == reason:
                out.append((e["involvedObject"]["name"], e.get("message", "")))
        return out

    def node_names(self) -> set[str]:
        return {n["metadata"]["name"] for n in self.server.list("Node")}

    def live_instances(self) -> Sequence[Instance]:
        return self.provider.list_instances()

    def launches(self) -> list[LaunchRequest]:
        return [c.args[0] for c in self.provider.calls if c.method == "launch" and isinstance(c.args[0], LaunchRequest)]

    def terminated(self) -> list[str]:
        return [str(c.args[0]) for c in self.provider.calls if c.method == "terminate"]
