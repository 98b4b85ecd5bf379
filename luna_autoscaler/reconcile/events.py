"""Events on pods, said once: the loop looks at the same pending pod every cycle, and an Event per cycle would
flood `kubectl describe` and the API server. Each (pod, reason) keeps the last message posted; a new message
(a new launch, a new reason) is posted, the same one is not. Memory is bounded by the pods still present.
"""

from __future__ import annotations

from collections.abc import Collection

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


class PodEvents:
    def __init__(self, cluster: Cluster, *, dry_run: bool) -> None:
        self._cluster = cluster
        self._dry_run = dry_run
        self._posted: dict[tuple[str, str], str] = {}  # (pod uid or key, reason) → message

    def post(self, pod: Pod, reason: str, message: str, *, warning: bool = False) -> bool:
        """Post unless this pod already has this message for this reason; True when it is new."""
        key = (pod.uid or pod.key, reason)
        if self._posted.get(key) == message:
            return False
        self._posted[key] = message
        if self._dry_run:
            log.info("event.would_post", pod=pod.key, reason=reason, message=message)
            return True
        about = ObjectRef("Pod", pod.name, pod.namespace, pod.uid)
        if not post_event(self._cluster, about, reason, message, warning=warning):
            del self._posted[key]
        return True

    def keep_only(self, pods: Collection[Pod]) -> None:
        """Forget pods that are gone, so that memory follows the cluster."""
        present = {p.uid or p.key for p in pods}
        for key in [k for k in self._posted if k[0] not in present]:
            del self._posted[key]
