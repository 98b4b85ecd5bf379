"""The API resources the fake server serves, as data: one row per resource instead of one branch per URL.

Each row says where the resource lives (group/version, namespaced or not), which subresources it has, and which
field selectors the real API server accepts for it, so an adapter that relies on an unsupported field selector
fails here as it would against a real cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

_META_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
_STATUS = frozenset({"status"})


@dataclass(frozen=True, slots=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    subresources: frozenset[str] = frozenset()
    fields: frozenset[str] = _META_FIELDS

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "pods",
        "Pod",
        namespaced=True,
        subresources=frozenset({"status", "eviction"}),
        fields=_META_FIELDS
        | {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName"}
        | {"status.phase", "status.podIP", "status.nominatedNodeName"},
    ),
    ResourceType(
        "",
        "v1",
        "nodes",
        "Node",
        namespaced=False,
        subresources=frozenset({"status"}),
        fields=_META_FIELDS | {"spec.unschedulable"},
    ),
    ResourceType(
        "",
        "v1",
        "namespaces",
        "Namespace",
        namespaced=False,
        subresources=frozenset({"status"}),
        fields=_META_FIELDS | {"status.phase"},
    ),
    ResourceType("", "v1", "configmaps", "ConfigMap", namespaced=True),
    ResourceType(
        "",
        "v1",
        "events",
        "Event",
        namespaced=True,
        fields=_META_FIELDS
        | {f"involvedObject.{f}" for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion")}
        | {"reason", "reportingComponent", "source", "type"},
    ),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", namespaced=True, subresources=frozenset({"status"})),
    ResourceType(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        namespaced=True,
        subresources=frozenset({"status"}),
    ),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", namespaced=True),
    ResourceType("", "v1", "podtemplates", "PodTemplate", namespaced=True),
    # the gang and queue CRDs (KAI Scheduler, Kueue, scheduler-plugins, Volcano, cluster-autoscaler's ProvisioningRequest)
    ResourceType("scheduling.run.ai", "v2alpha2", "podgroups", "PodGroup", namespaced=True, subresources=_STATUS),
    ResourceType("scheduling.run.ai", "v2", "queues", "Queue", namespaced=False, subresources=_STATUS),
    ResourceType("kueue.x-k8s.io", "v1beta1", "clusterqueues", "ClusterQueue", namespaced=False, subresources=_STATUS),
    ResourceType("kueue.x-k8s.io", "v1beta1", "localqueues", "LocalQueue", namespaced=True, subresources=_STATUS),
    ResourceType("scheduling.x-k8s.io", "v1alpha1", "podgroups", "PodGroup", namespaced=True, subresources=_STATUS),
    ResourceType("scheduling.volcano.sh", "v1beta1", "podgroups", "PodGroup", namespaced=True, subresources=_STATUS),
    ResourceType(
        "autoscaling.x-k8s.io",
        "v1",
        "provisioningrequests",
        "ProvisioningRequest",
        namespaced=True,
        subresources=_STATUS,
    ),
    ResourceType(
        "events.k8s.io",
        "v1",
        "events",
        "Event",
        namespaced=True,
        fields=_META_FIELDS
        | {f"regarding.{f}" for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion")}
        | {"reason", "reportingController", "type"},
    ),
)

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}


def resource_at(group: str, version: str, plural: str) -> ResourceType | None:
    return _BY_PATH.get((group, version, plural))


def resource_of(api_version: str, kind: str) -> ResourceType | None:
    return _BY_KIND.get((api_version, kind))


def groups() -> dict[str, list[str]]:
    """Served API groups (not the core group) → their versions, for discovery."""
    out: dict[str, list[str]] = {}
    for r in RESOURCES:
        if r.group and r.version not in out.setdefault(r.group, []):
            out[r.group].append(r.version)
    return out


def in_group_version(group: str, version: str) -> tuple[ResourceType, ...]:
    return tuple(r for r in RESOURCES if r.group == group and r.version == version)
