"""The three PATCH flavours the official client sends, applied as the API server applies them.

- JSON merge patch (RFC 7386): maps merge recursively, `null` deletes, lists are replaced.
- Strategic merge patch: like merge patch, except lists whose Go type declares `patchStrategy:"merge"` merge
  element by element on their merge key (`conditions` by `type`, `containers` by `name`...); every other list
  (taints, tolerations) is replaced. `$patch: delete` on a list element removes it, `$patch: replace` on a map
  replaces it; the client's `$setElementOrder/...` and `$retainKeys` hints are accepted and ignored.
- JSON patch (RFC 6902) through the jsonpatch package; a failed `test` op is a 422 as on a real server.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from tests.kubeapi.errors import ApiError

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

# Lists with patchStrategy=merge in k8s.io/api, by field name → merge key (None: a set of primitives).
_MERGE_KEYS: dict[str, str | None] = {
    "conditions": "type",
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "ownerReferences": "uid",
    "addresses": "type",
    "imagePullSecrets": "name",
    "finalizers": None,
}


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _strategic_list(field: str, target: Any, patch: list[Any]) -> list[Any]:
    if field not in _MERGE_KEYS or not isinstance(target, list):
        return [_strip_directives(v) for v in patch]
    key = _MERGE_KEYS[field]
    out = list(target)
    if key is None:
        out.extend(v for v in patch if v not in out)
        return out
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise ApiError.bad_request(f"{field}: every element needs the merge key {key!r}")
        index = next((i for i, cur in enumerate(out) if isinstance(cur, dict) and cur.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del out[index]
        elif index is None:
            out.append(_strip_directives(item))
        else:
            out[index] = strategic_merge_patch(out[index], item)
    return out


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return _strip_directives(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list):
            out[key] = _strategic_list(key, out.get(key), value)
        else:
            out[key] = strategic_merge_patch(out.get(key), value)
    return out


def apply_patch(content_type: str, target: dict[str, Any], patch: Any, *, what: str, name: str) -> dict[str, Any]:
    media = content_type.split(";", maxsplit=1)[0].strip()
    if media == JSON_PATCH:
        if not isinstance(patch, list):
            raise ApiError.bad_request("a JSON patch must be a list of operations")
        try:
            result = jsonpatch.apply_patch(target, patch)
        except jsonpatch.JsonPatchTestFailed as e:
            raise ApiError.invalid(what, name, f"the test operation failed: {e}") from e
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
            raise ApiError(422, "Invalid", f"invalid JSON patch: {e}") from e
    elif media == MERGE_PATCH:
        result = merge_patch(target, patch)
    elif media == STRATEGIC_MERGE_PATCH:
        result = strategic_merge_patch(target, patch)
    else:
        raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {media}")
    if not isinstance(result, dict):
        raise ApiError.bad_request("the patch did not produce an object")
    return result
