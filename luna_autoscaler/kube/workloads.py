"""The gang and queue CRDs, watched like the rest, where they are installed: the `WorkloadSource` port.

PodGroups (KAI Scheduler, scheduler-plugins, Volcano), KAI Queues, Kueue ClusterQueues and LocalQueues,
ProvisioningRequests and the PodTemplates they point at are each followed by a reflector into the same cache (a
change wakes the loop like a pod does).
Most clusters lack most of these CRDs: a 404 on a list or a watch means "not installed", so the reflector
reports an empty, synced set and no error, and looks again every `CRD_RECHECK_SECONDS` (a CRD installed later is
picked up without a restart). Answers to ProvisioningRequests go to their status subresource as a merge patch of
`status.conditions` (the whole list: a merge patch replaces lists).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from luna_autoscaler.kube.cache import ClusterCache, KindStore
from luna_autoscaler.kube.reflector import Reflector, WatchSettings
from luna_autoscaler.kube.rest import KubeApiError, Rest
from luna_autoscaler.models.kueue import (
    ClusterQueue,
    LocalQueue,
    cluster_queue_from_manifest,
    local_queue_from_manifest,
)
from luna_autoscaler.models.workloads import (
    Condition,
    PodGroup,
    PodTemplate,
    ProvisioningRequest,
    Queue,
    Workloads,
    pod_group_from_manifest,
    pod_template_from_manifest,
    provisioning_request_from_manifest,
    queue_from_manifest,
)

CRD_RECHECK_SECONDS = 60.0
MERGE = "application/merge-patch+json"


@dataclass(frozen=True, slots=True)
class CustomResource:
    group: str
    version: str
    plural: str

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}"


POD_GROUPS = (
    CustomResource("scheduling.run.ai", "v2alpha2", "podgroups"),
    CustomResource("scheduling.x-k8s.io", "v1alpha1", "podgroups"),
    CustomResource("scheduling.volcano.sh", "v1beta1", "podgroups"),
)
QUEUES = CustomResource("scheduling.run.ai", "v2", "queues")
CLUSTER_QUEUES = CustomResource("kueue.x-k8s.io", "v1beta1", "clusterqueues")
LOCAL_QUEUES = CustomResource("kueue.x-k8s.io", "v1beta1", "localqueues")
PROVISIONING_REQUESTS = CustomResource("autoscaling.x-k8s.io", "v1", "provisioningrequests")


class OptionalReflector(Reflector):
    """A reflector for a resource that may not be served: 404 is an empty set, not a failure."""

    def _failed(self, error: KubeApiError) -> None:
        if error.status != 404:
            super()._failed(error)
            return
        self._sink.replace((), "")
        self._rv = None
        self.last_error = None
        self.synced.set()
        self._stop.wait(CRD_RECHECK_SECONDS)


class WorkloadStores:
    """The watched objects of the gang and queue CRDs, and the reflectors that keep them."""

    def __init__(self, rest: Rest, cache: ClusterCache, watch: WatchSettings) -> None:
        self._rest = rest
        self.pod_groups: list[KindStore[PodGroup]] = [
            KindStore(str(r), pod_group_from_manifest, cache) for r in POD_GROUPS
        ]
        self.queues: KindStore[Queue] = KindStore(str(QUEUES), queue_from_manifest, cache)
        self.cluster_queues: KindStore[ClusterQueue] = KindStore(
            str(CLUSTER_QUEUES), cluster_queue_from_manifest, cache
        )
        self.local_queues: KindStore[LocalQueue] = KindStore(str(LOCAL_QUEUES), local_queue_from_manifest, cache)
        self.requests: KindStore[ProvisioningRequest] = KindStore(
            str(PROVISIONING_REQUESTS), provisioning_request_from_manifest, cache
        )
        self.templates: KindStore[PodTemplate] = KindStore("podtemplates", pod_template_from_manifest, cache)
        self._cache = cache
        custom = rest.custom.list_cluster_custom_object
        sinks: list[tuple[CustomResource, KindStore[Any]]] = [
            *zip(POD_GROUPS, self.pod_groups, strict=True),
            (QUEUES, self.queues),
            (CLUSTER_QUEUES, self.cluster_queues),
            (LOCAL_QUEUES, self.local_queues),
            (PROVISIONING_REQUESTS, self.requests),
        ]
        self.reflectors: tuple[Reflector, ...] = (
            *(
                OptionalReflector(str(r), rest, custom, sink, settings=watch, list_args=(r.group, r.version, r.plural))
                for r, sink in sinks
            ),
            OptionalReflector(
                "podtemplates", rest, rest.core.list_pod_template_for_all_namespaces, self.templates, settings=watch
            ),
        )

    def invalid_objects(self) -> dict[str, str]:
        """`resource namespace/name` → why it could not be read (left out of `workloads()`, logged once)."""
        stores: list[KindStore[Any]] = [
            *self.pod_groups,
            self.queues,
            self.cluster_queues,
            self.local_queues,
            self.requests,
            self.templates,
        ]
        with self._cache.lock:
            return {f"{store.resource} {key}": why for store in stores for key, why in store.invalid.items()}

    def workloads(self) -> Workloads:
        with self._cache.lock:
            return Workloads(
                pod_groups=tuple(g for store in self.pod_groups for g in store.ordered()),
                queues=self.queues.ordered(),
                provisioning_requests=self.requests.ordered(),
                pod_templates=self.templates.ordered(),
                cluster_queues=self.cluster_queues.ordered(),
                local_queues=self.local_queues.ordered(),
            )

    def set_conditions(self, request: ProvisioningRequest, conditions: Sequence[Condition]) -> None:
        body = {
            "status": {
                "conditions": [
                    {
                        "type": c.type,
                        "status": c.status,
                        "reason": c.reason,
                        "message": c.message,
                        "lastTransitionTime": c.last_transition,
                        "observedGeneration": request.generation,
                    }
                    for c in conditions
                ]
            }
        }
        call: Callable[..., Any] = self._rest.custom.patch_namespaced_custom_object_status
        r = PROVISIONING_REQUESTS
        self._rest.call(
            f"update ProvisioningRequest {request.key} status",
            call,
            r.group,
            r.version,
            request.namespace,
            r.plural,
            request.name,
            body,
            _content_type=MERGE,
        )
