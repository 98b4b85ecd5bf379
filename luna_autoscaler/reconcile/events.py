"""Events on pods, said once: the loop looks at the same pending pod every cycle, and an Event per cycle would
flood `kubectl describe` and the API server. Each (pod, reason) keeps the last message posted; a new message
(a new launch, a new reason) is posted, the same one is not. Memory is bounded by the pods still present.

Within a cycle the loop decides Events while it is still launching; posting each at once put one API call per
pod between launch requests (1,000 pods: ~1.5 s before the last launch). `deferred()` holds them and posts
them, in the order decided, when the block ends, so every launch request goes out first and nothing is lost.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import structlog

from luna_autoscaler.models.pod import Pod
from luna_autoscaler.ports import Cluster, ObjectRef

log = structlog.get_logger("luna_autoscaler.reconcile")


def post_event(cluster: Cluster, about: ObjectRef, reason: str, message: str, *, warning: bool = False) -> bool:
    """Post an Event; False (logged) if the API refused. An Event is advice: failing to post one must not fail
    the decision it describes."""
    try:
        cluster.post_event(about, reason, message, warning=warning)
    except Exception as e:
        log.warning("event.failed", kind=about.kind, name=about.name, reason=reason, error=f"{type(e).__name__}: {e}")
        return False
    return True


@dataclass(frozen=True, slots=True)
class _Owed:
    """An Event decided but not posted yet."""

    key: tuple[str, str]
    about: ObjectRef
    reason: str
    message: str
    warning: bool


class PodEvents:
    def __init__(self, cluster: Cluster, *, dry_run: bool) -> None:
        self._cluster = cluster
        self._dry_run = dry_run
        self._posted: dict[tuple[str, str], str] = {}  # (pod uid or key, reason) → message
        self._owed: list[_Owed] | None = None  # while deferred: to post when the block ends

    def post(self, pod: Pod, reason: str, message: str, *, warning: bool = False) -> bool:
        """Post unless this pod already has this message for this reason (now, or when the deferred block
        ends); True when it is new."""
        key = (pod.uid or pod.key, reason)
        if self._posted.get(key) == message:
            return False
        self._posted[key] = message
        if self._dry_run:
            log.info("event.would_post", pod=pod.key, reason=reason, message=message)
            return True
        owed = _Owed(key, ObjectRef("Pod", pod.name, pod.namespace, pod.uid), reason, message, warning)
        if self._owed is not None:
            self._owed.append(owed)
        else:
            self._send(owed)
        return True

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold the Events posted inside the block and post them when it ends, even if it ends by an exception
        (they were decided; the next cycle would not decide them again). Nested blocks post with the outer one."""
        if self._owed is not None:
            yield
            return
        self._owed = []
        try:
            yield
        finally:
            owed, self._owed = self._owed, None
            for event in owed:
                self._send(event)

    def _send(self, owed: _Owed) -> None:
        """Post; if the API refused, forget it was said so that the next cycle says it again."""
        posted = post_event(self._cluster, owed.about, owed.reason, owed.message, warning=owed.warning)
        if not posted and self._posted.get(owed.key) == owed.message:
            del self._posted[owed.key]

    def keep_only(self, pods: Collection[Pod]) -> None:
        """Forget pods that are gone, so that memory follows the cluster."""
        present = {p.uid or p.key for p in pods}
        for key in [k for k in self._posted if k[0] not in present]:
            del self._posted[key]
