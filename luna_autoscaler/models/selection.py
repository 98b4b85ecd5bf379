"""Which pods the product handles and which nodes it owns (behaviour.md, "Which pods it handles").

A pod is handled when it matches the configured selector: any one `labels` k=v among its labels, or any one
`podAnnotations` k=v among its annotations (Luna's syntax; default `elotl-luna=true`). With both lists empty every
pod matches, as an empty Kubernetes selector does. `pod.elotl.co/ignore: "true"` and a pod being deleted are never
handled. Of the handled pods:
- those gated with the scheduling gate `nodecostestimate` only get a cost estimate (an Event), never a node;
- the others need a node when they are Pending and the scheduler found none (PodScheduled=False, reason
  Unschedulable), and when they wait only for Kueue's admission gate (`kueue.x-k8s.io/admission`): their
  ClusterQueue's quota decides whether nodes are bought ahead of the admission (planner/queues.py); pods still
  waiting on any other scheduling gate are not unschedulable yet and are left alone.

A node is ours when it carries the managed-by label we put on every node we launch, or when its providerID is
one of the instances the provider says we own (a node whose labels were edited is still found).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from luna_autoscaler.models.kueue import is_kueue_gated
from luna_autoscaler.models.pod import COST_ESTIMATE_GATE, IGNORE, Node, Pod
from luna_autoscaler.models.scheduling import MANAGED_BY, MANAGED_BY_VALUE


class PodSelector(Protocol):
    """The selector part of the configuration (`luna_autoscaler.config.Config` is one; models cannot import it)."""

    @property
    def labels(self) -> Mapping[str, str]: ...

    @property
    def pod_annotations(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class PodSelection:
    pending: tuple[Pod, ...] = ()  # pending, unschedulable, selected: plan nodes for these
    estimate_only: tuple[Pod, ...] = ()  # gated with nodecostestimate: post an estimate, provision nothing


def _any_matches(wanted: Mapping[str, str], actual: Mapping[str, str]) -> bool:
    return any(actual.get(key) == value for key, value in wanted.items())


def is_selected(pod: Pod, labels: Mapping[str, str], annotations: Mapping[str, str]) -> bool:
    """Whether the product may act for this pod at all (selector, ignore annotation, deletion)."""
    if pod.deleting or pod.annotations.get(IGNORE, "").lower() == "true":
        return False
    if not labels and not annotations:
        return True
    return _any_matches(labels, pod.labels) or _any_matches(annotations, pod.annotations)


def why_not_selected(pod: Pod, labels: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    """ "" if `is_selected`, else why not, in the configuration's words (`plan` reports the pods it skips)."""
    if is_selected(pod, labels, annotations):
        return ""
    if pod.deleting:
        return "being deleted"
    if pod.annotations.get(IGNORE, "").lower() == "true":
        return f"{IGNORE}=true"
    wanted = [f"label {k}={v}" for k, v in labels.items()] + [f"annotation {k}={v}" for k, v in annotations.items()]
    return "not selected: has none of " + ", ".join(wanted) + " (config labels/podAnnotations)"


def select_pods(pods: Iterable[Pod], selector: PodSelector) -> PodSelection:
    """Split the cluster's pods into those that need a node and those that only get a cost estimate.

    `selector` is the configuration (its `labels` and `podAnnotations`).
    """
    needs_node: list[Pod] = []
    estimate: list[Pod] = []
    labels, annotations = selector.labels, selector.pod_annotations
    for pod in pods:
        if pod.node_name or pod.terminal or not is_selected(pod, labels, annotations):
            continue
        if COST_ESTIMATE_GATE in pod.scheduling_gates:
            estimate.append(pod)
        elif pod.phase == "Pending" and ((pod.unschedulable and not pod.scheduling_gates) or is_kueue_gated(pod)):
            needs_node.append(pod)
    return PodSelection(tuple(needs_node), tuple(estimate))


def owned_nodes(nodes: Iterable[Node], provider_ids: Container[str] = ()) -> tuple[Node, ...]:
    """The nodes this product launched: by its managed-by label, or by providerID among our instances."""
    return tuple(
        n
        for n in nodes
        if n.labels.get(MANAGED_BY) == MANAGED_BY_VALUE or (n.provider_id and n.provider_id in provider_ids)
    )
