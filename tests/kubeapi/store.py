"""The fake server's storage: objects, one global resourceVersion counter, and a bounded history of changes.

Like etcd behind a real API server, every write bumps one cluster-wide counter and is recorded in a history that
new watches replay from, then pushed to every open watch; the history is bounded (or compacted on demand), so a
watch *starting* from a version that fell out of it gets 410 Expired and the client must re-list. Stored objects are never mutated in place (writes replace
them), so lists, watch events and responses can share them without copying.
"""

from __future__ import annotations

import secrets
import string
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.kubeapi.errors import ApiError
from tests.kubeapi.resources import ResourceType

Obj = dict[str, Any]
_ALNUM = string.ascii_lowercase + string.digits
_IGNORED_ON_COMPARE = ("resourceVersion", "managedFields")


@dataclass(frozen=True, slots=True)
class Change:
    rv: int
    resource: ResourceType
    type: str  # ADDED | MODIFIED | DELETED
    old: Obj | None
    new: Obj


class Subscription:
    """An open watch's queue: changes are pushed to it as they happen, like the API server's watch cache does,
    so compacting the history never cuts a stream that is already open."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending: list[Change] = []


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise ApiError.bad_request("metadata must be an object")
    return meta


def _same_content(a: Obj, b: Obj) -> bool:
    def strip(o: Obj) -> Obj:
        meta = {k: v for k, v in o.get("metadata", {}).items() if k not in _IGNORED_ON_COMPARE}
        return {**o, "metadata": meta}

    return strip(a) == strip(b)


class Store:
    def __init__(self, *, history: int = 10_000) -> None:
        self._cond = threading.Condition()
        self._rv = 0
        self._objects: dict[ResourceType, dict[tuple[str, str], Obj]] = {}
        self._history: list[Change] = []
        self._history_limit = history
        self._compacted = 0  # highest resourceVersion no longer in the history
        self._subscribers: set[Subscription] = set()
        self._closed = False

    # -- reading ------------------------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        with self._cond:
            return self._rv

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        with self._cond:
            obj = self._objects.get(rt, {}).get((namespace, name))
        if obj is None:
            raise ApiError.not_found(str(rt), name)
        return obj

    def list(self, rt: ResourceType, namespace: str | None, match: Callable[[Obj], bool]) -> tuple[list[Obj], int]:
        """Matching objects sorted by namespace/name, and the resourceVersion they are consistent with."""
        with self._cond:
            items = sorted(self._objects.get(rt, {}).items())
            rv = self._rv
        return [o for (ns, _), o in items if (namespace is None or ns == namespace) and match(o)], rv

    @contextmanager
    def consistent(self) -> Iterator[None]:
        """Hold writes off (e.g. to list and start a watch at one resourceVersion)."""
        with self._cond:
            yield

    def changes_after(self, rv: int) -> list[Change]:
        """Every change with a resourceVersion above `rv`; 410 Expired if some fell out of the history."""
        with self._cond:
            if rv < self._compacted:
                raise ApiError.expired(f"too old resource version: {rv} ({self._compacted + 1})")
            lo, hi = 0, len(self._history)
            while lo < hi:
                mid = (lo + hi) // 2
                if self._history[mid].rv <= rv:
                    lo = mid + 1
                else:
                    hi = mid
            return self._history[lo:]

    def subscribe(self) -> Subscription:
        """Receive every change from now on (call under `consistent()` to line up with a list or a replay)."""
        subscription = Subscription()
        with self._cond:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._cond:
            self._subscribers.discard(subscription)

    def next_changes(self, subscription: Subscription, timeout_seconds: float) -> list[Change]:
        """The changes delivered to a subscription since the last call, waiting up to the timeout for one."""
        with self._cond:
            self._cond.wait_for(lambda: subscription.pending or self._closed, timeout=timeout_seconds)
            changes, subscription.pending = subscription.pending, []
            return changes

    @property
    def closed(self) -> bool:
        return self._closed

    # -- writing ------------------------------------------------------------------------------------------------

    def _record(self, rt: ResourceType, type_: str, old: Obj | None, new: Obj) -> None:
        change = Change(self._rv, rt, type_, old, new)
        for subscription in self._subscribers:
            subscription.pending.append(change)
        self._history.append(change)
        if len(self._history) > self._history_limit:
            drop = len(self._history) - self._history_limit
            self._compacted = self._history[drop - 1].rv
            del self._history[:drop]
        self._cond.notify_all()

    def _stamp(self, obj: Obj) -> Obj:
        self._rv += 1
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self._rv)}}

    def create(self, rt: ResourceType, namespace: str, obj: Obj) -> Obj:
        meta = dict(_meta(obj))
        if not meta.get("name"):
            prefix = meta.get("generateName")
            if not prefix:
                raise ApiError.invalid(rt.kind, "", "metadata.name: Required value: name or generateName is required")
            meta["name"] = prefix + "".join(secrets.choice(_ALNUM) for _ in range(5))
        if rt.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_rfc3339())
        meta.pop("resourceVersion", None)
        key = (namespace if rt.namespaced else "", meta["name"])
        with self._cond:
            objects = self._objects.setdefault(rt, {})
            if key in objects:
                raise ApiError.already_exists(str(rt), meta["name"])
            stored = self._stamp({**obj, "apiVersion": rt.api_version, "kind": rt.kind, "metadata": meta})
            objects[key] = stored
            self._record(rt, "ADDED", None, stored)
            return stored

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        change: Callable[[Obj], Obj],
        *,
        expected_rv: Callable[[Obj], str | None] = lambda new: None,
    ) -> Obj:
        """Atomically replace an object by `change(current)`.

        `expected_rv(new)` names the resourceVersion the writer based its change on (the PUT body's, or the one
        a patch carries); a mismatch is a 409 Conflict, as optimistic concurrency demands.
        """
        key = (namespace if rt.namespaced else "", name)
        with self._cond:
            objects = self._objects.setdefault(rt, {})
            current = objects.get(key)
            if current is None:
                raise ApiError.not_found(str(rt), name)
            new = change(current)
            wanted = expected_rv(new)
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise ApiError.conflict(
                    str(rt),
                    name,
                    "the object has been modified; please apply your changes to the latest version and try again",
                )
            meta = dict(_meta(new))
            if meta.get("name", name) != name:
                raise ApiError.bad_request(f"the name of the object ({meta.get('name')}) does not match {name}")
            for fixed in ("name", "namespace", "uid", "creationTimestamp"):
                if fixed in current["metadata"]:
                    meta[fixed] = current["metadata"][fixed]
                else:
                    meta.pop(fixed, None)
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            new = {**new, "apiVersion": rt.api_version, "kind": rt.kind, "metadata": meta}
            if _same_content(new, current):
                return current
            stored = self._stamp(new)
            objects[key] = stored
            self._record(rt, "MODIFIED", current, stored)
            return stored

    def delete(self, rt: ResourceType, namespace: str, name: str, *, uid: str | None = None) -> Obj:
        key = (namespace if rt.namespaced else "", name)
        with self._cond:
            objects = self._objects.setdefault(rt, {})
            current = objects.get(key)
            if current is None:
                raise ApiError.not_found(str(rt), name)
            if uid and current["metadata"].get("uid") != uid:
                raise ApiError.conflict(
                    str(rt),
                    name,
                    f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                    f"{current['metadata'].get('uid')}",
                )
            del objects[key]
            stored = self._stamp(current)
            self._record(rt, "DELETED", current, stored)
            return stored

    def compact(self) -> None:
        """Forget the whole history, as etcd compaction does: every older watch position becomes 410 Expired."""
        with self._cond:
            self._compacted = self._rv
            self._history.clear()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
