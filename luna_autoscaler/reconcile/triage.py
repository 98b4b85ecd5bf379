"""Sorting the cluster's pods into what scale-up must do with them this cycle.

Which pods are ours to handle is the selection rule of behaviour.md (`luna_autoscaler.models.selection`); here
the handled pods are split into those to plan, those gated for a cost estimate only, and those whose
annotations cannot be read (skipped and reported, never planned on a guess).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from luna_autoscaler.config import Config
from luna_autoscaler.models.constraints import AnnotationProblem, parse_constraints
from luna_autoscaler.models.pod import COST_ESTIMATE_GATE, Pod
from luna_autoscaler.models.selection import select_pods


@dataclass(frozen=True, slots=True)
class Triage:
    pending: tuple[Pod, ...]  # to plan nodes for
    gated: tuple[Pod, ...]  # gated with `nodecostestimate`: an estimate Event, no node
    invalid: tuple[tuple[Pod, tuple[AnnotationProblem, ...]], ...]  # skipped, InvalidAnnotation Event


def triage(pods: Sequence[Pod], config: Config) -> Triage:
    pending: list[Pod] = []
    gated: list[Pod] = []
    invalid: list[tuple[Pod, tuple[AnnotationProblem, ...]]] = []
    selected = select_pods(pods, config)
    for pod in selected.estimate_only:
        gated.append(pod)
    for pod in selected.pending:
        _, problems = parse_constraints(pod.annotations)
        if problems:
            invalid.append((pod, problems))
        elif COST_ESTIMATE_GATE not in pod.scheduling_gates:
            pending.append(pod)
    return Triage(tuple(pending), tuple(gated), tuple(invalid))
