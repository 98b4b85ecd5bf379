"""What each verb does to a resource, independent of HTTP: the API server's semantics the adapter relies on.

- writes check optimistic concurrency (a stale metadata.resourceVersion in a PUT or patch is a 409);
- the main resource and its `status` subresource own separate parts of the object, as for built-in types;
- `pods/eviction` honours PodDisruptionBudgets (429 when none may be disrupted, and decrements
  `disruptionsAllowed` when one may), and a uid precondition (409 when the pod was replaced);
- lists paginate (`limit`/`continue`) over a consistent snapshot;
- a few fields are validated where a real server rejects them: required Event fields, MicroTime formats.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from tests.kubeapi.errors import ApiError, status_object
from tests.kubeapi.patches import apply_patch
from tests.kubeapi.resources import ResourceType, resource_of
from tests.kubeapi.routing import Request, Target
from tests.kubeapi.selectors import field_selector, field_value, label_selector
from tests.kubeapi.store import Obj, Store

# Fields a real API server requires on create (validation), by resource.
_REQUIRED = {
    ("events.k8s.io", "events"): ("eventTime", "reportingController", "reportingInstance", "action", "reason"),
    ("", "events"): ("involvedObject",),
}
# MicroTime fields: the API server parses them with Go's RFC3339Micro layout, which demands six fraction digits.
_MICRO_TIMES = {
    ("events.k8s.io", "events"): ("eventTime",),
    ("coordination.k8s.io", "leases"): ("spec.acquireTime", "spec.renewTime"),
}
_MICRO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)")
_PAGED_LISTS_KEPT = 32


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A LabelSelector object (matchLabels + matchExpressions) against labels. An empty selector selects all."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or ()
        present = key in labels
        if (
            (op == "In" and not (present and labels[key] in values))
            or (op == "NotIn" and present and labels[key] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def _labels(obj: Obj) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


class ResourceApi:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._pages: OrderedDict[str, tuple[list[Obj], int]] = OrderedDict()
        self._pages_lock = threading.Lock()
        self._page_ids = itertools.count(1)

    # -- helpers ------------------------------------------------------------------------------------------------

    @staticmethod
    def namespace_of(target: Target) -> str:
        return (target.namespace or "default") if target.resource.namespaced else ""

    @staticmethod
    def _check_body(target: Target, body: Any) -> Obj:
        rt = target.resource
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
            raise ApiError.bad_request("the body must be a JSON object with an object metadata")
        if not body.get("kind"):
            raise ApiError.bad_request("Object 'Kind' is missing in the request body")
        if resource_of(str(body.get("apiVersion", "")), str(body["kind"])) is not rt:
            raise ApiError.bad_request(
                f"the API version in the data ({body.get('apiVersion')}) does not match the expected API version "
                f"({rt.api_version}) and kind {rt.kind}"
            )
        ns = body.get("metadata", {}).get("namespace")
        if rt.namespaced and ns and target.namespace and ns != target.namespace:
            raise ApiError.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        return body

    @staticmethod
    def _validate(target: Target, body: Obj) -> Obj:
        rt = target.resource
        name = body["metadata"].get("name") or body["metadata"].get("generateName", "")
        for path in _MICRO_TIMES.get((rt.group, rt.plural), ()):
            value = field_value(body, path)
            if value and not _MICRO_TIME.fullmatch(value):
                raise ApiError.bad_request(
                    f'{rt.kind} "{name}": {path}: parsing time "{value}" as "2006-01-02T15:04:05.000000Z07:00": '
                    "cannot parse as .000000"
                )
        return body

    @staticmethod
    def _split_status(target: Target, current: Obj, new: Obj) -> Obj:
        """A write to the main resource keeps the stored status; a write to /status keeps everything else."""
        rt = target.resource
        if target.subresource == "status":
            merged = {
                **current,
                "metadata": {
                    **current["metadata"],
                    "resourceVersion": new["metadata"].get("resourceVersion", current["metadata"]["resourceVersion"]),
                },
            }
            if "status" in new:
                merged["status"] = new["status"]
            return merged
        if rt.has_status:
            kept = {k: v for k, v in new.items() if k != "status"}
            if "status" in current:
                kept["status"] = current["status"]
            return kept
        return new

    def matcher(self, req: Request) -> Callable[[Obj], bool]:
        by_label = label_selector(req.query.get("labelSelector"))
        by_field = field_selector(
            req.query.get("fieldSelector"), req.target.resource.fields if req.target else frozenset()
        )
        return lambda obj: by_label(obj) and by_field(obj)

    # -- verbs --------------------------------------------------------------------------------------------------

    def get(self, target: Target) -> Obj:
        assert target.name is not None
        return self.store.get(target.resource, self.namespace_of(target), target.name)

    def list(self, req: Request) -> Obj:
        target = req.target
        assert target is not None
        token = req.query.get("continue")
        limit = int(req.query.get("limit") or 0)
        if token:
            with self._pages_lock:
                page = self._pages.pop(token, None)
            if page is None:
                raise ApiError.expired(
                    "The provided continue parameter is too old to display a consistent list result."
                )
            items, rv = page
        else:
            ns = target.namespace if target.resource.namespaced else None
            items, rv = self.store.list(target.resource, ns, self.matcher(req))
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if limit and len(items) > limit:
            rest = items[limit:]
            items = items[:limit]
            next_token = f"page-{next(self._page_ids)}"
            with self._pages_lock:
                self._pages[next_token] = (rest, rv)
                while len(self._pages) > _PAGED_LISTS_KEPT:
                    self._pages.popitem(last=False)
            meta.update({"continue": next_token, "remainingItemCount": len(rest)})
        rt = target.resource
        return {"apiVersion": rt.api_version, "kind": f"{rt.kind}List", "metadata": meta, "items": items}

    def create(self, target: Target, body: Any) -> Obj:
        if target.subresource == "eviction":
            return self._evict(target, body)
        if target.name is not None:
            raise ApiError(405, "MethodNotAllowed", "POST to a named object is not allowed")
        body = self._check_body(target, body)
        body = self._validate(target, body)
        missing = [f for f in _REQUIRED.get((target.resource.group, target.resource.plural), ()) if not body.get(f)]
        if missing:
            name = body["metadata"].get("name") or body["metadata"].get("generateName", "")
            raise ApiError.invalid(target.resource.kind, name, "; ".join(f"{f}: Required value" for f in missing))
        return self.store.create(target.resource, self.namespace_of(target), body)

    def update(self, target: Target, body: Any) -> Obj:
        assert target.name is not None
        body = self._validate(target, self._check_body(target, body))
        return self.store.update(
            target.resource,
            self.namespace_of(target),
            target.name,
            lambda current: self._split_status(target, current, body),
            expected_rv=lambda new: body["metadata"].get("resourceVersion"),
        )

    def patch(self, target: Target, content_type: str, patch: Any) -> Obj:
        assert target.name is not None
        name = target.name

        def change(current: Obj) -> Obj:
            return self._split_status(
                target, current, apply_patch(content_type, current, patch, what=target.resource.kind, name=name)
            )

        return self.store.update(
            target.resource,
            self.namespace_of(target),
            name,
            change,
            expected_rv=lambda new: (new.get("metadata") or {}).get("resourceVersion"),
        )

    def delete(self, target: Target, body: Any) -> Obj:
        assert target.name is not None
        uid = ((body or {}).get("preconditions") or {}).get("uid") if isinstance(body, dict) else None
        return self.store.delete(target.resource, self.namespace_of(target), target.name, uid=uid)

    def _evict(self, target: Target, body: Any) -> Obj:
        assert target.name is not None
        ns = self.namespace_of(target)
        if not isinstance(body, dict) or body.get("kind") != "Eviction":
            raise ApiError.bad_request("Object 'Kind' is missing or not Eviction in the request body")
        pods = target.resource
        pdb_type = resource_of("policy/v1", "PodDisruptionBudget")
        assert pdb_type is not None
        with self.store.consistent():
            pod = self.store.get(pods, ns, target.name)
            uid = ((body.get("deleteOptions") or {}).get("preconditions") or {}).get("uid")
            if uid and pod["metadata"].get("uid") != uid:
                raise ApiError.conflict("pods", target.name, "the UID in the precondition does not match")
            phase = (pod.get("status") or {}).get("phase")
            if phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp"):
                pdbs, _ = self.store.list(
                    pdb_type, ns, lambda pdb: selects((pdb.get("spec") or {}).get("selector") or {}, _labels(pod))
                )
                if len(pdbs) > 1:
                    raise ApiError(
                        500,
                        "InternalError",
                        "This pod has more than one PodDisruptionBudget, which the "
                        "eviction subresource does not support.",
                    )
                if pdbs:
                    self._take_disruption(pdb_type, pdbs[0])
            self.store.delete(pods, ns, target.name, uid=uid)
        return status_object(201, "", "")

    def _take_disruption(self, pdb_type: ResourceType, pdb: Obj) -> None:
        status = pdb.get("status") or {}
        allowed = int(status.get("disruptionsAllowed") or 0)
        name = pdb["metadata"]["name"]
        if allowed <= 0:
            raise ApiError(
                429,
                "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                {
                    "causes": [
                        {
                            "reason": "DisruptionBudget",
                            "message": f"The disruption budget {name} needs "
                            f"{status.get('desiredHealthy', 0)} healthy pods and has "
                            f"{status.get('currentHealthy', 0)} currently",
                        }
                    ]
                },
            )
        self.store.update(
            pdb_type,
            pdb["metadata"]["namespace"],
            name,
            lambda cur: {**cur, "status": {**(cur.get("status") or {}), "disruptionsAllowed": allowed - 1}},
        )
