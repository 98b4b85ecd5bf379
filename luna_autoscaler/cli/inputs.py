"""Reading Kubernetes manifests from files for the offline commands (`plan`, `simulate --pods`).

Accepts YAML or JSON, multi-document streams, `kind: List`, and workload objects (Deployment, ReplicaSet,
StatefulSet, Job, CronJob, and the ML custom resources of models.pod_templates) read as the pods they would
create, so that `plan` answers "what would this cost" for the manifests a team already has. Errors name the file
and the document.

At the speed of the planner: a JSON file (what `kubectl get -o json` writes) is read by the json module in C,
YAML by libyaml's CSafeLoader (PyYAML's pure-Python parser is some 20x slower and was 90 % of `plan`'s time on
8,000 pods; where PyYAML was built without libyaml it is used with one warning). A workload's replicas are one
pod value with a count (Pod.replicas), never one object per replica, and `plan` refuses more than MAX_PODS pods.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from luna_autoscaler.config import yaml_problem
from luna_autoscaler.errors import ManifestError
from luna_autoscaler.models.pod_templates import WORKLOAD_KINDS, TemplateGroup, pod_templates

_WORKLOAD_KINDS = {"Deployment", "ReplicaSet", "StatefulSet", "Job", "CronJob", "ReplicationController"}
MAX_PODS = 1_000_000  # per `plan`: the plan lists every pod by name, so more would not fit in memory anyway


def _parse(text: str) -> list[Any]:
    """The documents of a YAML or JSON stream, in one pass of a C parser where one is installed."""
    if text.lstrip()[:1] in ("{", "["):
        try:
            return [json.loads(text)]
        except ValueError:
            pass  # JSON-looking YAML (a flow mapping, several JSON documents): the YAML parser reads it
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        warnings.warn("PyYAML has no libyaml (CSafeLoader): reading YAML slowly", RuntimeWarning, stacklevel=3)
        loader = yaml.SafeLoader
    return list(yaml.load_all(text, Loader=loader))


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
    except UnicodeDecodeError as e:
        raise ManifestError(f"{where}: not UTF-8 text (byte {e.start}): manifests are YAML or JSON") from None
    try:
        docs = _parse(text)
    except yaml.YAMLError as e:
        raise ManifestError(f"{where}: {yaml_problem(e)}") from None
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


def produces_pods(kind: str) -> bool:
    """Whether `pod_manifests` makes pods of this kind (so `plan` can warn about the kinds it ignores)."""
    return kind == "Pod" or kind in _WORKLOAD_KINDS or kind in WORKLOAD_KINDS


def pod_manifests(doc: Mapping[str, Any], where: str = "") -> list[tuple[Mapping[str, Any], int | None]]:
    """The pods an object stands for, each with its replica count (Pod.replicas): a Pod is itself (None); a
    workload is one pending pod manifest per pod template, named after it, with its replicas (`<name>-<i>`); none
    for a template of 0 replicas. Workload custom resources (RayCluster, PyTorchJob, JobSet...) have one template
    per group (models.pod_templates)."""
    kind = doc["kind"]
    if kind == "Pod":
        return [(doc, None)]
    meta = _mapping(doc.get("metadata"), f"{where or kind}: metadata")
    name = meta.get("name") or "workload"
    where = where or f"{kind} {name}"
    if kind in _WORKLOAD_KINDS:
        groups: list[TemplateGroup] | None = [(name, _replicas(doc, where), _template(doc, where))]
    else:
        groups = pod_templates(doc, where)
    out: list[tuple[Mapping[str, Any], int | None]] = []
    for prefix, replicas, template in groups or ():
        if replicas > MAX_PODS:
            raise ManifestError(f"{where}: {replicas} replicas, more than plan reads ({MAX_PODS})")
        if not replicas:
            continue
        pod_meta = dict(_mapping(template.get("metadata"), f"{where}: spec.template.metadata"))
        pod_meta["name"] = prefix
        pod_meta["namespace"] = meta.get("namespace") or "default"
        pod_meta["ownerReferences"] = [{"kind": kind, "name": name, "controller": True}]
        manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}}
        out.append((manifest, replicas))
    return out
