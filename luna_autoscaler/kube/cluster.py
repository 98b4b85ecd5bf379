"""`KubeCluster`: the `Cluster` port on a real API server (the cache, node operations, evictions, Events, config).

Reading is from the watch-fed cache (never a list per cycle); writing is a direct, retried API call:
- labels: a strategic-merge patch of metadata.labels (merging maps cannot conflict);
- taints: read-modify-write of spec.taints with the node's resourceVersion as precondition, retried on 409,
  because a taint list is replaced whole by any patch and another controller may be changing it;
- cordon: a merge patch of spec.unschedulable;
- evictions through the Eviction API with the pod's uid as precondition (a replacement pod of the same name is
  never evicted by mistake): 201 → EVICTED, 429 → BLOCKED (a PDB says not now), 404/409 → GONE;
- deleting a Node that is already gone counts as success.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import structlog
from kubernetes import client as k8s

from luna_autoscaler.config import Config
from luna_autoscaler.kube.cache import CacheStale, ClusterCache, NotSynced
from luna_autoscaler.kube.clock import Sleeper, utc_now
from luna_autoscaler.kube.config_source import (
    CONFIG_INVALID,
    DEFAULT_CONFIGMAP_NAME,
    DEFAULT_CONFIGMAP_NAMESPACE,
    ConfigSource,
)
from luna_autoscaler.kube.events import EventRecorder
from luna_autoscaler.kube.metrics import EVICTIONS
from luna_autoscaler.kube.reflector import Reflector, WatchSettings
from luna_autoscaler.kube.registration import NodeObjects
from luna_autoscaler.kube.rest import CallPolicy, KubeApiError, Rest
from luna_autoscaler.kube.workloads import WorkloadStores
from luna_autoscaler.models.pod import Pod
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.models.workloads import Condition, ProvisioningRequest, Workloads
from luna_autoscaler.ports import Clock, ClusterSnapshot, EvictionOutcome, ObjectRef

log = structlog.get_logger("luna_autoscaler.kube")

STRATEGIC_MERGE = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
# Terminal pods hold no resources and cannot be evicted: leave them out of the watch (as cluster-autoscaler does).
LIVE_PODS = "status.phase!=Succeeded,status.phase!=Failed"


@dataclass(frozen=True, slots=True)
class KubeSettings:
    config_map_name: str = DEFAULT_CONFIGMAP_NAME
    config_map_namespace: str = DEFAULT_CONFIGMAP_NAMESPACE
    watch: WatchSettings = field(default_factory=WatchSettings)
    calls: CallPolicy = field(default_factory=CallPolicy)
    component: str = "luna-autoscaler"  # Events' reportingController / source.component
    instance: str = field(default_factory=socket.gethostname)  # Events' reportingInstance: the pod name in-cluster
    event_dedupe_seconds: float = 600.0
    conflict_attempts: int = 5  # read-modify-write retries on 409 (taints)
    # A resource whose every list and watch has failed this long makes the cache stale: cycles fail and /healthz
    # and /readyz say so, rather than acting on (and reporting healthy from) a view of the past.
    stale_after_seconds: float = 30.0


class KubeCluster:
    """Implements `luna_autoscaler.ports.Cluster`. Call start(), then wait_for_sync() before the first snapshot."""

    def __init__(
        self,
        api_client: k8s.ApiClient,
        settings: KubeSettings | None = None,
        *,
        clock: Clock = utc_now,
        sleep: Sleeper | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        leading: Callable[[], bool] = lambda: True,
    ) -> None:
        """`leading()` says whether this replica holds the lease: only the leader posts ConfigInvalid Events, so one
        bad update gives one Event however many replicas watch the ConfigMap."""
        self.settings = settings or KubeSettings()
        self._leading = leading
        self._config_report_lock = threading.Lock()
        self._config_report: tuple[ObjectRef, str] | None = None
        self._stopping = threading.Event()
        self.rest = Rest(api_client, policy=self.settings.calls, sleep=sleep or self._stopping.wait)
        self._node_objects = NodeObjects(self.rest)
        self.cache = ClusterCache()
        self.events = EventRecorder(
            self.rest,
            component=self.settings.component,
            instance=self.settings.instance,
            clock=clock,
            dedupe_seconds=self.settings.event_dedupe_seconds,
        )
        self.config_source = ConfigSource(
            self.settings.config_map_name,
            self.settings.config_map_namespace,
            report=self._config_invalid,
        )
        rest, cache, watch = self.rest, self.cache, self.settings.watch
        self.workload_stores = WorkloadStores(rest, cache, watch)
        reflector = functools.partial(Reflector, rest=rest, settings=watch, monotonic=monotonic)
        self.reflectors = (
            reflector(
                "pods",
                list_call=rest.core.list_pod_for_all_namespaces,
                sink=cache.pods,
                list_kwargs={"field_selector": LIVE_PODS},
            ),
            reflector("nodes", list_call=rest.core.list_node, sink=cache.nodes),
            reflector("daemonsets", list_call=rest.apps.list_daemon_set_for_all_namespaces, sink=cache.daemonsets),
            reflector(
                "poddisruptionbudgets",
                list_call=rest.policy_v1.list_pod_disruption_budget_for_all_namespaces,
                sink=cache.pdbs,
            ),
            reflector(
                "configmaps",
                list_call=rest.core.list_namespaced_config_map,
                sink=self.config_source,
                list_args=(self.settings.config_map_namespace,),
                list_kwargs={"field_selector": f"metadata.name={self.settings.config_map_name}"},
            ),
            *self.workload_stores.reflectors,
        )

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> KubeCluster:
        for reflector in self.reflectors:
            reflector.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for reflector in self.reflectors:
            reflector.stop()

    def __enter__(self) -> KubeCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def wait_for_sync(self, timeout_seconds: float) -> bool:
        """Block until every resource has been listed once (True), or the timeout (False)."""
        deadline = time.monotonic() + timeout_seconds
        return all(r.synced.wait(max(0.0, deadline - time.monotonic())) for r in self.reflectors)

    @property
    def synced(self) -> bool:
        return all(r.synced.is_set() for r in self.reflectors)

    def problems(self) -> Mapping[str, str]:
        """Resources whose watch is failing now → the last error (empty: all healthy), for /healthz."""
        return {r.resource: r.last_error for r in self.reflectors if r.last_error}

    def staleness(self) -> str | None:
        """Why the cache is stale (a resource not refreshed for longer than `stale_after_seconds`), or None."""
        limit = self.settings.stale_after_seconds
        stale = [(r, r.failing_for_seconds()) for r in self.reflectors]
        stale = [(r, age) for r, age in stale if age > limit]
        if not stale:
            return None
        detail = "; ".join(f"{r.resource} for {age:.0f}s ({r.last_error})" for r, age in stale)
        return f"cluster cache not refreshed (limit {limit:.0f}s): no successful list or watch of {detail}"

    # -- reading ------------------------------------------------------------------------------------------------

    def snapshot(self) -> ClusterSnapshot:
        if not self.synced:
            missing = ", ".join(r.resource for r in self.reflectors if not r.synced.is_set())
            raise NotSynced(f"the cluster cache has not listed {missing} yet")
        if (why := self.staleness()) is not None:
            raise CacheStale(why)
        return self.cache.snapshot()

    def config(self) -> Config | None:
        """The last good configuration; the leader reads it every cycle and posts any ConfigInvalid still owed."""
        self._post_config_report()
        return self.config_source.config()

    def _config_invalid(self, about: ObjectRef, message: str) -> None:
        with self._config_report_lock:
            self._config_report = (about, message)
        self._post_config_report()

    def _post_config_report(self) -> None:
        """Post the pending ConfigInvalid Event if this replica leads and the problem still stands."""
        if not self._leading():
            return
        with self._config_report_lock:
            report, self._config_report = self._config_report, None
        if report is None or self.config_source.problem() is None:
            return
        try:
            self.events.post(report[0], CONFIG_INVALID, report[1], warning=True)
        except KubeApiError:  # logged by the recorder; owed still: the next cycle tries again
            with self._config_report_lock:
                self._config_report = self._config_report or report

    def config_problem(self) -> str | None:
        return self.config_source.problem()

    def wait_for_change(self, after_generation: int, timeout_seconds: float) -> int:
        """Sleep until the cache changes after `after_generation` (see cache.generation) or the timeout."""
        return self.cache.wait_for_change(after_generation, timeout_seconds)

    # -- writing ------------------------------------------------------------------------------------------------

    def _patch_node(self, what: str, name: str, body: Mapping[str, Any], content_type: str) -> None:
        self.rest.call(what, self.rest.core.patch_node, name, body, _content_type=content_type)

    def label_node(self, node_name: str, labels: Mapping[str, str]) -> None:
        self._patch_node(f"label node {node_name}", node_name, {"metadata": {"labels": dict(labels)}}, STRATEGIC_MERGE)

    def taint_node(self, node_name: str, taint: Taint) -> None:
        wanted: dict[str, str] = {"key": taint.key, "effect": str(taint.effect)}
        if taint.value:
            wanted["value"] = taint.value
        for _ in range(self.settings.conflict_attempts):
            node = self.rest.call(f"get node {node_name}", self.rest.core.read_node, node_name)
            taints = list((node.get("spec") or {}).get("taints") or [])
            if any(
                t.get("key") == taint.key and t.get("effect") == taint.effect and (t.get("value") or "") == taint.value
                for t in taints
            ):
                return
            kept = [t for t in taints if not (t.get("key") == taint.key and t.get("effect") == taint.effect)]
            body = {
                "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
                "spec": {"taints": [*kept, wanted]},
            }
            try:
                self._patch_node(f"taint node {node_name}", node_name, body, STRATEGIC_MERGE)
                return
            except KubeApiError as e:
                if not e.conflict:
                    raise
                log.info("kube.taint_conflict", node=node_name, error=str(e))
        raise KubeApiError(
            f"taint node {node_name}: the node kept changing ({self.settings.conflict_attempts} conflicts)", status=409
        )

    def cordon(self, node_name: str) -> None:
        self._patch_node(f"cordon node {node_name}", node_name, {"spec": {"unschedulable": True}}, MERGE)

    def evict(self, pod: Pod) -> EvictionOutcome:
        body: dict[str, Any] = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": pod.name, "namespace": pod.namespace},
        }
        if pod.uid:
            body["deleteOptions"] = {"preconditions": {"uid": pod.uid}}
        try:
            self.rest.call(
                f"evict pod {pod.key}",
                self.rest.core.create_namespaced_pod_eviction,
                pod.name,
                pod.namespace,
                body,
                retry_throttled=False,
            )
            outcome = EvictionOutcome.EVICTED
        except KubeApiError as e:
            if e.status == 429:
                outcome = EvictionOutcome.BLOCKED
            elif e.status in (404, 409):  # gone, or replaced by a pod with another uid
                outcome = EvictionOutcome.GONE
            else:
                raise
        EVICTIONS.labels(outcome.value).inc()
        return outcome

    def delete_node(self, node_name: str) -> None:
        self._node_objects.delete_node(node_name)

    def post_event(self, about: ObjectRef, reason: str, message: str, *, warning: bool = False) -> None:
        self.events.post(about, reason, message, warning=warning)

    # -- gangs, queues, ProvisioningRequests (the WorkloadSource port) ----------------------------------------

    def workloads(self) -> Workloads:
        return self.workload_stores.workloads()

    def set_conditions(self, request: ProvisioningRequest, conditions: Sequence[Condition]) -> None:
        self.workload_stores.set_conditions(request, conditions)
