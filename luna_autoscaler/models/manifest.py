"""API JSON (dicts) → domain values. The one place that knows the shape of Pod, Node, DaemonSet and PDB JSON.

Used by the kube adapter (objects from the API server, sanitised to dicts) and by `plan` (YAML files). Errors
name the object and the field, so a user with a 2,000-document file knows which one to fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from types import MappingProxyType
from typing import Any

from luna_autoscaler.errors import ManifestError, QuantityError
from luna_autoscaler.models.pod import DaemonSet, DisruptionBudget, Node, OwnerRef, Pod
from luna_autoscaler.models.resources import ZERO, Resources
from luna_autoscaler.models.scheduling import (
    NodeSelector,
    NodeSelectorTerm,
    Operator,
    Requirement,
    Taint,
    Toleration,
)

Json = Mapping[str, Any]


def _map(value: object, where: str) -> Json:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ManifestError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def namespace_and_name(obj: Json, kind: str, *, default_namespace: str = "") -> tuple[str, str]:
    """(namespace, name) of a Kubernetes object; a missing name is a ManifestError naming the kind."""
    meta = _map(obj.get("metadata"), f"{kind}.metadata")
    name = str(meta.get("name") or "")
    if not name:
        raise ManifestError(f"{kind}: metadata.name is required")
    return str(meta.get("namespace") or default_namespace), name


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ManifestError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _strings(value: object, where: str) -> Mapping[str, str]:
    mapping = _map(value, where)
    if not mapping:
        return MappingProxyType({})
    return MappingProxyType({str(k): "" if v is None else str(v) for k, v in mapping.items()})


def _time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _has_condition(status: Json, kind: str, value: str, *, reason: str | None = None) -> bool:
    """Whether `status.conditions` holds one of type `kind` with status `value` (and that `reason`, if given)."""
    return any(
        isinstance(c, Mapping)
        and c.get("type") == kind
        and c.get("status") == value
        and (reason is None or c.get("reason") == reason)
        for c in _list(status.get("conditions"), "status.conditions")
    )


def object_name(obj: Json, kind: str = "object") -> str:
    """The object as messages name it, `Kind namespace/name`; `kind` when the JSON has none (list items)."""
    meta = _map(obj.get("metadata"), "metadata")
    ns = meta.get("namespace") or "default"
    return f"{obj.get('kind') or kind} {ns}/{meta.get('name', '?')}"


@contextmanager
def _reading(obj: Json, kind: str) -> Iterator[None]:
    """What reading `obj` raises, as one ManifestError that names the object first ("Pod ns/name: field: why")."""
    name = object_name(obj, kind)
    try:
        yield
    except (QuantityError, ManifestError, TypeError, ValueError) as e:
        raise ManifestError(f"{name}: {e}") from e


def _container_requests(container: Json, where: str) -> Resources:
    """A container's requests, defaulting each missing request to its limit as the API server does."""
    resources = _map(container.get("resources"), f"{where}.resources")
    limits = _map(resources.get("limits"), f"{where}.resources.limits")
    requests = dict(_map(resources.get("requests"), f"{where}.resources.requests"))
    for name, value in limits.items():
        requests.setdefault(name, value)
    return Resources.parse(requests, where=f"{where}.resources")


_REQUESTS_CACHE: dict[tuple[object, ...], Resources] = {}
_REQUESTS_CACHE_SIZE = 65_536  # distinct pod resource specs remembered; a full cache starts over


def _requests_key(spec: Json, where: str) -> tuple[object, ...] | None:
    """What a pod's effective requests depend on, hashable; None when the spec is too odd to key (then it is
    read, and its error reported, the long way)."""
    try:
        parts: list[object] = [where, tuple(_map(spec.get("overhead"), "").items())]
        for field in ("containers", "initContainers"):
            for c in spec.get(field) or ():
                resources = c.get("resources") or {}
                requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
                parts.append((field, c.get("restartPolicy"), tuple(requests.items()), tuple(limits.items())))
        key = tuple(parts)
        hash(key)
    except (AttributeError, TypeError, ManifestError):
        return None
    return key


def effective_requests(spec: Json, where: str = "spec") -> Resources:
    """A pod's requests as the scheduler computes them (k8s.io/component-helpers resource.PodRequests).

    max(sum of containers + restartable init (sidecar) containers, each init container + the sidecars started
    before it) + pod overhead. One pod slot is counted, so node `pods` capacity is respected too. Remembered per
    distinct resource spec: thousands of pods of a few hundred templates parse their quantities once each.
    """
    key = _requests_key(spec, where)
    cached = _REQUESTS_CACHE.get(key) if key is not None else None
    if cached is None:
        cached = _effective_requests(spec, where)
        if key is not None:
            if len(_REQUESTS_CACHE) >= _REQUESTS_CACHE_SIZE:
                _REQUESTS_CACHE.clear()
            _REQUESTS_CACHE[key] = cached
    return cached


def _effective_requests(spec: Json, where: str) -> Resources:
    total = ZERO
    for i, c in enumerate(_list(spec.get("containers"), f"{where}.containers")):
        total = total + _container_requests(_map(c, f"{where}.containers[{i}]"), f"{where}.containers[{i}]")
    sidecars = ZERO
    init_peak = ZERO
    for i, c in enumerate(_list(spec.get("initContainers"), f"{where}.initContainers")):
        container = _map(c, f"{where}.initContainers[{i}]")
        reqs = _container_requests(container, f"{where}.initContainers[{i}]")
        if container.get("restartPolicy") == "Always":
            total = total + reqs
            sidecars = sidecars + reqs
            init_peak = init_peak.maximum(sidecars)
        else:
            init_peak = init_peak.maximum(reqs + sidecars)
    total = total.maximum(init_peak)
    overhead = Resources.parse(_map(spec.get("overhead"), f"{where}.overhead"), where=f"{where}.overhead")
    return total + overhead + Resources.of(pods=1)


def _requirement(expr: Json, where: str) -> Requirement:
    key = expr.get("key")
    if not isinstance(key, str) or not key:
        raise ManifestError(f"{where}: key is required")
    try:
        operator = Operator(str(expr.get("operator")))
    except ValueError:
        raise ManifestError(f"{where}: unknown operator {expr.get('operator')!r}") from None
    values = tuple(str(v) for v in _list(expr.get("values"), f"{where}.values"))
    return Requirement(key, operator, values)


def node_selector(spec: Json, where: str = "spec") -> NodeSelector:
    selector = tuple(
        Requirement(str(k), Operator.IN, (str(v),))
        for k, v in sorted(_map(spec.get("nodeSelector"), f"{where}.nodeSelector").items())
    )
    affinity = _map(_map(spec.get("affinity"), f"{where}.affinity").get("nodeAffinity"), "nodeAffinity")
    required = _map(affinity.get("requiredDuringSchedulingIgnoredDuringExecution"), "required node affinity")
    terms: list[NodeSelectorTerm] = []
    for i, term in enumerate(_list(required.get("nodeSelectorTerms"), f"{where}.affinity.nodeSelectorTerms")):
        t = _map(term, f"nodeSelectorTerms[{i}]")
        exprs = _list(t.get("matchExpressions"), f"nodeSelectorTerms[{i}].matchExpressions")
        reqs = tuple(_requirement(_map(e, "matchExpression"), f"nodeSelectorTerms[{i}]") for e in exprs)
        # matchFields only supports metadata.name (a specific node): no new node can match it.
        fields = _list(t.get("matchFields"), f"nodeSelectorTerms[{i}].matchFields")
        reqs += tuple(
            Requirement("metadata.name", Operator.IN, tuple(str(v) for v in _list(_map(f, "f").get("values"), "v")))
            for f in fields
        )
        terms.append(NodeSelectorTerm(reqs))
    return NodeSelector(selector, tuple(terms))


def tolerations(spec: Json, where: str = "spec") -> tuple[Toleration, ...]:
    out = []
    for i, t in enumerate(_list(spec.get("tolerations"), f"{where}.tolerations")):
        tol = _map(t, f"{where}.tolerations[{i}]")
        out.append(
            Toleration(
                key=str(tol.get("key") or ""),
                operator=str(tol.get("operator") or "Equal"),
                value=str(tol.get("value") or ""),
                effect=str(tol.get("effect") or ""),
            )
        )
    return tuple(out)


def taints(spec: Json) -> tuple[Taint, ...]:
    return tuple(
        Taint(str(t.get("key", "")), str(t.get("value") or ""), str(t.get("effect") or "NoSchedule"))
        for t in _list(spec.get("taints"), "spec.taints")
        if isinstance(t, Mapping)
    )


def pod_from_manifest(obj: Json, replicas: int | None = None) -> Pod:
    """Build a Pod (with `replicas`: a workload's identical replicas, see Pod.replicas); raise ManifestError
    (naming the pod and the field) if it cannot be read."""
    with _reading(obj, "Pod"):
        meta = _map(obj.get("metadata"), "metadata")
        spec = _map(obj.get("spec"), "spec")
        status = _map(obj.get("status"), "status")
        unschedulable = _has_condition(status, "PodScheduled", "False", reason="Unschedulable")
        return Pod(
            namespace=str(meta.get("namespace") or "default"),
            name=str(meta.get("name") or meta.get("generateName") or ""),
            uid=str(meta.get("uid") or ""),
            requests=effective_requests(spec),
            labels=_strings(meta.get("labels"), "metadata.labels"),
            annotations=_strings(meta.get("annotations"), "metadata.annotations"),
            node_selector=node_selector(spec),
            tolerations=tolerations(spec),
            owners=tuple(
                OwnerRef(str(o.get("kind", "")), str(o.get("name", "")), bool(o.get("controller")))
                for o in _list(meta.get("ownerReferences"), "metadata.ownerReferences")
                if isinstance(o, Mapping)
            ),
            node_name=str(spec.get("nodeName") or ""),
            phase=str(status.get("phase") or "Pending"),
            unschedulable=unschedulable,
            scheduling_gates=tuple(
                str(g.get("name", "")) for g in _list(spec.get("schedulingGates"), "spec.schedulingGates")
            ),
            priority=int(spec.get("priority") or 0),
            created_at=_time(meta.get("creationTimestamp")),
            resource_version=str(meta.get("resourceVersion") or ""),
            deleting=bool(meta.get("deletionTimestamp")),
            replicas=replicas,
        )


def node_from_manifest(obj: Json) -> Node:
    with _reading(obj, "Node"):
        meta = _map(obj.get("metadata"), "metadata")
        spec = _map(obj.get("spec"), "spec")
        status = _map(obj.get("status"), "status")
        ready = _has_condition(status, "Ready", "True")
        capacity = Resources.parse(_map(status.get("capacity"), "status.capacity"), where="status.capacity")
        allocatable = Resources.parse(_map(status.get("allocatable"), "status.allocatable"), where="status.allocatable")
        return Node(
            name=str(meta.get("name") or ""),
            labels=_strings(meta.get("labels"), "metadata.labels"),
            annotations=_strings(meta.get("annotations"), "metadata.annotations"),
            taints=taints(spec),
            capacity=capacity,
            allocatable=allocatable,
            provider_id=str(spec.get("providerID") or ""),
            ready=ready,
            unschedulable=bool(spec.get("unschedulable")),
            created_at=_time(meta.get("creationTimestamp")),
            resource_version=str(meta.get("resourceVersion") or ""),
        )


def daemonset_from_manifest(obj: Json) -> DaemonSet:
    with _reading(obj, "DaemonSet"):
        meta = _map(obj.get("metadata"), "metadata")
        template = _map(_map(obj.get("spec"), "spec").get("template"), "spec.template")
        spec = _map(template.get("spec"), "spec.template.spec")
        return DaemonSet(
            namespace=str(meta.get("namespace") or "default"),
            name=str(meta.get("name") or ""),
            requests=effective_requests(spec, "spec.template.spec"),
            node_selector=node_selector(spec, "spec.template.spec"),
            tolerations=tolerations(spec, "spec.template.spec"),
        )


def pdb_from_manifest(obj: Json) -> DisruptionBudget:
    with _reading(obj, "PodDisruptionBudget"):
        meta = _map(obj.get("metadata"), "metadata")
        selector = _map(_map(obj.get("spec"), "spec").get("selector"), "spec.selector")
        status = _map(obj.get("status"), "status")
        exprs = tuple(
            (str(e.get("key")), str(e.get("operator")), tuple(str(v) for v in _list(e.get("values"), "values")))
            for e in _list(selector.get("matchExpressions"), "spec.selector.matchExpressions")
            if isinstance(e, Mapping)
        )
        return DisruptionBudget(
            namespace=str(meta.get("namespace") or "default"),
            name=str(meta.get("name") or ""),
            match_labels=_strings(selector.get("matchLabels"), "spec.selector.matchLabels"),
            match_expressions=exprs,
            disruptions_allowed=int(status.get("disruptionsAllowed") or 0),
        )
