"""Watch streams: replay the store's history from a resourceVersion, then follow it live.

Semantics of the real API server that clients depend on:
- `resourceVersion` unset or "0": synthetic ADDED events for the current objects first, then changes;
- a version older than the history: one ERROR event carrying a 410 Expired Status, then the stream ends;
- with label/field selectors, an object that starts to match arrives as ADDED and one that stops matching
  leaves as DELETED, so a client's view of "the matching set" stays exact;
- `timeoutSeconds` ends the stream cleanly; a dropped stream (fault injection) ends it without the final chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.kubeapi.errors import ApiError
from tests.kubeapi.resources import ResourceType
from tests.kubeapi.store import Change, Obj, Store

DEFAULT_TIMEOUT_SECONDS = 1800
_POLL_SECONDS = 0.1  # how often a quiet stream checks whether it was dropped or the server stops

Send = Callable[[dict[str, Any]], None]


def start_position(resource_version: str | None) -> int | None:
    """The version to replay from, or None for "current state first"; 400 if it is not a version we issued."""
    if resource_version in (None, "", "0"):
        return None
    try:
        return int(resource_version)
    except ValueError:
        raise ApiError.bad_request(f"invalid resource version {resource_version!r}") from None


def _event(
    change: Change, rt: ResourceType, namespace: str | None, match: Callable[[Obj], bool]
) -> dict[str, Any] | None:
    if change.resource is not rt:
        return None

    def visible(obj: Obj | None) -> bool:
        return obj is not None and (namespace is None or obj["metadata"].get("namespace") == namespace) and match(obj)

    was = visible(change.old)
    if change.type == "DELETED":
        return {"type": "DELETED", "object": change.new} if was else None
    now = visible(change.new)
    if was and now:
        return {"type": "MODIFIED", "object": change.new}
    if now:
        return {"type": "ADDED", "object": change.new}
    if was:
        return {"type": "DELETED", "object": change.new}
    return None


def stream(
    store: Store,
    rt: ResourceType,
    namespace: str | None,
    match: Callable[[Obj], bool],
    *,
    start: int | None,
    timeout_seconds: float,
    send: Send,
    dropped: Callable[[], bool],
) -> None:
    deadline = time.monotonic() + timeout_seconds
    items: list[Obj] = []
    try:
        with store.consistent():  # the initial state and the live changes line up exactly
            if start is None:
                items, _ = store.list(rt, namespace, match)
                backlog = []
            else:
                backlog = store.changes_after(start)
            subscription = store.subscribe()
    except ApiError as e:
        send({"type": "ERROR", "object": e.status()})
        return
    try:
        for obj in items:
            send({"type": "ADDED", "object": obj})
        while True:
            for change in backlog:
                event = _event(change, rt, namespace, match)
                if event is not None:
                    send(event)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or dropped() or store.closed:
                return
            backlog = store.next_changes(subscription, min(_POLL_SECONDS, remaining))
    finally:
        store.unsubscribe(subscription)
