"""A gang's nodes launched as one: all of them, or none left running.

The planner gives a gang its nodes in one plan; here they are launched one after the other in the same cycle.
When one launch fails (insufficient capacity, quota, a permanent error) the ones already launched are
terminated at once and their records dropped, so the fallback round plans the whole gang again (the failed
offering is now unavailable, so most likely another zone or type): half a gang never waits for the other half.
A launch that failed transiently is still in flight (retried with the same launch id), and a pool cloud's
launch may return a provisional instance the cloud names (or fails) later; the gang then stays open until every
launch has an identified instance, and if one of them fails meanwhile, or that has not happened by
`gangs.launchDeadline`, the gang is rolled back the same way. Only the tracker's `records` and the provider's
`terminate` are used, so the launch machinery stays unaware of gangs.

What is open lives in this process, so it is also written where a restart finds it: each launch of a gang is
tagged `luna.elotl.co/gang: <gang id>.<launches>` (the gang id is its first launch id), and the cloud keeps each
instance's launch time. After a restart `recover` looks at the instances by gang: one with fewer live instances
than launches (a launch was lost with the process, or a rollback was cut short) is rolled back, unless a pod
runs on one of its nodes (the gang ran and lost a member later: not ours to undo); one whose launches are all
there but not all named yet is followed again with the deadline counted from its launch time. Pool clouds (GKE,
AKS) record tags per pool, not per launch, so they do not keep the tag and a restart there loses this state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from luna_autoscaler.config import Config
from luna_autoscaler.models.scheduling import LAUNCH_ID
from luna_autoscaler.observability.metrics import Metrics
from luna_autoscaler.ports import TAG_GANG, ClusterSnapshot, Instance, InstanceState, NodeProvider
from luna_autoscaler.reconcile.launches import LaunchTracker
from luna_autoscaler.reconcile.state import LaunchRecord

log = structlog.get_logger("luna_autoscaler.reconcile")


@dataclass(frozen=True, slots=True)
class OpenGang:
    launch_ids: tuple[str, ...]
    deadline: datetime
    launched: frozenset[str]  # launch ids that have had an identified instance


class GangLaunches:
    def __init__(self, tracker: LaunchTracker, provider: NodeProvider, metrics: Metrics) -> None:
        self._tracker = tracker
        self._provider = provider
        self._metrics = metrics
        self.open: dict[str, OpenGang] = {}

    def roll_back(self, gang: str, records: Iterable[LaunchRecord], why: str) -> int:
        """Terminate the instances of these launches and forget them; the number terminated. A terminate that
        fails leaves an orphan (no record, our tags), which garbage collection terminates later."""
        instances = []
        for record in records:
            current = self._tracker.records.pop(record.launch_id, None) or record
            if current.instance is not None:
                instances.append(current.instance.instance_id)
        return self._terminate(gang, instances, why)

    def _terminate(self, gang: str, instance_ids: Iterable[str], why: str) -> int:
        terminated = 0
        for instance_id in instance_ids:
            try:
                self._provider.terminate(instance_id)
                terminated += 1
            except Exception as e:
                log.warning(
                    "gang.rollback_failed", gang=gang, instance_id=instance_id, error=f"{type(e).__name__}: {e}"
                )
        self.open.pop(gang, None)
        self._metrics.nodes_removed.labels("gang-rollback").inc(terminated)
        log.warning("gang.rolled_back", gang=gang, why=why, terminated=terminated)
        return terminated

    def recover(self, instances: Sequence[Instance], snapshot: ClusterSnapshot, config: Config, now: datetime) -> None:
        """After a restart: undo the gangs left half launched, follow again those still being named (module
        docstring). Call once, after the tracker's `rebuild`."""
        members: dict[str, list[Instance]] = {}
        size: dict[str, int] = {}
        for inst in instances:
            gang, _, count = inst.tags.get(TAG_GANG, "").rpartition(".")
            if not gang or not count.isdigit() or inst.state in (InstanceState.FAILED, InstanceState.TERMINATED):
                continue
            members.setdefault(gang, []).append(inst)
            size[gang] = int(count)
        busy = _busy_provider_ids(snapshot)
        for gang, launched in sorted(members.items()):
            if any(i.provider_id in busy or i.launch_id in busy for i in launched):
                continue
            if len(launched) < size[gang]:
                for inst in launched:
                    self._tracker.records.pop(inst.launch_id, None)
                why = f"restart: {len(launched)} of its {size[gang]} launches left"
                self._terminate(gang, [i.instance_id for i in launched], why)
            elif not all(i.identified for i in launched):
                started = min(i.created_at for i in launched)
                deadline = started + timedelta(seconds=config.gangs.launch_deadline_seconds)
                ids = tuple(i.launch_id for i in launched)
                self.open[gang] = OpenGang(ids, deadline, frozenset(i.launch_id for i in launched if i.identified))
                log.info("gang.recovered", gang=gang, launches=len(ids), deadline=deadline.isoformat())

    def opened(self, gang: str, records: Sequence[LaunchRecord], config: Config, now: datetime) -> None:
        """A gang some of whose launches are still being retried: complete by the deadline, or roll back."""
        self.open[gang] = OpenGang(
            tuple(r.launch_id for r in records),
            now + timedelta(seconds=config.gangs.launch_deadline_seconds),
            frozenset(r.launch_id for r in records if _identified(r)),
        )
        log.info("gang.incomplete", gang=gang, launches=len(records), deadline=self.open[gang].deadline.isoformat())

    def follow(self, now: datetime) -> list[str]:
        """Close gangs whose launches all have instances; roll back those past their deadline, or one of whose
        launches was given up before it got an instance. The gangs rolled back."""
        rolled: list[str] = []
        for gang, state in list(self.open.items()):
            records = {i: self._tracker.records.get(i) for i in state.launch_ids}
            launched = state.launched | {i for i, r in records.items() if r is not None and _identified(r)}
            given_up = [i for i, r in records.items() if r is None and i not in launched]
            if not given_up and len(launched) == len(state.launch_ids):
                del self.open[gang]
                log.info("gang.launched", gang=gang, launches=len(launched))
                continue
            if given_up or now >= state.deadline:
                why = "a launch was given up" if given_up else "launch deadline passed"
                self.roll_back(gang, [r for r in records.values() if r is not None], why)
                rolled.append(gang)
            else:
                self.open[gang] = OpenGang(state.launch_ids, state.deadline, frozenset(launched))
        return rolled


def tagged(record: LaunchRecord, gang: str, launches: int, *, placement: bool) -> LaunchRecord:
    """The launch, tagged as one of the `launches` of gang `gang` (module docstring), and in the gang's cluster
    placement group when it asks for one."""
    tags = {**record.request.tags, TAG_GANG: f"{gang}.{launches}"}
    group = f"luna-{gang}" if placement else ""
    return replace(record, request=replace(record.request, tags=tags, placement_group=group))


def _busy_provider_ids(snapshot: ClusterSnapshot) -> set[str]:
    """Provider ids and launch ids of the nodes a workload pod is bound to."""
    used = {p.node_name for p in snapshot.pods if p.node_name and not p.terminal and not p.is_daemonset_pod}
    out: set[str] = set()
    for node in snapshot.nodes:
        if node.name in used:
            out.add(node.provider_id)
            out.add(node.labels.get(LAUNCH_ID, ""))
    out.discard("")
    return out


def is_complete(records: Sequence[LaunchRecord]) -> bool:
    """Every launch has an instance the cloud has named (not a transient retry, not a provisional handle)."""
    return all(_identified(r) for r in records)


def _identified(record: LaunchRecord) -> bool:
    return record.instance is not None and record.instance.identified
