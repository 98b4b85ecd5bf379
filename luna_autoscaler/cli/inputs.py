"""Reading Kubernetes manifests from files for the offline commands (`plan`, `simulate --pods`).

Accepts YAML or JSON, multi-document streams, `kind: List`, and workload objects (Deployment, ReplicaSet,
StatefulSet, Job, CronJob) expanded into the pods they would create, so that `plan` answers "what would this
cost" for the manifests a team already has. Errors name the file and the document.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from luna_autoscaler.errors import ManifestError

_WORKLOAD_KINDS = {"Deployment", "ReplicaSet", "StatefulSet", "Job", "CronJob", "ReplicationController"}


def read_documents(path: str) -> list[Mapping[str, Any]]:
    """Every object in a file (`-`: standard input), with `kind: List` flattened."""
    where = "standard input" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as e:
        raise ManifestError(f"{where}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ManifestError(f"{where}: not UTF-8 text (byte {e.start}): manifests are YAML or JSON") from None
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        raise ManifestError(f"{where}: not valid YAML or JSON: {e}") from None
    except ValueError as e:  # a number past Python's 4,300-digit limit for int()
        raise ManifestError(f"{where}: a value cannot be read: {e}") from None
    except RecursionError:
        raise ManifestError(f"{where}: nested too deeply to read") from None
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


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    """`value` when it is a mapping, {} when absent; anything else is a ManifestError naming the field."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ManifestError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _spec(doc: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """The spec that holds replicas and the pod template (a CronJob's is inside its jobTemplate)."""
    spec = _mapping(doc.get("spec"), f"{where}: spec")
    if doc["kind"] == "CronJob":
        job = _mapping(spec.get("jobTemplate"), f"{where}: spec.jobTemplate")
        spec = _mapping(job.get("spec"), f"{where}: spec.jobTemplate.spec")
    return spec


def _replicas(doc: Mapping[str, Any], where: str) -> int:
    kind = doc["kind"]
    spec = _spec(doc, where)
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


def _template(doc: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    return _mapping(_spec(doc, where).get("template"), f"{where}: pod template")


def expand_pods(doc: Mapping[str, Any], where: str = "") -> list[dict[str, Any]]:
    """A Pod stays itself; a workload becomes its replicas' pods (`<name>-<i>`), pending and unscheduled."""
    kind = doc["kind"]
    if kind == "Pod":
        return [dict(doc)]
    if kind not in _WORKLOAD_KINDS:
        return []
    meta = _mapping(doc.get("metadata"), f"{where or kind}: metadata")
    name = meta.get("name") or "workload"
    where = where or f"{kind} {name}"
    template = _template(doc, where)
    template_meta = dict(_mapping(template.get("metadata"), f"{where}: spec.template.metadata"))
    pods = []
    for i in range(_replicas(doc, where)):
        pod_meta = dict(template_meta)
        pod_meta["name"] = f"{name}-{i}"
        pod_meta["namespace"] = meta.get("namespace") or "default"
        pod_meta["ownerReferences"] = [{"kind": kind, "name": name, "controller": True}]
        pods.append({"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}})
    return pods
