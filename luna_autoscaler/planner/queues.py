"""Queue admission: which pending pods their scheduler's queue would let run now, and why the others wait.

One evaluation serves every queueing scheduler; each scheduler only says how its objects map onto queue trees
(`Queue`) and which queue a pod is in:

- KAI Scheduler keeps a pod pending while binding it would take its queue (or any ancestor queue) past its
  `limit`, and lets a queue go past its `quota` only with a non-zero `overQuotaWeight`; usage starts from the
  requests of the queue's pods already bound. Pods that name no queue, or any pod when no Queue exists (KAI not
  installed), pass untouched.
- Kueue keeps a pod behind its admission gate until the pod's ClusterQueue (through the LocalQueue its
  `kueue.x-k8s.io/queue-name` label names) has room: nominal quota, plus what its cohort can lend within its
  `borrowingLimit`. A ClusterQueue is a queue whose parent is its cohort (models/kueue.py); usage comes from the
  ClusterQueue's status. Only gated pods are evaluated: an ungated pod is already admitted (and counted).

Nodes bought for a pod its queue holds stay idle until the queue drains, so the autoscaler asks the same
question first: walking the pods (a gang as one unit, since both admit a gang whole) by priority, then age, then
name, it adds each unit's requests to the usage of its queue and of every ancestor, and holds back a unit that
would break a limit, or a quota with weight 0. A queue's `reserved` amount counts as used at its parent even
while idle (quota a ClusterQueue does not lend), so a child adds to its parent only what it uses beyond that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from luna_autoscaler.models.kueue import (
    ClusterQueue,
    LocalQueue,
    is_kueue_gated,
    kueue_queues,
    kueue_route,
    kueue_usage,
)
from luna_autoscaler.models.pod import Pod
from luna_autoscaler.models.workloads import QUEUE_RESOURCES, Gang, PodGroup, Queue, queue_demand, queue_of
from luna_autoscaler.planner.types import Unplaced

EPSILON = 1e-9
_UNITS = {"gpu": "GPUs", "cpu": "millicores", "memory": "MB"}

Usage = dict[str, dict[str, float]]


@dataclass(frozen=True, slots=True)
class Route:
    """Where a pod stands in a queueing scheduler: in `queue`, or held for `held` (why), or neither (passes)."""

    queue: str = ""
    held: str = ""


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


def _after(chain: Sequence[Queue], usage: Usage, demand: Mapping[str, float]) -> list[dict[str, float]]:
    """Each chain queue's usage once `demand` is added to the first: a parent gains only what its child uses
    beyond the child's reserved amount (module docstring)."""
    out: list[dict[str, float]] = []
    delta = {r: demand.get(r, 0.0) for r in QUEUE_RESOURCES}
    for queue in chain:
        old = usage[queue.name]
        new = {r: old[r] + delta[r] for r in QUEUE_RESOURCES}
        out.append(new)
        floors = {r: queue.resource(r).reserved for r in QUEUE_RESOURCES}
        delta = {r: max(new[r], floors[r]) - max(old[r], floors[r]) for r in QUEUE_RESOURCES}
    return out


def _blocked(chain: Sequence[Queue], usage: Usage, after: Sequence[Mapping[str, float]]) -> str | None:
    for queue, new in zip(chain, after, strict=True):
        used = usage[queue.name]
        for resource in QUEUE_RESOURCES:
            want = new[resource] - used[resource]
            if want <= EPSILON:
                continue
            spec = queue.resource(resource)
            unit = _UNITS[resource]
            where = "" if queue is chain[0] else f"{chain[0].label}: "
            why = f" ({spec.why})" if spec.why else ""
            if spec.limit is not None and new[resource] > spec.limit + EPSILON:
                return (
                    f"{where}{queue.label} is at its {resource} limit: {_fmt(used[resource])} {unit} in use + "
                    f"{_fmt(want)} requested > limit {_fmt(spec.limit)}{why}"
                )
            if spec.quota is not None and new[resource] > spec.quota + EPSILON and spec.over_quota_weight <= 0:
                return (
                    f"{where}{queue.label} would exceed its {resource} quota ({_fmt(used[resource])} {unit} in use + "
                    f"{_fmt(want)} requested > quota {_fmt(spec.quota)}) and its overQuotaWeight is 0"
                )
    return None


def _demand(pods: Sequence[Pod]) -> dict[str, float]:
    total = dict.fromkeys(QUEUE_RESOURCES, 0.0)
    for pod in pods:
        for resource, value in queue_demand(pod).items():
            total[resource] += value
    return total


def _add(chain: Sequence[Queue], usage: Usage, demand: Mapping[str, float]) -> None:
    for queue, new in zip(chain, _after(chain, usage, demand), strict=True):
        usage[queue.name] = new


def _starting_usage(by_name: Mapping[str, Queue], direct: Mapping[str, Mapping[str, float]]) -> Usage:
    """Usage of every queue: its reserved amounts at its ancestors, then each queue's own usage added on top."""
    usage: Usage = {name: dict.fromkeys(QUEUE_RESOURCES, 0.0) for name in by_name}
    for queue in by_name.values():
        floors = {r: queue.resource(r).reserved for r in QUEUE_RESOURCES}
        if any(floors.values()):
            _add(_chain(queue.parent, by_name), usage, floors)
    for name, used in direct.items():
        if name in by_name:
            _add(_chain(name, by_name), usage, used)
    return usage


def evaluate(
    pending: Sequence[Pod],
    gangs: Sequence[Gang],
    queues: Sequence[Queue],
    used: Mapping[str, Mapping[str, float]],
    route: Callable[[Pod], Route],
) -> Admission:
    """Split `pending` into what the queues admit now and what they hold (module docstring). `used` is each
    queue's own usage now (not counting its children); `route` places a pod in its queue."""
    by_name = {q.name: q for q in queues}
    usage = _starting_usage(by_name, used)
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
        where = route(unit[0])
        reason = where.held
        if not reason and where.queue:
            chain = _chain(where.queue, by_name)
            demand = _demand(unit)
            reason = _blocked(chain, usage, _after(chain, usage, demand)) or ""
            if not reason:
                _add(chain, usage, demand)
        if reason:
            held.extend(Unplaced(p.key, reason) for p in unit)
        else:
            admitted.extend(unit)
    return Admission(tuple(admitted), tuple(held))


def admit(
    pending: Sequence[Pod],
    gangs: Sequence[Gang],
    bound: Sequence[Pod],
    queues: Sequence[Queue],
    pod_groups: Sequence[PodGroup],
) -> Admission:
    """KAI Scheduler admission. `bound` are the pods already on nodes (their requests are the queues' usage)."""
    if not queues:
        return Admission(tuple(pending), ())
    names = {q.name for q in queues}
    groups = {g.key: g for g in pod_groups}
    used: Usage = {}
    for pod in bound:
        name = queue_of(pod, groups)
        if pod.terminal or name not in names:
            continue
        mine = used.setdefault(name, dict.fromkeys(QUEUE_RESOURCES, 0.0))
        for resource, value in queue_demand(pod).items():
            mine[resource] += value

    def route(pod: Pod) -> Route:
        name = queue_of(pod, groups)
        if name and name not in names:
            return Route(held=f"KAI queue {name} does not exist: the scheduler will not run it")
        return Route(queue=name)

    return evaluate(pending, gangs, queues, used, route)


def admit_kueue(
    pending: Sequence[Pod],
    gangs: Sequence[Gang],
    pods: Sequence[Pod],
    cluster_queues: Sequence[ClusterQueue],
    local_queues: Sequence[LocalQueue],
) -> Admission:
    """Kueue admission of the pods waiting behind its admission gate (module docstring); `pods` are all the
    cluster's pods, whose requests stand for a ClusterQueue's usage where its status does not report it."""
    if not any(is_kueue_gated(p) for p in pending):
        return Admission(tuple(pending), ())
    route = kueue_route(cluster_queues, local_queues)
    return evaluate(
        pending,
        gangs,
        kueue_queues(cluster_queues),
        kueue_usage(cluster_queues, local_queues, pods),
        lambda pod: Route(*route(pod)),
    )
