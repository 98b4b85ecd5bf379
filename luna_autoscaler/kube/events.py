"""Kubernetes Events: how the product explains itself on the objects users look at (`kubectl describe pod`).

Events go through events.k8s.io/v1 (the current API); a cluster that does not serve it (404) gets core/v1 Events
from then on. Posting is best effort, as client-go's recorder is: a failure is logged and never fails the
caller's work. The same (object, reason, message) within `dedupe_seconds` is posted once, so a loop that
re-explains a pending pod every cycle does not flood the API server (client-go aggregates for the same reason).

Reasons the product posts (behaviour.md): TriggeredScaleUp, NodeCostEstimate, InvalidAnnotation,
ScaleDownBlocked, ConfigInvalid, and the drain and launch failures around them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from luna_autoscaler.kube.clock import micro_time
from luna_autoscaler.kube.metrics import EVENTS_POSTED
from luna_autoscaler.kube.rest import KubeApiError, Rest
from luna_autoscaler.ports import Clock, ObjectRef

log = structlog.get_logger("luna_autoscaler.kube")

_NOTE_MAX_BYTES = 1024  # events.k8s.io/v1 rejects longer notes
_DEDUPE_KEPT = 4096
_API_VERSIONS = {"Pod": "v1", "Node": "v1", "ConfigMap": "v1", "Namespace": "v1", "DaemonSet": "apps/v1"}


@dataclass(frozen=True, slots=True)
class _Draft:
    namespace: str
    about: ObjectRef
    reason: str
    text: str
    type: str  # Normal | Warning
    at: datetime


def _truncate(text: str) -> str:
    data = text.encode()
    if len(data) <= _NOTE_MAX_BYTES:
        return text
    return data[: _NOTE_MAX_BYTES - 3].decode(errors="ignore") + "..."


class EventRecorder:
    def __init__(
        self,
        rest: Rest,
        *,
        component: str,
        instance: str,
        clock: Clock,
        dedupe_seconds: float = 600.0,
    ) -> None:
        self._rest = rest
        self._component = component
        self._instance = instance
        self._clock = clock
        self._dedupe = timedelta(seconds=dedupe_seconds)
        self._recent: OrderedDict[tuple[str, str, str, str, str], datetime] = OrderedDict()
        self._core_only = False
        self._lock = threading.Lock()

    def _regarding(self, about: ObjectRef) -> dict[str, Any]:
        ref: dict[str, Any] = {
            "apiVersion": _API_VERSIONS.get(about.kind, "v1"),
            "kind": about.kind,
            "name": about.name,
        }
        if about.namespace:
            ref["namespace"] = about.namespace
        if about.uid:
            ref["uid"] = about.uid
        return ref

    def _seen_recently(self, key: tuple[str, str, str, str, str], now: datetime) -> bool:
        with self._lock:
            return self._note(key, now)

    def _note(self, key: tuple[str, str, str, str, str], now: datetime) -> bool:
        last = self._recent.get(key)
        if last is not None and now - last < self._dedupe:
            return True
        self._recent[key] = now
        self._recent.move_to_end(key)
        while len(self._recent) > _DEDUPE_KEPT:
            self._recent.popitem(last=False)
        return False

    def post(self, about: ObjectRef, reason: str, message: str, *, warning: bool = False) -> bool:
        """Post an Event; False if it was a recent duplicate. KubeApiError (logged) if it could not be posted, so
        that the caller knows to try again: one swallowed here was remembered as said by the loop and never
        retried, and the pod never got its reason."""
        now = self._clock()
        if self._seen_recently((about.kind, about.namespace, about.name, reason, message), now):
            return False
        namespace = about.namespace or "default"  # events about cluster-scoped objects live in "default"
        kind = "Warning" if warning else "Normal"
        try:
            draft = _Draft(namespace, about, reason, _truncate(message), kind, now)
            if not self._core_only:
                try:
                    self._post_v1(draft)
                    EVENTS_POSTED.labels(reason, "events.k8s.io").inc()
                    return True
                except KubeApiError as e:
                    if not e.not_found:
                        raise
                    log.info("kube.events_api_missing", fallback="core/v1", error=str(e))
                    self._core_only = True
            self._post_core(draft)
            EVENTS_POSTED.labels(reason, "core").inc()
            return True
        except KubeApiError as e:
            log.warning(
                "kube.event_not_posted", about=f"{about.kind} {namespace}/{about.name}", reason=reason, error=str(e)
            )
            with self._lock:  # not posted: let the next attempt through
                self._recent.pop((about.kind, about.namespace, about.name, reason, message), None)
            raise

    def _post_v1(self, draft: _Draft) -> None:
        body = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"generateName": f"{draft.about.name}.", "namespace": draft.namespace},
            "eventTime": micro_time(draft.at),
            "reportingController": self._component,
            "reportingInstance": self._instance,
            "action": draft.reason,
            "reason": draft.reason,
            "note": draft.text,
            "type": draft.type,
            "regarding": self._regarding(draft.about),
        }
        self._rest.call("post event", self._rest.events_v1.create_namespaced_event, draft.namespace, body)

    def _post_core(self, draft: _Draft) -> None:
        stamp = draft.at.strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{draft.about.name}.", "namespace": draft.namespace},
            "involvedObject": self._regarding(draft.about),
            "reason": draft.reason,
            "message": draft.text,
            "type": draft.type,
            "source": {"component": self._component, "host": self._instance},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "reportingComponent": self._component,
            "reportingInstance": self._instance,
        }
        self._rest.call("post event", self._rest.core.create_namespaced_event, draft.namespace, body)
