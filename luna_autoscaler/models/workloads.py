"""Gangs, scheduler queues and ProvisioningRequests: what gang and queueing schedulers say about pods, as values.

Multi-node GPU jobs (PyTorchJob, MPIJob, RayCluster, JobSet) run only when all of their pods do: a gang
scheduler (KAI Scheduler, the scheduler-plugins coscheduling plugin, Volcano, Kueue's pod groups) binds none of
a group's pods until `minMember` of them fit. An autoscaler that buys nodes for half a gang buys GPUs that run
nothing. Queueing schedulers (KAI Scheduler) hold pods pending on purpose while their queue is at its limit:
nodes bought for them stay idle. This module reads the objects that carry those facts (PodGroups, Queues,
ProvisioningRequests and the PodTemplates they point at) from API JSON into frozen values, once, at the edge,
so the planner and the loop never look at raw JSON.

Where each scheduler records a pod's group (checked in this order):
- KAI Scheduler: annotation `pod-group-name` (set by its pod-grouper), PodGroup `scheduling.run.ai/v2alpha2`;
- scheduler-plugins coscheduling: label `scheduling.x-k8s.io/pod-group`, PodGroup `scheduling.x-k8s.io/v1alpha1`;
- Volcano: annotation `scheduling.k8s.io/group-name`, PodGroup `scheduling.volcano.sh/v1beta1`;
- Kueue plain-pod groups: label `kueue.x-k8s.io/pod-group-name` with the group's size in the annotation
  `kueue.x-k8s.io/pod-group-total-count` (no PodGroup object).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from luna_autoscaler.errors import ManifestError
from luna_autoscaler.models.manifest import _map, namespace_and_name, pod_from_manifest
from luna_autoscaler.models.pod import Pod
from luna_autoscaler.models.resources import CPU, MEMORY, NVIDIA_GPU

if TYPE_CHECKING:  # models/kueue.py builds on this module's queue model
    from luna_autoscaler.models.kueue import ClusterQueue, LocalQueue

Json = Mapping[str, Any]

KAI_POD_GROUP = "pod-group-name"
COSCHEDULING_POD_GROUP = "scheduling.x-k8s.io/pod-group"
VOLCANO_POD_GROUP = "scheduling.k8s.io/group-name"
KUEUE_POD_GROUP = "kueue.x-k8s.io/pod-group-name"
KUEUE_POD_GROUP_TOTAL = "kueue.x-k8s.io/pod-group-total-count"
KAI_QUEUE_LABELS = ("kai.scheduler/queue", "runai/queue")  # the current label first, then Run:ai's older one
CONSUME_PROVISIONING_REQUEST = (
    "autoscaling.x-k8s.io/consume-provisioning-request",
    "cluster-autoscaler.kubernetes.io/consume-provisioning-request",
)

CHECK_CAPACITY = "check-capacity.autoscaling.x-k8s.io"
BEST_EFFORT_ATOMIC = "best-effort-atomic-scale-up.autoscaling.x-k8s.io"
PROVISIONING_CLASSES = (CHECK_CAPACITY, BEST_EFFORT_ATOMIC)
PLACEMENT_GROUP = "luna.elotl.co/placement-group"
"""Pod annotation: `cluster` puts its gang's nodes in one cluster placement group (EFA, InfiniBand)."""
FABRIC_RESOURCES = ("vpc.amazonaws.com/efa",)
"""Extended resources of a low-latency fabric: a gang asking for them wants a placement group too."""
PROVISIONING_REQUEST_POD = "luna.elotl.co/provisioning-request"
"""Annotation on the pods a ProvisioningRequest stands for: they exist only in plans (no Events, never bound)."""


class GroupKind(StrEnum):
    KAI = "kai"
    COSCHEDULING = "coscheduling"
    VOLCANO = "volcano"
    KUEUE = "kueue"
    PROVISIONING_REQUEST = "provisioning-request"


POD_GROUP_API_VERSIONS: Mapping[str, GroupKind] = MappingProxyType(
    {
        "scheduling.run.ai/v2alpha2": GroupKind.KAI,
        "scheduling.x-k8s.io/v1alpha1": GroupKind.COSCHEDULING,
        "scheduling.volcano.sh/v1beta1": GroupKind.VOLCANO,
    }
)


def _count(value: object, where: str, *, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ManifestError(f"{where}: expected a whole number, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise ManifestError(f"{where}: expected a whole number, got {value!r}") from None
    if number < 0:
        raise ManifestError(f"{where}: {number} is negative")
    return number


# --- gangs ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PodGroup:
    """A PodGroup object (KAI, coscheduling or Volcano): how many of its pods must run together, and its queue."""

    kind: GroupKind
    namespace: str
    name: str
    min_member: int
    queue: str = ""

    @property
    def key(self) -> str:
        return group_key(self.kind, self.namespace, self.name)


def group_key(kind: GroupKind, namespace: str, name: str) -> str:
    return f"{kind.value}:{namespace}/{name}"


def pod_group_from_manifest(obj: Json) -> PodGroup:
    api_version = str(obj.get("apiVersion") or "")
    kind = POD_GROUP_API_VERSIONS.get(api_version)
    if kind is None:
        raise ManifestError(f"PodGroup: unknown apiVersion {api_version!r}")
    namespace, name = namespace_and_name(obj, "PodGroup")
    spec = _map(obj.get("spec"), f"PodGroup {namespace}/{name}: spec")
    min_member = _count(spec.get("minMember"), f"PodGroup {namespace}/{name}: spec.minMember", default=1)
    return PodGroup(kind, namespace or "default", name, min_member, str(spec.get("queue") or ""))


def group_of(pod: Pod) -> tuple[GroupKind, str] | None:
    """The scheduler and name of the pod group this pod belongs to, or None."""
    for kind, value in (
        (GroupKind.KAI, pod.annotations.get(KAI_POD_GROUP)),
        (GroupKind.COSCHEDULING, pod.labels.get(COSCHEDULING_POD_GROUP)),
        (GroupKind.VOLCANO, pod.annotations.get(VOLCANO_POD_GROUP)),
        (GroupKind.KUEUE, pod.labels.get(KUEUE_POD_GROUP)),
    ):
        if value:
            return kind, value
    return None


def wants_placement_group(pod: Pod) -> bool:
    """The pod asks for a cluster placement group: by annotation, or by requesting a fabric resource (EFA)."""
    if pod.annotations.get(PLACEMENT_GROUP, "").lower() == "cluster":
        return True
    return any(pod.requests.get(name) for name in FABRIC_RESOURCES)


@dataclass(frozen=True, slots=True)
class Gang:
    """The pods of one pod group as this cycle sees them. `min_member` pods must run together: `running` already
    do, so at least `needed` of the `pending` ones must get a place at once, or none should."""

    key: str
    min_member: int
    pending: tuple[Pod, ...]
    running: int = 0
    queue: str = ""

    @property
    def needed(self) -> int:
        return max(0, self.min_member - self.running)


def gangs(pods: Iterable[Pod], pending: Sequence[Pod], pod_groups: Iterable[PodGroup]) -> tuple[Gang, ...]:
    """The gangs among `pending` pods: groups whose minimum is more than one pod and not yet met by the running
    ones. `pods` are all the cluster's pods (running members count towards the minimum).

    The minimum comes from the PodGroup object; a Kueue group states its size on its pods; a group whose
    PodGroup is not visible (not created yet, or a manifest file without it) needs every pod it has so far."""
    objects = {g.key: g for g in pod_groups}
    pending_keys = {p.key for p in pending}
    members: dict[str, list[Pod]] = {}
    running: dict[str, int] = {}
    declared: dict[str, int] = {}
    for pod in pods:
        ref = group_of(pod)
        if ref is None or pod.terminal:
            continue
        key = group_key(ref[0], pod.namespace, ref[1])
        if pod.node_name:
            running[key] = running.get(key, 0) + 1
        elif pod.key in pending_keys:
            members.setdefault(key, []).append(pod)
        if ref[0] is GroupKind.KUEUE and (total := pod.annotations.get(KUEUE_POD_GROUP_TOTAL, "")).isdigit():
            declared[key] = int(total)
    out = []
    for key in sorted(members):
        group = objects.get(key)
        count = len(members[key]) + running.get(key, 0)
        min_member = group.min_member if group is not None else declared.get(key, count)
        gang = Gang(key, min_member, tuple(members[key]), running.get(key, 0), group.queue if group else "")
        if gang.min_member > 1 and gang.needed > 0:
            out.append(gang)
    return tuple(out)


# --- KAI Scheduler queues ---------------------------------------------------------------------------------------

UNLIMITED = -1.0


@dataclass(frozen=True, slots=True)
class QueueResource:
    """One resource of a queue, in queue units (GPUs, millicores, megabytes). None: unlimited.

    `reserved` is what the queue keeps for itself whether it uses it or not: its parent counts at least that
    much as used (a Kueue ClusterQueue's quota beyond its `lendingLimit`; 0 for KAI). `why` says what the limit
    is made of, for the message of a pod it holds."""

    quota: float | None = 0.0
    limit: float | None = None
    over_quota_weight: float = 1.0
    reserved: float = 0.0
    why: str = ""


QUEUE_RESOURCES = ("gpu", "cpu", "memory")


@dataclass(frozen=True, slots=True)
class Queue:
    """A node of a queue tree, the one model queue admission evaluates for every queueing scheduler: a KAI
    Scheduler Queue (`scheduling.run.ai/v2`: quota, limit, over-quota weight; a tree through `parent`), or a
    Kueue ClusterQueue with its cohort as parent (models/kueue.py). `title` names it in messages."""

    name: str
    parent: str = ""
    resources: Mapping[str, QueueResource] = field(default_factory=lambda: MappingProxyType({}))
    title: str = ""
    uncovered: QueueResource = QueueResource(quota=None)  # a resource it does not list

    @property
    def label(self) -> str:
        return self.title or f"KAI queue {self.name}"

    def resource(self, name: str) -> QueueResource:
        return self.resources.get(name, self.uncovered)


def _amount(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ManifestError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ManifestError(f"{where}: expected a number, got {value!r}") from None
    return None if number == UNLIMITED else number


def queue_from_manifest(obj: Json) -> Queue:
    """KAI's -1 means unlimited; an omitted quota is 0, an omitted limit unlimited, an omitted weight 1."""
    _, name = namespace_and_name(obj, "Queue")
    spec = _map(obj.get("spec"), f"Queue {name}: spec")
    resources = _map(spec.get("resources"), f"Queue {name}: spec.resources")
    parsed: dict[str, QueueResource] = {}
    for resource in QUEUE_RESOURCES:
        entry = _map(resources.get(resource), f"Queue {name}: spec.resources.{resource}")
        if not entry:
            continue
        where = f"Queue {name}: spec.resources.{resource}"
        quota = _amount(entry.get("quota", 0), f"{where}.quota")
        weight = _amount(entry.get("overQuotaWeight", 1), f"{where}.overQuotaWeight")
        parsed[resource] = QueueResource(
            quota, _amount(entry.get("limit"), f"{where}.limit"), 1.0 if weight is None else weight
        )
    return Queue(name, str(spec.get("parentQueue") or ""), MappingProxyType(parsed))


def queue_demand(pod: Pod) -> Mapping[str, float]:
    """A pod's requests in KAI queue units: GPUs, millicores, megabytes (10^6 bytes)."""
    return {
        "gpu": float(pod.requests.get(NVIDIA_GPU)),
        "cpu": float(pod.requests.get(CPU)),
        "memory": pod.requests.get(MEMORY) / 1e6,
    }


def queue_of(pod: Pod, pod_groups: Mapping[str, PodGroup]) -> str:
    """The KAI queue of a pod: its PodGroup's queue, else its queue label; "" when it names none."""
    ref = group_of(pod)
    group = pod_groups.get(group_key(ref[0], pod.namespace, ref[1])) if ref is not None else None
    if group is not None and group.queue:
        return group.queue
    return next((pod.labels[label] for label in KAI_QUEUE_LABELS if pod.labels.get(label)), "")


# --- ProvisioningRequests ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str
    last_transition: str = ""  # RFC 3339


@dataclass(frozen=True, slots=True)
class PodSet:
    template: str
    count: int


@dataclass(frozen=True, slots=True)
class ProvisioningRequest:
    """A ProvisioningRequest (`autoscaling.x-k8s.io/v1`): capacity for `count` pods of each PodTemplate, asked for
    as a whole (Kueue's ProvisioningRequest admission check creates them before it admits a workload)."""

    namespace: str
    name: str
    class_name: str
    pod_sets: tuple[PodSet, ...]
    conditions: tuple[Condition, ...] = ()
    generation: int = 0

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def condition(self, kind: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == kind), None)

    def is_true(self, kind: str) -> bool:
        c = self.condition(kind)
        return c is not None and c.status == "True"


def provisioning_request_from_manifest(obj: Json) -> ProvisioningRequest:
    namespace, name = namespace_and_name(obj, "ProvisioningRequest")
    where = f"ProvisioningRequest {namespace}/{name}"
    spec = _map(obj.get("spec"), f"{where}: spec")
    pod_sets = []
    for i, raw in enumerate(spec.get("podSets") or ()):
        entry = _map(raw, f"{where}: spec.podSets[{i}]")
        template = str(_map(entry.get("podTemplateRef"), f"{where}: podTemplateRef").get("name") or "")
        if not template:
            raise ManifestError(f"{where}: spec.podSets[{i}].podTemplateRef.name is required")
        pod_sets.append(PodSet(template, _count(entry.get("count"), f"{where}: spec.podSets[{i}].count", default=1)))
    status = _map(obj.get("status"), f"{where}: status")
    conditions = tuple(
        Condition(
            str(c.get("type") or ""),
            str(c.get("status") or "Unknown"),
            str(c.get("reason") or ""),
            str(c.get("message") or ""),
            str(c.get("lastTransitionTime") or ""),
        )
        for c in status.get("conditions") or ()
        if isinstance(c, Mapping)
    )
    meta = _map(obj.get("metadata"), f"{where}: metadata")
    return ProvisioningRequest(
        namespace or "default",
        name,
        str(spec.get("provisioningClassName") or ""),
        tuple(pod_sets),
        conditions,
        _count(meta.get("generation"), f"{where}: metadata.generation", default=0),
    )


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """A core/v1 PodTemplate, reduced to the pod it describes (requests, selectors, tolerations)."""

    namespace: str
    name: str
    pod: Pod


def pod_template_from_manifest(obj: Json) -> PodTemplate:
    namespace, name = namespace_and_name(obj, "PodTemplate")
    template = _map(obj.get("template"), f"PodTemplate {namespace}/{name}: template")
    meta = {**_map(template.get("metadata"), "template.metadata"), "name": name, "namespace": namespace or "default"}
    pod = pod_from_manifest({"kind": "Pod", "metadata": meta, "spec": template.get("spec") or {}})
    return PodTemplate(namespace or "default", name, pod)


def is_virtual(pod: Pod) -> bool:
    """A pod a ProvisioningRequest stands for, not one in the cluster."""
    return PROVISIONING_REQUEST_POD in pod.annotations


def request_pods(request: ProvisioningRequest, templates: Mapping[str, PodTemplate]) -> tuple[Pod, ...] | str:
    """The pods a ProvisioningRequest stands for (pending, unschedulable, one gang), or why it cannot be read."""
    pods: list[Pod] = []
    for pod_set in request.pod_sets:
        template = templates.get(f"{request.namespace}/{pod_set.template}")
        if template is None:
            return f"PodTemplate {request.namespace}/{pod_set.template} not found"
        for i in range(pod_set.count):
            pods.append(
                replace(
                    template.pod,
                    name=f"{request.name}-{pod_set.template}-{i}",
                    uid="",
                    node_name="",
                    phase="Pending",
                    unschedulable=True,
                    scheduling_gates=(),
                    annotations=MappingProxyType({**template.pod.annotations, PROVISIONING_REQUEST_POD: request.name}),
                )
            )
    return tuple(pods)


# --- what the loop reads ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Workloads:
    """The gang and queue objects of one cycle (KAI and Kueue); empty where the CRDs are not installed."""

    pod_groups: tuple[PodGroup, ...] = ()
    queues: tuple[Queue, ...] = ()
    provisioning_requests: tuple[ProvisioningRequest, ...] = ()
    pod_templates: tuple[PodTemplate, ...] = ()
    cluster_queues: tuple[ClusterQueue, ...] = ()
    local_queues: tuple[LocalQueue, ...] = ()


class WorkloadSource(Protocol):
    """Where the loop reads Workloads and answers ProvisioningRequests (the kube adapter; a fake in tests)."""

    def workloads(self) -> Workloads: ...

    def set_conditions(self, request: ProvisioningRequest, conditions: Sequence[Condition]) -> None:
        """Replace the request's status.conditions (the status subresource)."""
        ...
