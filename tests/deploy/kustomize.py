"""A small kustomize renderer, so that the manifests under deploy/ are rendered and checked on any machine.

The kustomize binary (or `kubectl kustomize`) is not a Python dependency and CI cannot be sure to have it. This
renderer supports exactly the features deploy/ uses and refuses everything else with `UnsupportedKustomization`,
so a new feature in a kustomization cannot be silently mis-rendered:

- `resources` (files and directories), `components` (kind Component), `namespace`, `labels` (pairs, without
  selectors or templates), `images` (newName, newTag, digest);
- `patches` given by `path` or inline `patch`: a strategic-merge patch (a mapping; its target is the object of
  the same kind and name unless `target` says otherwise) or a JSON 6902 patch (a list, with a `target`).

Strategic merge follows Kubernetes' patch strategy for the lists it touches: containers, initContainers, env and
volumes merge by `name`, volumeMounts by `mountPath` (in kustomize's order: the patch's items, then the others);
other lists of scalars are replaced (args, command, verbs), and any other list of mappings is refused. test_kustomize_renderer.py compares the output with `kubectl
kustomize` wherever that is installed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonpatch
import yaml

Manifest = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_SUPPORTED_FIELDS = frozenset(
    {"apiVersion", "kind", "metadata", "resources", "components", "namespace", "labels", "images", "patches"}
)
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PriorityClass",
        "StorageClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)
# Strategic-merge keys of the lists a patch may touch (from the Kubernetes API's patchMergeKey).
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}


class UnsupportedKustomization(Exception):
    """The kustomization uses a feature this renderer does not implement."""


@dataclass(frozen=True)
class ObjectId:
    kind: str
    name: str
    namespace: str

    @staticmethod
    def of(obj: Mapping[str, Any]) -> ObjectId:
        meta = obj.get("metadata") or {}
        return ObjectId(obj["kind"], meta["name"], meta.get("namespace", ""))


def render(directory: Path) -> list[Manifest]:
    """The objects `kustomize build directory` would output (in resource order, not kustomize's kind order)."""
    return _build(directory, expect_kind="Kustomization")


def _load_kustomization(directory: Path) -> Manifest:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            doc = yaml.safe_load(path.read_text())
            unknown = set(doc) - _SUPPORTED_FIELDS
            if unknown:
                raise UnsupportedKustomization(f"{path}: fields {sorted(unknown)} are not supported by this renderer")
            return dict(doc)
    raise FileNotFoundError(f"no kustomization file in {directory}")


def _build(directory: Path, *, expect_kind: str) -> list[Manifest]:
    k = _load_kustomization(directory)
    kind = k.get("kind", "Kustomization")
    if kind != expect_kind:
        raise UnsupportedKustomization(f"{directory}: expected kind {expect_kind}, found {kind}")
    objects: list[Manifest] = []
    for entry in k.get("resources", []):
        path = directory / entry
        objects.extend(_build(path, expect_kind="Kustomization") if path.is_dir() else _load_objects(path))
    _check_unique(objects, directory)
    for entry in k.get("components", []):
        objects = _apply_component(directory / entry, objects)
    return _transform(directory, k, objects)


def _apply_component(directory: Path, objects: list[Manifest]) -> list[Manifest]:
    k = _load_kustomization(directory)
    if k.get("kind") != "Component":
        raise UnsupportedKustomization(f"{directory}: a component must have kind Component")
    combined = objects + [obj for entry in k.get("resources", []) for obj in _load_objects(directory / entry)]
    _check_unique(combined, directory)
    if k.get("components"):
        raise UnsupportedKustomization(f"{directory}: nested components are not supported")
    return _transform(directory, k, combined)


def _transform(directory: Path, k: Mapping[str, Any], objects: list[Manifest]) -> list[Manifest]:
    objects = [copy.deepcopy(o) for o in objects]
    for patch in k.get("patches", []):
        _apply_patch(directory, patch, objects)
    if "namespace" in k:
        _set_namespace(objects, k["namespace"])
    for label_set in k.get("labels", []):
        _add_labels(objects, label_set)
    for image in k.get("images", []):
        _set_image(objects, image)
    return objects


def _load_objects(path: Path) -> list[Manifest]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d or "metadata" not in d:
            raise UnsupportedKustomization(f"{path}: every document must be a Kubernetes object")
    return docs


def _check_unique(objects: Iterable[Manifest], where: Path) -> None:
    seen: set[ObjectId] = set()
    for obj in objects:
        oid = ObjectId.of(obj)
        if oid in seen:
            raise ValueError(f"{where}: {oid} is defined twice")
        seen.add(oid)


def _apply_patch(directory: Path, spec: Mapping[str, Any], objects: list[Manifest]) -> None:
    unknown = set(spec) - {"path", "patch", "target"}
    if unknown:
        raise UnsupportedKustomization(f"{directory}: patch fields {sorted(unknown)} are not supported")
    text = (directory / spec["path"]).read_text() if "path" in spec else spec["patch"]
    body = yaml.safe_load(text)
    target = spec.get("target")
    if isinstance(body, list):
        if target is None:
            raise ValueError(f"{directory}: a JSON 6902 patch needs a target")
        for obj in _targets(objects, target, directory):
            patched = jsonpatch.JsonPatch(body).apply(obj)
            obj.clear()
            obj.update(patched)
        return
    if not isinstance(body, dict):
        raise ValueError(f"{directory}: a patch is a mapping (strategic merge) or a list (JSON 6902)")
    if target is None:
        meta = body.get("metadata") or {}
        target = {"kind": body["kind"], "name": meta["name"]}
    for obj in _targets(objects, target, directory):
        merged = _strategic_merge(obj, body, path=())
        obj.clear()
        obj.update(merged)


def _targets(objects: list[Manifest], target: Mapping[str, Any], directory: Path) -> list[Manifest]:
    unknown = set(target) - {"kind", "name", "namespace"}
    if unknown:
        raise UnsupportedKustomization(f"{directory}: patch target fields {sorted(unknown)} are not supported")
    found = [
        o
        for o in objects
        if all(
            (o["metadata"].get(field, "") if field != "kind" else o["kind"]) == value for field, value in target.items()
        )
    ]
    if not found:
        raise ValueError(f"{directory}: no object matches patch target {dict(target)}")
    return found


def _strategic_merge(base: Any, patch: Any, *, path: tuple[str, ...]) -> Any:
    if isinstance(patch, dict):
        if any(key.startswith("$") for key in patch):
            raise UnsupportedKustomization(f"{'.'.join(path)}: patch directives ($patch, ...) are not supported")
        out = dict(base) if isinstance(base, dict) else {}
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _strategic_merge(out.get(key), value, path=(*path, key))
        return out
    if isinstance(patch, list):
        field = path[-1] if path else ""
        if field in _MERGE_KEYS:
            return _merge_list(base or [], patch, _MERGE_KEYS[field], path)
        if any(isinstance(item, (dict, list)) for item in patch):
            raise UnsupportedKustomization(f"{'.'.join(path)}: merging this list of objects is not supported")
        return list(patch)
    return patch


def _merge_list(base: list[Any], patch: list[Any], key: str, path: tuple[str, ...]) -> list[Any]:
    """kustomize's order: the patch's items first (merged into their base item), then the base's other items."""
    by_key = {item.get(key): item for item in base}
    merged = [_strategic_merge(by_key.get(item.get(key)), item, path=(*path, str(item.get(key)))) for item in patch]
    patched_keys = {item.get(key) for item in patch}
    return merged + [copy.deepcopy(item) for item in base if item.get(key) not in patched_keys]


def _set_namespace(objects: list[Manifest], namespace: str) -> None:
    service_accounts = {
        (o["metadata"]["name"], o["metadata"].get("namespace", "default"))
        for o in objects
        if o["kind"] == "ServiceAccount"
    }
    for obj in objects:
        if obj["kind"] == "Namespace":
            obj["metadata"]["name"] = namespace
        elif obj["kind"] not in CLUSTER_SCOPED_KINDS:
            obj["metadata"]["namespace"] = namespace
        if obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            for subject in obj.get("subjects", []):
                sa = (subject.get("name"), subject.get("namespace"))
                if subject.get("kind") == "ServiceAccount" and sa in service_accounts:
                    subject["namespace"] = namespace


def _add_labels(objects: list[Manifest], label_set: Mapping[str, Any]) -> None:
    if label_set.get("includeSelectors") or label_set.get("includeTemplates") or label_set.get("fields"):
        raise UnsupportedKustomization("labels with includeSelectors, includeTemplates or fields are not supported")
    for obj in objects:
        labels = obj["metadata"].setdefault("labels", {})
        labels.update({str(k): str(v) for k, v in label_set["pairs"].items()})


def _set_image(objects: list[Manifest], image: Mapping[str, Any]) -> None:
    unknown = set(image) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise UnsupportedKustomization(f"images fields {sorted(unknown)} are not supported")
    for obj in objects:
        pod_spec = _pod_spec(obj)
        if pod_spec is None:
            continue
        for container in pod_spec.get("containers", []) + pod_spec.get("initContainers", []):
            name, tag = _split_image(container["image"])
            if name != image["name"]:
                continue
            new_name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{new_name}@{image['digest']}"
            else:
                new_tag = image.get("newTag", tag)
                container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name


def _split_image(ref: str) -> tuple[str, str]:
    """`repo/name:tag` → (`repo/name`, `tag`); a registry port (`host:5000/name`) is not a tag."""
    name, _, digest = ref.partition("@")
    if digest:
        return name, ""
    head, sep, tag = name.rpartition(":")
    if sep and "/" not in tag:
        return head, tag
    return name, ""


def _pod_spec(obj: Manifest) -> dict[str, Any] | None:
    if obj["kind"] == "Pod":
        spec: dict[str, Any] = obj["spec"]
        return spec
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        template_spec: dict[str, Any] = obj["spec"]["template"]["spec"]
        return template_spec
    return None
