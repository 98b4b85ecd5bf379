"""kube-scheduler's filters and scores, reduced to what decides whether a pod runs in the simulation.

The autoscaler never sees the scheduler, only its verdict: pods that stay Unschedulable. For a simulation to say
anything true about the autoscaler, a pod must be bound exactly when the real scheduler would bind it, so the
filters are kube-scheduler's own (NodeUnschedulable, NodeAffinity with nodeSelector and required affinity,
TaintToleration, NodeResourcesFit over every resource including GPUs and the pod slot) and the score is one of
its two NodeResourcesFit strategies: LeastAllocated (its default: spread) or MostAllocated (pack). The label and
taint semantics come from `luna_autoscaler.models.scheduling`, the same code the planner uses, so any
disagreement between what the planner promised and what the scheduler accepts shows up as pods left pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from luna_autoscaler.models.pod import Node, Pod
from luna_autoscaler.models.resources import CPU, MEMORY, Resources
from luna_autoscaler.models.scheduling import HOSTNAME, tolerates_all

METADATA_NAME = "metadata.name"  # what a matchFields requirement selects on (models.manifest.node_selector)


class Scoring(StrEnum):
    LEAST_ALLOCATED = "LeastAllocated"
    MOST_ALLOCATED = "MostAllocated"


def unfit_reason(pod: Pod, node: Node, used: Resources) -> str | None:
    """Why `pod` cannot be bound to `node` (already holding `used`), in kube-scheduler's words; None if it fits."""
    if not node.ready:
        return "node(s) were not ready"
    if node.unschedulable:
        return "node(s) were unschedulable"
    if pod.node_selector.selector or pod.node_selector.terms:
        labels = {**node.labels, HOSTNAME: node.labels.get(HOSTNAME, node.name), METADATA_NAME: node.name}
        if not pod.node_selector.matches(labels):
            return "node(s) didn't match Pod's node affinity/selector"
    taint = tolerates_all(pod.tolerations, node.taints)
    if taint is not None:
        return f"node(s) had untolerated taint {{{taint}}}"
    short = pod.requests.shortfall(node.allocatable - used)
    if short:
        return "Insufficient " + ", ".join(short)
    return None


def _score(pod: Pod, node: Node, used: Resources, scoring: Scoring) -> float:
    """NodeResourcesFit: mean over cpu, memory and the pod's extended resources of the share left free
    (LeastAllocated) or used (MostAllocated) once the pod is placed."""
    after = used + pod.requests
    names = (CPU, MEMORY, *pod.requests.extended)
    shares = []
    for name in names:
        capacity = node.allocatable.get(name)
        shares.append(after.get(name) / capacity if capacity else 1.0)
    used_share = sum(shares) / len(shares)
    return 1.0 - used_share if scoring is Scoring.LEAST_ALLOCATED else used_share


def choose_node(pod: Pod, candidates: Iterable[tuple[Node, Resources]], scoring: Scoring) -> Node | None:
    """The node the scheduler binds `pod` to among (node, requests already on it), or None: Unschedulable.

    Ties go to the node name, so a run is reproducible.
    """
    best: tuple[float, str] | None = None
    chosen: Node | None = None
    for node, used in candidates:
        if unfit_reason(pod, node, used) is not None:
            continue
        key = (-_score(pod, node, used, scoring), node.name)
        if best is None or key < best:
            best, chosen = key, node
    return chosen
