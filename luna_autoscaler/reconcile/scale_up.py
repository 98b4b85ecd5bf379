"""Scale-up: batch pending pods, plan them against existing and in-flight capacity, launch, fall back at once.

Batching follows Karpenter: a burst of pods is planned together once no new pod has arrived for
`batching.idleDuration` (1 s), or `batching.maxDuration` (10 s) after the first, so a 50-pod Job gets one plan
rather than 50. When a launch fails for lack of capacity, quota or a permanent reason, its offerings are marked
unavailable and every pending pod is planned again in the same cycle (up to `MAX_FALLBACK_ROUNDS`), with what
was already launched counted as in flight: the next cheapest offering (spot → on-demand where the pod allows)
is tried within seconds, not a cycle later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from luna_autoscaler.backoff import Backoff
from luna_autoscaler.config import Config
from luna_autoscaler.models.catalog import Catalog
from luna_autoscaler.models.pod import DaemonSet, Pod
from luna_autoscaler.models.resources import ZERO, Resources
from luna_autoscaler.models.workloads import is_virtual
from luna_autoscaler.observability.metrics import Metrics
from luna_autoscaler.planner.gangs import GangPlan, GangSpec, plan_gangs
from luna_autoscaler.planner.shapes import PreparedOfferings
from luna_autoscaler.planner.types import CapacityNode, Limits, PlannedNode, PlanRequest, Unplaced
from luna_autoscaler.reconcile.events import PodEvents
from luna_autoscaler.reconcile.gang_launches import GangLaunches, is_complete, tagged
from luna_autoscaler.reconcile.launches import LaunchFailure, LaunchTracker, PlanCapacity
from luna_autoscaler.reconcile.report import LaunchSummary
from luna_autoscaler.reconcile.state import LaunchPhase, LaunchRecord, UnavailableOfferings

log = structlog.get_logger("luna_autoscaler.reconcile")

MAX_FALLBACK_ROUNDS = 4
"""Plans per cycle when launches keep failing for capacity: each round excludes what the last one learnt."""

CONFIGURATION_BACKOFF = Backoff(initial_seconds=30.0, max_seconds=600.0, jitter=0.0)


@dataclass(frozen=True, slots=True)
class _Planning:
    """What every plan of one scale-up shares (the fallback rounds plan again against the same offerings)."""

    catalog: Catalog
    config: Config
    prepared: PreparedOfferings | None
    daemonsets: tuple[DaemonSet, ...]


@dataclass(frozen=True, slots=True)
class ScaleUpOutcome:
    planned: bool
    launched: tuple[LaunchSummary, ...] = ()
    errors: tuple[str, ...] = ()
    unplaced: tuple[Unplaced, ...] = ()
    reserved: dict[str, Resources] | None = None  # node → requests of pending pods the plan put there
    placed: frozenset[str] = frozenset()  # pods the plan put on existing or in-flight capacity, or launched for


class Batch:
    """The batching window over the set of pending pods, seen cycle by cycle."""

    def __init__(self) -> None:
        self._seen: frozenset[str] = frozenset()
        self._opened: datetime | None = None
        self._last_arrival: datetime | None = None

    def closed(self, keys: frozenset[str], now: datetime, config: Config) -> bool:
        """True when the pods should be planned now: nothing new, quiet for idleDuration, or open maxDuration."""
        if keys - self._seen:
            self._last_arrival = now
            self._opened = self._opened or now
        self._seen = keys
        if self._opened is None or self._last_arrival is None:
            return True
        idle = now - self._last_arrival >= timedelta(seconds=config.batching.idle_seconds)
        full = now - self._opened >= timedelta(seconds=config.batching.max_seconds)
        if idle or full:
            self._opened = None
            return True
        return False


class ScaleUp:
    def __init__(
        self,
        tracker: LaunchTracker,
        unavailable: UnavailableOfferings,
        events: PodEvents,
        metrics: Metrics,
        gangs: GangLaunches,
        *,
        dry_run: bool,
        batching: bool,
        should_stop: Callable[[], bool],
    ) -> None:
        self._tracker = tracker
        self._unavailable = unavailable
        self._events = events
        self._metrics = metrics
        self._gangs = gangs
        self._dry_run = dry_run
        self._batch = Batch() if batching else None
        self._should_stop = should_stop
        self._paused_until: datetime | None = None
        self._configuration_failures = 0
        self.last_launch_at: datetime | None = None
        self._last_plan: tuple[PlanRequest, tuple[GangSpec, ...], GangPlan] | None = None

    def run(
        self,
        pods: Sequence[Pod],
        *,
        catalog: Catalog,
        config: Config,
        prepared: PreparedOfferings | None = None,
        daemonsets: Sequence[DaemonSet],
        capacity: Callable[[Mapping[str, Pod]], PlanCapacity],
        limits: Callable[[], Limits],
        now: datetime,
        urgent: bool = False,
        gangs: Sequence[GangSpec] = (),
    ) -> ScaleUpOutcome:
        """Plan and launch for `pods` (each of `gangs` whole); `capacity` (given the pods that may wait for the
        in-flight launches bought for them: not a gang's, which is planned whole) and `limits` are asked again
        after each fallback round."""
        keys = frozenset(p.key for p in pods)
        batch_closed = self._batch is None or self._batch.closed(keys, now, config)
        if not pods:
            return ScaleUpOutcome(planned=False)
        if not batch_closed and not urgent:
            log.debug("scale_up.batching", pending=len(pods))
            return ScaleUpOutcome(planned=False)
        by_key = {p.key: p for p in pods}
        launched: list[LaunchSummary] = []
        errors: list[str] = []
        specs = tuple(gangs) if config.gangs.enabled else ()
        planning = _Planning(catalog, config, prepared, tuple(daemonsets))
        in_gangs = {k for spec in specs for k in spec.pods}
        may_wait = {k: p for k, p in by_key.items() if k not in in_gangs}
        awaiting: Mapping[str, str] = {}

        def replan() -> GangPlan:
            nonlocal awaiting
            room = capacity(may_wait)
            awaiting = room.awaiting
            rest = [p for p in pods if p.key not in awaiting]
            return self._plan(rest, specs, planning, nodes=room.nodes, limits=limits(), now=now)

        gang_plan = replan()
        for _ in range(MAX_FALLBACK_ROUNDS - 1):
            failures = self._launch_all(
                gang_plan, by_key=by_key, config=config, now=now, launched=launched, errors=errors
            )
            if not any(f.replan for f in failures):
                break
            log.info("scale_up.fallback", failed_launches=len(failures), pods=len(pods))
            gang_plan = replan()
        else:
            self._launch_all(gang_plan, by_key=by_key, config=config, now=now, launched=launched, errors=errors)
        result = gang_plan.plan
        for u in result.unplaced:
            pod = by_key[u.pod]
            if not is_virtual(pod) and self._events.post(
                pod, "NotTriggerScaleUp", f"pod didn't trigger scale-up: {u.reason}", warning=True
            ):
                log.info("scale_up.unplaced", pod=u.pod, reason=u.reason)  # said when the reason is new, not per cycle
        on_existing = {**result.on_existing, **awaiting}
        reserved: dict[str, Resources] = {}
        for key, node in on_existing.items():
            reserved[node] = reserved.get(node, ZERO) + by_key[key].requests
        placed = frozenset(on_existing) | {k for s in launched for k in s.pods}
        return ScaleUpOutcome(True, tuple(launched), tuple(errors), result.unplaced, reserved, placed)

    def _plan(
        self,
        pods: Sequence[Pod],
        gangs: tuple[GangSpec, ...],
        planning: _Planning,
        *,
        nodes: tuple[CapacityNode, ...],
        limits: Limits,
        now: datetime,
    ) -> GangPlan:
        request = PlanRequest(
            pods=tuple(pods),
            catalog=planning.catalog,
            config=planning.config,
            nodes=nodes,
            daemonsets=planning.daemonsets,
            unavailable=self._unavailable.current(now),
            limits=limits,
            prepared=planning.prepared,
        )
        if self._last_plan is not None and self._last_plan[:2] == (request, gangs):
            return self._last_plan[2]  # the planner is a pure function: same request, same plan
        started = time.perf_counter()
        gang_plan = plan_gangs(request, gangs)
        result = gang_plan.plan
        self._last_plan = (request, gangs, gang_plan)
        elapsed = time.perf_counter() - started
        self._metrics.planner_duration.labels("scale-up").observe(elapsed)
        (log.info if result.new_nodes else log.debug)(
            "scale_up.plan",
            pods=len(pods),
            new_nodes=len(result.new_nodes),
            on_existing=len(result.on_existing),
            unplaced=len(result.unplaced),
            price_usd_per_hour=result.total_price_usd_per_hour,
            unavailable_offerings=len(request.unavailable),
            planner_seconds=round(elapsed, 4),
            gangs=len(gangs),
        )
        return gang_plan

    def _launch_all(
        self,
        gang_plan: GangPlan,
        *,
        by_key: dict[str, Pod],
        config: Config,
        now: datetime,
        launched: list[LaunchSummary],
        errors: list[str],
    ) -> list[LaunchFailure]:
        """Launch the plan's new nodes: a gang's all together (rolled back if one fails), the others one by one."""
        failures: list[LaunchFailure] = []
        gang_of = gang_plan.gang_of()
        groups: dict[str, list[PlannedNode]] = {}
        for planned in gang_plan.plan.new_nodes:
            groups.setdefault(gang_of.get(planned.name, planned.name), []).append(planned)
        for key, group in groups.items():
            if self._dry_run:
                for planned in group:
                    launched.append(_summary(planned, "dry-run", ""))
                    log.info(
                        "scale_up.would_launch",
                        instance_type=planned.offering.name,
                        zone=planned.offering.zone,
                        capacity_type=planned.offering.capacity_type.value,
                        price_usd_per_hour=planned.price_usd_per_hour,
                        pods=list(planned.pods),
                        gang=key if key in gang_plan.gangs else "",
                    )
                continue
            if self._should_stop():
                break
            if self._paused_until is not None and now < self._paused_until:
                errors.append(f"configuration: launches paused until {self._paused_until.isoformat()}")
                break
            outcomes = self._launch_group(
                group, config, now, gang=key in gang_plan.gangs, placement=key in gang_plan.placement
            )
            failed = [o for _, o in outcomes if isinstance(o, LaunchFailure)]
            for failure in failed:
                failures.append(failure)
                errors.append(f"{failure.kind}: {failure.message}")
                if not failure.replan:
                    self._pause(now, failure.message)
            records = [o for _, o in outcomes if isinstance(o, LaunchRecord)]
            if key in gang_plan.gangs:
                if failed:
                    self._gangs.roll_back(key, records, f"{failed[0].kind}: {failed[0].message}")
                    continue
                if not is_complete(records):
                    self._gangs.opened(key, records, config, now)
            for planned, outcome in outcomes:
                if isinstance(outcome, LaunchRecord):
                    self._announce(planned, outcome, by_key=by_key, launched=launched, errors=errors, now=now)
        return failures

    def _launch_group(
        self, group: Sequence[PlannedNode], config: Config, now: datetime, *, gang: bool, placement: bool
    ) -> list[tuple[PlannedNode, LaunchRecord | LaunchFailure]]:
        """Launch each node of the group; stop at the first failure of a group of several (a gang). A gang's
        launches are tagged with it, so that a restart can tell a half gang (gang_launches.py)."""
        outcomes: list[tuple[PlannedNode, LaunchRecord | LaunchFailure]] = []
        first = ""
        for planned in group:
            record = self._tracker.new_record(planned, config, now)
            if gang:
                first = first or record.launch_id
                record = tagged(record, first, len(group), placement=placement)
            outcome = self._tracker.launch(record, config, now)
            outcomes.append((planned, outcome))
            if isinstance(outcome, LaunchFailure):
                break
        return outcomes

    def _announce(
        self,
        planned: PlannedNode,
        outcome: LaunchRecord,
        *,
        by_key: Mapping[str, Pod],
        launched: list[LaunchSummary],
        errors: list[str],
        now: datetime,
    ) -> None:
        """Record a launch that went through (or is being retried) and tell its pods."""
        if outcome.phase is LaunchPhase.REQUESTED:
            errors.append(f"transient: launch {outcome.launch_id} will be retried")
            return
        self._configuration_failures = 0
        self.last_launch_at = now
        instance_id = outcome.instance.instance_id if outcome.instance else ""
        summary = LaunchSummary(
            outcome.launch_id,
            outcome.instance_type,
            outcome.offering.zone,
            outcome.capacity_type,
            outcome.price_usd_per_hour,
            planned.pods,
            instance_id,
        )
        launched.append(summary)
        message = (
            f"pod triggered scale-up: {summary.instance_type} ({summary.capacity_type}) in {summary.zone} "
            f"at ${summary.price_usd_per_hour:.4f}/h, launch {summary.launch_id}"
        )
        for key in planned.pods:
            if (pod := by_key.get(key)) is not None and not is_virtual(pod):
                self._events.post(pod, "TriggeredScaleUp", message)

    def _pause(self, now: datetime, why: str) -> None:
        """A configuration error fails every launch alike: stop launching for a while instead of hammering."""
        delay = CONFIGURATION_BACKOFF.delay_seconds(self._configuration_failures)
        self._configuration_failures += 1
        self._paused_until = now + timedelta(seconds=delay)
        log.error("scale_up.paused", why=why, retry_in_seconds=delay)


def _summary(planned: PlannedNode, launch_id: str, instance_id: str) -> LaunchSummary:
    o = planned.offering
    return LaunchSummary(
        launch_id, o.name, o.zone, o.capacity_type.value, o.price_usd_per_hour, planned.pods, instance_id
    )
