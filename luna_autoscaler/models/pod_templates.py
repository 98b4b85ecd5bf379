"""The pod templates inside the ML workload objects teams actually submit: RayCluster, the Kubeflow training jobs
(PyTorchJob, MPIJob, TFJob), JobSet and LeaderWorkerSet.

`plan` answers "what would this cost" for the manifests a team already has; for GPU fleets those are mostly these
custom resources, not Deployments. Each one names its pod templates and how many pods each becomes, which is all
`plan` needs: `pod_templates(obj)` returns `(name prefix, count, pod template)` groups in the order their operator
would create them, the caller makes the `<prefix>-<i>` pods. Only templates present in the object count: a
TrainJob that points at a runtime elsewhere has none, and is reported as ignored like any unknown kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from luna_autoscaler.errors import ManifestError
from luna_autoscaler.models.manifest import _list
from luna_autoscaler.models.manifest import _map as _mapping  # one reading of JSON shapes, with the same messages

Json = Mapping[str, Any]
TemplateGroup = tuple[str, int, Json]  # (name prefix, pod count, pod template: {metadata, spec})

# Kubeflow training operator kinds: spec.<key> maps a replica type (Master, Worker, Launcher...) to
# {replicas, template}.
_REPLICA_SPECS = {"PyTorchJob": "pytorchReplicaSpecs", "MPIJob": "mpiReplicaSpecs", "TFJob": "tfReplicaSpecs"}


def _groups(value: object, where: str) -> list[Json]:
    return [_mapping(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where))]


def _count(spec: Json, key: str, where: str, default: int = 1) -> int:
    value = spec.get(key, default)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ManifestError(f"{where}.{key}: must be a non-negative integer, got {value!r}")
    return value


def _ray_cluster(name: str, spec: Json, where: str) -> list[TemplateGroup]:
    head = _mapping(spec.get("headGroupSpec"), f"{where}.headGroupSpec")
    out: list[TemplateGroup] = []
    if head:
        out.append((f"{name}-head", 1, _mapping(head.get("template"), f"{where}.headGroupSpec.template")))
    for i, group in enumerate(_groups(spec.get("workerGroupSpecs"), f"{where}.workerGroupSpecs")):
        at = f"{where}.workerGroupSpecs[{i}]"
        # KubeRay starts `replicas` (defaulted to minReplicas) of each group, each `numOfHosts` pods (multi-host TPU).
        replicas = _count(group, "replicas", at, default=_count(group, "minReplicas", at, default=0))
        pods = replicas * _count(group, "numOfHosts", at)
        group_name = str(group.get("groupName") or f"group{i}")
        out.append((f"{name}-{group_name}-worker", pods, _mapping(group.get("template"), f"{at}.template")))
    return out


def _replica_specs(key: str) -> Callable[[str, Json, str], list[TemplateGroup]]:
    def groups(name: str, spec: Json, where: str) -> list[TemplateGroup]:
        out: list[TemplateGroup] = []
        for role, value in _mapping(spec.get(key), f"{where}.{key}").items():
            at = f"{where}.{key}.{role}"
            replica = _mapping(value, at)
            template = _mapping(replica.get("template"), f"{at}.template")
            out.append((f"{name}-{str(role).lower()}", _count(replica, "replicas", at), template))
        return out

    return groups


def _job_pods(job: Json, where: str) -> tuple[int, Json]:
    """A Job template's pods running at once (parallelism, at most completions) and its pod template."""
    spec = _mapping(job.get("spec"), f"{where}.spec")
    parallelism = _count(spec, "parallelism", f"{where}.spec")
    completions = spec.get("completions")
    if isinstance(completions, int) and not isinstance(completions, bool):
        parallelism = min(parallelism, completions)
    return parallelism, _mapping(spec.get("template"), f"{where}.spec.template")


def _job_set(name: str, spec: Json, where: str) -> list[TemplateGroup]:
    out: list[TemplateGroup] = []
    for i, replicated in enumerate(_groups(spec.get("replicatedJobs"), f"{where}.replicatedJobs")):
        at = f"{where}.replicatedJobs[{i}]"
        pods, template = _job_pods(_mapping(replicated.get("template"), f"{at}.template"), f"{at}.template")
        job_name = str(replicated.get("name") or f"job{i}")
        for j in range(_count(replicated, "replicas", at)):
            out.append((f"{name}-{job_name}-{j}", pods, template))
    return out


def _leader_worker_set(name: str, spec: Json, where: str) -> list[TemplateGroup]:
    at = f"{where}.leaderWorkerTemplate"
    lwt = _mapping(spec.get("leaderWorkerTemplate"), at)
    workers = _mapping(lwt.get("workerTemplate"), f"{at}.workerTemplate")
    leader = _mapping(lwt.get("leaderTemplate"), f"{at}.leaderTemplate") or workers
    size = _count(lwt, "size", at)
    out: list[TemplateGroup] = []
    for g in range(_count(spec, "replicas", where)):
        # Each group is one leader and size - 1 workers, created together.
        out.append((f"{name}-{g}-leader", 1 if size else 0, leader))
        out.append((f"{name}-{g}-worker", max(0, size - 1), workers))
    return out


_EXPANDERS: dict[str, Callable[[str, Json, str], list[TemplateGroup]]] = {
    "RayCluster": _ray_cluster,
    "JobSet": _job_set,
    "LeaderWorkerSet": _leader_worker_set,
    **{kind: _replica_specs(key) for kind, key in _REPLICA_SPECS.items()},
}

WORKLOAD_KINDS = frozenset(_EXPANDERS)


def pod_templates(obj: Json, where: str = "") -> list[TemplateGroup] | None:
    """The pod groups of a workload object of a kind in WORKLOAD_KINDS; None for any other kind. `where` (the
    file) prefixes error messages.

    ManifestError (naming the object and the field) when a replica count or a template has the wrong type.
    """
    kind = obj.get("kind")
    expander = _EXPANDERS.get(kind) if isinstance(kind, str) else None
    if expander is None:
        return None
    name = str(_mapping(obj.get("metadata"), "metadata").get("name") or kind)
    at = f"{where}: {kind} {name}: spec" if where else f"{kind} {name}: spec"
    return expander(name, _mapping(obj.get("spec"), at), at)
