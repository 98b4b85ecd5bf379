"""Gangs, queues and ProvisioningRequests in the cycle: what the pending pods become before they are planned,
and the answers given after.

Before scale-up: pending pods are grouped into gangs (their PodGroups), those their KAI queue or Kueue
ClusterQueue would not admit now are held back with a `NotTriggerScaleUp` Event naming the queue and why, and
every open ProvisioningRequest of the best-effort-atomic class adds the pods it stands for as one more gang.
After scale-up each ProvisioningRequest gets the conditions the Cluster Autoscaler gives it: `Accepted` when first seen;
`Provisioned=True` (CapacityIsFound, or CapacityIsProvisioned when nodes were launched for it) once all its pods
have a place, else `Provisioned=False` (CapacityIsNotFound, tried again next cycle); `Failed=True` when it
cannot be read (a PodTemplate missing); check-capacity requests are answered from existing capacity only;
`CapacityRevoked=True` when nodes launched for a provisioned request are gone before its pods arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog

from luna_autoscaler.models.pod import Pod
from luna_autoscaler.models.workloads import (
    CHECK_CAPACITY,
    CONSUME_PROVISIONING_REQUEST,
    PROVISIONING_CLASSES,
    Condition,
    GroupKind,
    ProvisioningRequest,
    Workloads,
    WorkloadSource,
    gangs,
    group_key,
    request_pods,
)
from luna_autoscaler.planner.gangs import GangSpec, plan_gangs
from luna_autoscaler.planner.queues import Admission, admit, admit_kueue
from luna_autoscaler.planner.types import Limits, PlanRequest, Unplaced
from luna_autoscaler.reconcile.events import PodEvents

log = structlog.get_logger("luna_autoscaler.reconcile")

ACCEPTED = "Accepted"
PROVISIONED = "Provisioned"
FAILED = "Failed"
CAPACITY_REVOKED = "CapacityRevoked"
# The Cluster Autoscaler's reasons and messages, so tools that read them (Kueue, kubectl) see the same.
ACCEPTED_MESSAGE = "ProvisioningRequest is accepted by ClusterAutoscaler"
CAPACITY_FOUND = "CapacityIsFound"
CAPACITY_PROVISIONED = "CapacityIsProvisioned"
CAPACITY_NOT_FOUND = "CapacityIsNotFound"
FAILED_TO_CREATE_PODS = "FailedToCreatePods"


@dataclass(frozen=True)
class Prepared:
    """The pods to plan this cycle and what else the answers need."""

    pending: tuple[Pod, ...]
    gangs: tuple[GangSpec, ...]
    held: tuple[Unplaced, ...] = ()
    asking: tuple[tuple[ProvisioningRequest, tuple[Pod, ...]], ...] = ()  # best-effort-atomic, being provisioned
    checking: tuple[tuple[ProvisioningRequest, tuple[Pod, ...]], ...] = ()  # check-capacity
    unreadable: tuple[tuple[ProvisioningRequest, str], ...] = ()
    workloads: Workloads = field(default_factory=Workloads)


class GangsAndQueues:
    def __init__(self, source: WorkloadSource | None, events: PodEvents, *, dry_run: bool) -> None:
        self._source = source
        self._events = events
        self._dry_run = dry_run
        self._launched_for: dict[str, frozenset[str]] = {}  # request key → instance ids launched for it

    def prepare(self, pending: Sequence[Pod], pods: Sequence[Pod]) -> Prepared:
        """Gangs of the pending pods, those the queues hold back, and the pods of open ProvisioningRequests."""
        workloads = self._source.workloads() if self._source is not None else Workloads()
        found = gangs(pods, pending, workloads.pod_groups)
        kai = admit(pending, found, [p for p in pods if p.node_name], workloads.queues, workloads.pod_groups)
        kueue = admit_kueue(kai.admitted, found, pods, workloads.cluster_queues, workloads.local_queues)
        admission = Admission(kueue.admitted, (*kai.held, *kueue.held))
        by_key = {p.key: p for p in pending}
        for u in admission.held:
            if self._events.post(
                by_key[u.pod], "NotTriggerScaleUp", f"pod didn't trigger scale-up: {u.reason}", warning=True
            ):
                log.info("scale_up.queue_held", pod=u.pod, reason=u.reason)
        admitted = {p.key for p in admission.admitted}
        specs = [GangSpec.of(g, (p for p in g.pending if p.key in admitted)) for g in found]
        asking: list[tuple[ProvisioningRequest, tuple[Pod, ...]]] = []
        checking: list[tuple[ProvisioningRequest, tuple[Pod, ...]]] = []
        unreadable: list[tuple[ProvisioningRequest, str]] = []
        templates = {f"{t.namespace}/{t.name}": t for t in workloads.pod_templates}
        for request in workloads.provisioning_requests:
            if request.class_name not in PROVISIONING_CLASSES or request.is_true(FAILED):
                continue
            if request.is_true(PROVISIONED):
                continue
            virtual = request_pods(request, templates)
            if isinstance(virtual, str):
                unreadable.append((request, virtual))
            elif request.class_name == CHECK_CAPACITY:
                checking.append((request, virtual))
            else:
                asking.append((request, virtual))
                specs.append(GangSpec.whole(_request_gang(request), virtual))
        extra = tuple(p for _, virtual in asking for p in virtual)
        return Prepared(
            (*admission.admitted, *extra),
            tuple(s for s in specs if s.pods),
            admission.held,
            tuple(asking),
            tuple(checking),
            tuple(unreadable),
            workloads,
        )

    def answer(
        self,
        prepared: Prepared,
        *,
        placed: frozenset[str],
        launched_instances: dict[str, str],
        base: PlanRequest,
        live_instances: frozenset[str],
        bound: Sequence[Pod],
        now: datetime,
    ) -> None:
        """Post each ProvisioningRequest's conditions (module docstring). `launched_instances` maps pod key →
        instance launched for it this cycle; `base` is a plan request over the existing and in-flight capacity."""
        if self._source is None:
            return
        stamp = now.isoformat().replace("+00:00", "Z")
        for request, why in prepared.unreadable:
            self._set(
                request, [_accepted(request, stamp), Condition(FAILED, "True", FAILED_TO_CREATE_PODS, why, stamp)]
            )
        for request, virtual in prepared.asking:
            keys = [p.key for p in virtual]
            if all(k in placed for k in keys):
                instances = frozenset(launched_instances[k] for k in keys if k in launched_instances)
                if instances:
                    self._launched_for[request.key] = instances
                reason = CAPACITY_PROVISIONED if instances else CAPACITY_FOUND
                message = (
                    f"Capacity is provisioned: {len(instances)} new nodes"
                    if instances
                    else "Capacity is found in the cluster"
                )
                self._set(request, [_accepted(request, stamp), Condition(PROVISIONED, "True", reason, message, stamp)])
            else:
                self._not_found(request, "Capacity is not found, the autoscaler will try to find it later.", stamp)
        for request, virtual in prepared.checking:
            spec = GangSpec.whole(_request_gang(request), virtual)
            result = plan_gangs(replace(base, pods=virtual, limits=Limits(nodes=0)), [spec]).plan
            if result.unplaced:
                self._not_found(request, "Capacity is not found, the autoscaler will check again later.", stamp)
            else:
                found = Condition(PROVISIONED, "True", CAPACITY_FOUND, "Capacity is found in the cluster", stamp)
                self._set(request, [_accepted(request, stamp), found])
        self._revoke(prepared.workloads, live_instances, bound, stamp)

    def _revoke(self, workloads: Workloads, live: frozenset[str], bound: Sequence[Pod], stamp: str) -> None:
        """A provisioned request whose new nodes went away (interrupted, timed out) before any pod consumed it."""
        requests = {r.key: r for r in workloads.provisioning_requests}
        consumed = {
            f"{p.namespace}/{p.annotations[a]}"
            for p in bound
            for a in CONSUME_PROVISIONING_REQUEST
            if a in p.annotations
        }
        for key, instances in list(self._launched_for.items()):
            request = requests.get(key)
            if request is None or key in consumed:
                del self._launched_for[key]
                continue
            lost = instances - live
            if lost and not request.is_true(CAPACITY_REVOKED):
                message = f"{len(lost)} of the {len(instances)} nodes provisioned for it are gone"
                conditions = [c for c in request.conditions if c.type != CAPACITY_REVOKED]
                self._set(request, [*conditions, Condition(CAPACITY_REVOKED, "True", CAPACITY_REVOKED, message, stamp)])
                del self._launched_for[key]

    def _not_found(self, request: ProvisioningRequest, message: str, stamp: str) -> None:
        self._set(
            request, [_accepted(request, stamp), Condition(PROVISIONED, "False", CAPACITY_NOT_FOUND, message, stamp)]
        )

    def _set(self, request: ProvisioningRequest, wanted: Sequence[Condition]) -> None:
        """Merge `wanted` into the request's conditions; write only when a status, reason or message changes (a
        condition keeps its transition time while its status stays)."""
        current = {c.type: c for c in request.conditions}
        merged = dict(current)
        for c in wanted:
            old = current.get(c.type)
            if old is not None and (old.status, old.reason, old.message) == (c.status, c.reason, c.message):
                continue
            merged[c.type] = replace(c, last_transition=old.last_transition) if old and old.status == c.status else c
        if merged == current:
            return
        if self._dry_run:
            log.info("provisioning_request.would_update", request=request.key, conditions=sorted(merged))
            return
        assert self._source is not None
        try:
            self._source.set_conditions(request, tuple(merged.values()))
        except Exception as e:
            log.warning("provisioning_request.update_failed", request=request.key, error=f"{type(e).__name__}: {e}")
            return
        log.info(
            "provisioning_request.updated",
            request=request.key,
            conditions={t: f"{c.status}/{c.reason}" for t, c in merged.items()},
        )


def _request_gang(request: ProvisioningRequest) -> str:
    return group_key(GroupKind.PROVISIONING_REQUEST, request.namespace, request.name)


def _accepted(request: ProvisioningRequest, stamp: str) -> Condition:
    return request.condition(ACCEPTED) or Condition(ACCEPTED, "True", ACCEPTED, ACCEPTED_MESSAGE, stamp)
