"""Pods that capacity already in the cluster, or already on its way, will take: no second launch for them.

Only what kube-scheduler checks is checked here (requests against free allocatable, node selector and required
affinity against the node's labels, tolerations against its taints): once a node exists the scheduler binds any
pod that fits, whatever the pod's Luna annotations say about which instance it would have liked bought. In-flight
nodes count with the allocatable they will have (CapacityNode.free), so a burst of pods that an earlier plan
already launched nodes for is matched to those nodes instead of buying more.

Pods go dearest first, each to the fullest node that still takes it (best fit), which keeps big holes for big pods.
"""

from __future__ import annotations

from collections.abc import Sequence

from luna_autoscaler.models.scheduling import node_admits
from luna_autoscaler.planner.classes import PodClass, run_keys
from luna_autoscaler.planner.types import CapacityNode


def place_on_existing(classes: Sequence[PodClass], nodes: Sequence[CapacityNode]) -> dict[str, str]:
    """Assign pods to existing/in-flight nodes; assigned pods are removed from their class. Returns pod → node."""
    placed: dict[str, str] = {}
    if not nodes:
        return placed
    free = {n.name: n.free for n in nodes}
    ordered = sorted(nodes, key=lambda n: n.name)
    dearest_first = sorted(
        classes, key=lambda c: (-c.requests.gpus(), -c.requests.cpu_millis, -c.requests.memory_bytes, c.index)
    )
    for cls in dearest_first:
        sig = cls.signature
        admitting = [n for n in ordered if node_admits(sig.selector, sig.tolerations, n.labels, n.taints)]
        if not admitting:
            continue
        while cls.count:
            fitting = [n for n in admitting if cls.requests.fits_in(free[n.name])]
            if not fitting:  # the pods of a class are identical: none of the rest fits either
                break
            node = min(fitting, key=lambda n: (free[n.name].cpu_millis, free[n.name].memory_bytes, n.name))
            free[node.name] = free[node.name] - cls.requests
            for key in run_keys(cls.take(1)):
                placed[key] = node.name
    return placed
