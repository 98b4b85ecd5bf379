"""Builders for the API objects tests put in the fake server: realistic JSON with only the knobs tests turn.

A pod is Pending-unschedulable (PodScheduled=False, reason Unschedulable) when asked, Running when bound to a
node, plain Pending otherwise; nodes are Ready with capacity = allocatable unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Obj = dict[str, Any]


def _meta(
    name: str, namespace: str | None, labels: Mapping[str, str] | None, annotations: Mapping[str, str] | None
) -> Obj:
    meta: Obj = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def pod(
    name: str,
    namespace: str = "default",
    *,
    cpu: str = "100m",
    memory: str = "128Mi",
    gpus: int = 0,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    node_name: str | None = None,
    unschedulable: bool = False,
    phase: str | None = None,
    scheduling_gates: Sequence[str] = (),
    owner: tuple[str, str] | None = None,
    containers: int = 1,
) -> Obj:
    requests = {"cpu": cpu, "memory": memory}
    limits = {"nvidia.com/gpu": str(gpus)} if gpus else {}
    spec: Obj = {
        "containers": [
            {
                "name": f"c{i}",
                "image": "registry.example.com/app:1.0",
                "resources": {"requests": requests, **({"limits": limits} if limits else {})},
            }
            for i in range(containers)
        ],
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
        ],
    }
    if scheduling_gates:
        spec["schedulingGates"] = [{"name": g} for g in scheduling_gates]
    status: Obj = {"phase": phase or ("Running" if node_name else "Pending")}
    if node_name:
        spec["nodeName"] = node_name
        status["conditions"] = [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}]
    elif unschedulable:
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu.",
            }
        ]
    elif scheduling_gates:
        status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]
    meta = _meta(name, namespace, labels, annotations)
    if owner:
        kind, owner_name = owner
        api_version = "apps/v1" if kind in ("DaemonSet", "ReplicaSet", "StatefulSet") else "v1"
        meta["ownerReferences"] = [
            {
                "apiVersion": api_version,
                "kind": kind,
                "name": owner_name,
                "uid": f"uid-{owner_name}",
                "controller": True,
            }
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def node(
    name: str,
    *,
    cpu: str = "8",
    memory: str = "32Gi",
    gpus: int = 0,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
    provider_id: str = "",
    ready: bool = True,
    unschedulable: bool = False,
) -> Obj:
    capacity = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "100Gi"}
    if gpus:
        capacity["nvidia.com/gpu"] = str(gpus)
    spec: Obj = {}
    if provider_id:
        spec["providerID"] = provider_id
    if taints:
        spec["taints"] = [dict(t) for t in taints]
    if unschedulable:
        spec["unschedulable"] = True
    all_labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **(labels or {})}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _meta(name, None, all_labels, None),
        "spec": spec,
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
                {"type": "Ready", "status": "True" if ready else "False", "reason": "KubeletReady"},
            ],
            "addresses": [{"type": "Hostname", "address": name}],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": f"boot-{name}",
                "containerRuntimeVersion": "containerd://1.7.20",
                "kernelVersion": "6.1.0",
                "kubeProxyVersion": "v1.31.0",
                "kubeletVersion": "v1.31.0",
                "machineID": f"machine-{name}",
                "operatingSystem": "linux",
                "osImage": "Amazon Linux 2023",
                "systemUUID": f"uuid-{name}",
            },
        },
    }


def daemonset(name: str, namespace: str = "kube-system", *, cpu: str = "50m", memory: str = "64Mi") -> Obj:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _meta(name, namespace, labels, None),
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": name, "image": "agent:1", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
                    ],
                    "tolerations": [{"operator": "Exists"}],
                },
            },
        },
    }


def pdb(name: str, namespace: str = "default", *, match_labels: Mapping[str, str], disruptions_allowed: int) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(name, namespace, None, None),
        "spec": {"selector": {"matchLabels": dict(match_labels)}, "maxUnavailable": 1},
        "status": {
            "disruptionsAllowed": disruptions_allowed,
            "currentHealthy": 2,
            "desiredHealthy": 2,
            "expectedPods": 2,
        },
    }


def configmap(name: str, namespace: str, data: Mapping[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name, namespace, None, None), "data": dict(data)}


POD_GROUP_API_VERSIONS = {
    "kai": "scheduling.run.ai/v2alpha2",
    "coscheduling": "scheduling.x-k8s.io/v1alpha1",
    "volcano": "scheduling.volcano.sh/v1beta1",
}


def pod_group(
    name: str, min_member: int, *, scheduler: str = "kai", queue: str = "", namespace: str = "default"
) -> Obj:
    spec: Obj = {"minMember": min_member}
    if queue:
        spec["queue"] = queue
    api_version = POD_GROUP_API_VERSIONS[scheduler]
    return {"apiVersion": api_version, "kind": "PodGroup", "metadata": _meta(name, namespace, None, None), "spec": spec}


def kai_queue(name: str, *, parent: str = "", gpu: tuple[float, float, float] = (-1, -1, 1)) -> Obj:
    """A KAI Queue; `gpu` is (quota, limit, overQuotaWeight), -1 unlimited."""
    quota, limit, weight = gpu
    spec: Obj = {"resources": {"gpu": {"quota": quota, "limit": limit, "overQuotaWeight": weight}}}
    if parent:
        spec["parentQueue"] = parent
    return {
        "apiVersion": "scheduling.run.ai/v2",
        "kind": "Queue",
        "metadata": _meta(name, None, None, None),
        "spec": spec,
    }


def cluster_queue(
    name: str,
    *,
    gpus: str = "8",
    cohort: str = "",
    borrowing_limit: str | None = None,
    lending_limit: str | None = None,
    reserved_gpus: str | None = None,
    admission_checks: Sequence[str] = (),
) -> Obj:
    """A Kueue ClusterQueue with one flavor covering cpu, memory and GPUs (CPU and memory plentiful);
    `reserved_gpus` fills status.flavorsReservation (omitted: no status)."""
    gpu: Obj = {"name": "nvidia.com/gpu", "nominalQuota": gpus}
    if borrowing_limit is not None:
        gpu["borrowingLimit"] = borrowing_limit
    if lending_limit is not None:
        gpu["lendingLimit"] = lending_limit
    spec: Obj = {
        "namespaceSelector": {},
        "resourceGroups": [
            {
                "coveredResources": ["cpu", "memory", "nvidia.com/gpu"],
                "flavors": [
                    {
                        "name": "default-flavor",
                        "resources": [
                            {"name": "cpu", "nominalQuota": "1000"},
                            {"name": "memory", "nominalQuota": "10Ti"},
                            gpu,
                        ],
                    }
                ],
            }
        ],
    }
    if cohort:
        spec["cohort"] = cohort
    if admission_checks:
        spec["admissionChecks"] = list(admission_checks)
    obj: Obj = {
        "apiVersion": "kueue.x-k8s.io/v1beta1",
        "kind": "ClusterQueue",
        "metadata": _meta(name, None, None, None),
    }
    obj["spec"] = spec
    if reserved_gpus is not None:
        usage = [{"name": "nvidia.com/gpu", "total": reserved_gpus, "borrowed": "0"}]
        obj["status"] = {"flavorsReservation": [{"name": "default-flavor", "resources": usage}]}
    return obj


def local_queue(name: str, cluster_queue: str, namespace: str = "default") -> Obj:
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta1",
        "kind": "LocalQueue",
        "metadata": _meta(name, namespace, None, None),
        "spec": {"clusterQueue": cluster_queue},
    }


def pod_template(name: str, namespace: str = "default", *, cpu: str = "1", memory: str = "1Gi", gpus: int = 0) -> Obj:
    template_pod = pod(name, namespace, cpu=cpu, memory=memory, gpus=gpus)
    if gpus:
        template_pod["spec"]["tolerations"].append(
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        )
    return {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": _meta(name, namespace, None, None),
        "template": {"metadata": {"labels": {"elotl-luna": "true"}}, "spec": template_pod["spec"]},
    }


def provisioning_request(
    name: str,
    template: str,
    count: int,
    *,
    namespace: str = "default",
    class_name: str = "best-effort-atomic-scale-up.autoscaling.x-k8s.io",
) -> Obj:
    return {
        "apiVersion": "autoscaling.x-k8s.io/v1",
        "kind": "ProvisioningRequest",
        "metadata": _meta(name, namespace, None, None),
        "spec": {
            "provisioningClassName": class_name,
            "podSets": [{"podTemplateRef": {"name": template}, "count": count}],
        },
    }
