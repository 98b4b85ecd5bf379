"""Reading Kubernetes manifests from files for the offline commands (`plan`, `simulate --pods`).

Accepts YAML or JSON, multi-document streams, `kind: List`, and workload objects (Deployment, ReplicaSet,
StatefulSet, Job, CronJob, and the ML custom resources of models.pod_templates) expanded into the pods they would
create, so that `plan` answers "what would this cost" for the manifests a team already has. Errors name the
file and the document.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from luna_autoscaler.config import yaml_problem
from luna_autoscaler.errors import ManifestError
from luna_autoscaler.models.pod_templates import WORKLOAD_KINDS, TemplateGroup, pod_templates

_WORKLOAD_KINDS = {"Deployment", "ReplicaSet", "StatefulSet", "Job", "CronJob", "ReplicationController"}


def source_name(path: str) -> str:
    """How messages name an input file; `-` is standard input."""
    return "standard input" if path == "-" else path


def read_documents(path: str) -> list[Mapping[str, Any]]:
    """Every object in a file (`-`: standard input), with `kind: List` flattened."""
    where = source_name(path)
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as e:
        raise ManifestError(f"{where}: cannot read: {e.strerror or e}") from None
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        raise ManifestError(f"{where}: {yaml_problem(e)}") from None
    out: list[Mapping[str, Any]] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, Mapping):
            raise ManifestError(f"{where}: document {i + 1} is not a Kubernetes object (a mapping)")
        out.extend(_flatten(doc, f"{where}: document {i + 1}"))
    return out


def _flatten(doc: Mapping[str, Any], where: str) -> Iterator[Mapping[str, Any]]:
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List"):
        items = doc.get("items")
        if not isinstance(items, list):
            raise ManifestError(f"{where}: {kind} without an items list")
        for j, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise ManifestError(f"{where}: items[{j}] is not an object")
            yield from _flatten(item, f"{where} items[{j}]")
    else:
        if not isinstance(kind, str) or not kind:
            raise ManifestError(f"{where}: missing kind")
        yield doc


def _replicas(doc: Mapping[str, Any], where: str) -> int:
    kind = doc["kind"]
    spec = doc.get("spec") or {}
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    if kind in ("Job", "CronJob"):
        value = spec.get("parallelism", 1)
        completions = spec.get("completions")
        if isinstance(completions, int) and isinstance(value, int):
            value = min(value, completions)
    else:
        value = spec.get("replicas", 1)
    if not isinstance(value, int) or value < 0:
        raise ManifestError(f"{where}: replicas/parallelism must be a non-negative integer, got {value!r}")
    return value


def _template(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = doc.get("spec") or {}
    if doc["kind"] == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template")
    return template if isinstance(template, Mapping) else {}


def produces_pods(kind: str) -> bool:
    """Whether `expand_pods` makes pods of this kind (so `plan` can warn about the kinds it ignores)."""
    return kind == "Pod" or kind in _WORKLOAD_KINDS or kind in WORKLOAD_KINDS


def expand_pods(doc: Mapping[str, Any], where: str = "") -> list[dict[str, Any]]:
    """A Pod stays itself; a workload becomes its replicas' pods (`<name>-<i>`), pending and unscheduled. Workload
    custom resources (RayCluster, PyTorchJob, JobSet...) become the pods of their templates (models.pod_templates)."""
    kind = doc["kind"]
    if kind == "Pod":
        return [dict(doc)]
    meta = doc.get("metadata") or {}
    name = meta.get("name") or "workload"
    if kind in _WORKLOAD_KINDS:
        groups: list[TemplateGroup] | None = [(name, _replicas(doc, where or f"{kind} {name}"), _template(doc))]
    else:
        groups = pod_templates(doc, where)
    pods = []
    for prefix, count, template in groups or ():
        template_meta = dict(template.get("metadata") or {})
        for i in range(count):
            pod_meta = dict(template_meta)
            pod_meta["name"] = f"{prefix}-{i}"
            pod_meta["namespace"] = meta.get("namespace") or "default"
            pod_meta["ownerReferences"] = [{"kind": kind, "name": name, "controller": True}]
            pods.append({"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}})
    return pods
