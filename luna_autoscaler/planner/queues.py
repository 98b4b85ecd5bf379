"""Queue admission: which pending pods their KAI Scheduler queue would let run now, and why the others wait.

KAI Scheduler keeps a pod pending while binding it would take its queue (or any ancestor queue) past its
`limit`, and lets a queue go past its `quota` only with a non-zero `overQuotaWeight`. Nodes bought for such pods
stay idle until the queue drains, so the autoscaler asks the same question first: walking the pods (a gang as
one unit, since KAI admits a gang whole) by priority, then age, then name, it adds each unit's requests to the
usage of its queue and of every ancestor (usage starts from the requests of the queue's pods already bound), and
holds back a unit that would break a limit, or a quota with weight 0. Pods that name no queue, or any pod when
no Queue exists (KAI not installed), pass untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from luna_autoscaler.models.pod import Pod
from luna_autoscaler.models.workloads import QUEUE_RESOURCES, Gang, PodGroup, Queue, queue_demand, queue_of
from luna_autoscaler.planner.types import Unplaced

EPSILON = 1e-9
_UNITS = {"gpu": "GPUs", "cpu": "millicores", "memory": "MB"}


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: tuple[Pod, ...]
    held: tuple[Unplaced, ...]  # reason names the queue and the resource


def _chain(queue: str, queues: Mapping[str, Queue]) -> list[Queue]:
    """The queue and its ancestors (a parent cycle, which KAI rejects, is cut rather than followed forever)."""
    out: list[Queue] = []
    current = queues.get(queue)
    while current is not None and current not in out:
        out.append(current)
        current = queues.get(current.parent)
    return out


def _fmt(value: float) -> str:
    return f"{value:g}"


def _blocked(chain: Sequence[Queue], usage: Mapping[str, dict[str, float]], demand: Mapping[str, float]) -> str | None:
    for queue in chain:
        used = usage[queue.name]
        for resource in QUEUE_RESOURCES:
            want = demand.get(resource, 0.0)
            if want <= 0:
                continue
            spec = queue.resource(resource)
            after = used[resource] + want
            unit = _UNITS[resource]
            if spec.limit is not None and after > spec.limit + EPSILON:
                return (
                    f"KAI queue {queue.name} is at its {resource} limit: {_fmt(used[resource])} {unit} in use + "
                    f"{_fmt(want)} requested > limit {_fmt(spec.limit)}"
                )
            if spec.quota is not None and after > spec.quota + EPSILON and spec.over_quota_weight <= 0:
                return (
                    f"KAI queue {queue.name} would exceed its {resource} quota ({_fmt(used[resource])} {unit} in use + "
                    f"{_fmt(want)} requested > quota {_fmt(spec.quota)}) and its overQuotaWeight is 0"
                )
    return None


def admit(
    pending: Sequence[Pod],
    gangs: Sequence[Gang],
    bound: Sequence[Pod],
    queues: Sequence[Queue],
    pod_groups: Sequence[PodGroup],
) -> Admission:
    """Split `pending` into what the queues admit now and what they hold (module docstring). `bound` are the
    pods already on nodes (their requests are the queues' usage)."""
    if not queues:
        return Admission(tuple(pending), ())
    by_name = {q.name: q for q in queues}
    groups = {g.key: g for g in pod_groups}
    usage = {q.name: dict.fromkeys(QUEUE_RESOURCES, 0.0) for q in queues}
    for pod in bound:
        if pod.terminal:
            continue
        demand = queue_demand(pod)
        for queue in _chain(queue_of(pod, groups), by_name):
            for resource, value in demand.items():
                usage[queue.name][resource] += value
    in_gang = {p.key: g.key for g in gangs for p in g.pending}
    units: dict[str, list[Pod]] = {}
    for pod in pending:
        units.setdefault(in_gang.get(pod.key, pod.key), []).append(pod)

    def order(unit: list[Pod]) -> tuple[int, float, str]:
        oldest = min(p.created_at.timestamp() if p.created_at else 0.0 for p in unit)
        return (-max(p.priority for p in unit), oldest, unit[0].key)

    admitted: list[Pod] = []
    held: list[Unplaced] = []
    for unit in sorted(units.values(), key=order):
        name = queue_of(unit[0], groups)
        if not name:
            admitted.extend(unit)
            continue
        chain = _chain(name, by_name)
        if not chain:
            held.extend(
                Unplaced(p.key, f"KAI queue {name} does not exist: the scheduler will not run it") for p in unit
            )
            continue
        demand = dict.fromkeys(QUEUE_RESOURCES, 0.0)
        for pod in unit:
            for resource, value in queue_demand(pod).items():
                demand[resource] += value
        reason = _blocked(chain, usage, demand)
        if reason is not None:
            held.extend(Unplaced(p.key, reason) for p in unit)
            continue
        for queue in chain:
            for resource, value in demand.items():
                usage[queue.name][resource] += value
        admitted.extend(unit)
    return Admission(tuple(admitted), tuple(held))
