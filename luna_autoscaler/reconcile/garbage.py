"""Instances we own that nothing accounts for: no Node, no launch record, no drain. They cost money and serve
no pod, so after a grace period they are terminated.

They come from a launch whose result was lost (the call timed out after the cloud had acted), a Node deleted by
someone else, or a terminate that failed after the Node was deleted. The grace period covers the gap between
an instance appearing in the provider's list and its Node appearing in our watch cache.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

import structlog

from luna_autoscaler.ports import Instance

log = structlog.get_logger("luna_autoscaler.reconcile")

ORPHAN_GRACE_SECONDS = 300.0
"""An unaccounted instance must stay unaccounted this long (seen in successive cycles) before it is terminated."""


class OrphanCollector:
    def __init__(self) -> None:
        self.orphan_since: dict[str, datetime] = {}

    def due(self, instances: Mapping[str, Instance], accounted: Collection[str], now: datetime) -> list[Instance]:
        """Instances unaccounted for since at least the grace period; timers of accounted ones are dropped."""
        orphans = {i for i in instances if i not in accounted}
        for instance_id in [i for i in self.orphan_since if i not in orphans]:
            del self.orphan_since[instance_id]
        out = []
        for instance_id in sorted(orphans):
            if instance_id not in self.orphan_since:
                self.orphan_since[instance_id] = now
                log.info("orphan.seen", instance_id=instance_id, launch_id=instances[instance_id].launch_id)
            if now - self.orphan_since[instance_id] >= timedelta(seconds=ORPHAN_GRACE_SECONDS):
                out.append(instances[instance_id])
        return out

    def collected(self, instance_id: str) -> None:
        self.orphan_since.pop(instance_id, None)
