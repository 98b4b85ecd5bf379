"""What the loop remembers between cycles, and why each piece can be rebuilt.

- `LaunchRecord`: a launch from the call until its Node is initialised. It is what stops a second launch for
  the same pods (its planned capacity is passed to the planner as in-flight), and after a restart it is rebuilt
  from the provider's instances (their launch-id tag), so nothing is launched twice.
- `UnavailableOfferings`: offerings that ICE, quota or permanent errors (or a registration timeout) made
  unavailable, each until its own expiry. Lost on restart on purpose: the worst case is one more failed call.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from luna_autoscaler.errors import OfferingRef
from luna_autoscaler.models.resources import Resources
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import Instance, LaunchRequest


class LaunchPhase(StrEnum):
    REQUESTED = "requested"  # the launch call has not succeeded yet (transient error: retried with the same id)
    LAUNCHED = "launched"  # the instance exists; no Node yet
    REGISTERED = "registered"  # a Node exists, not yet Ready or without its GPUs allocatable


@dataclass(frozen=True, slots=True)
class LaunchRecord:
    """One node on its way. `allocatable`, `labels` and `taints` are what the node will offer and carry, so the
    planner counts it as in-flight capacity; `request` is kept to retry a transient failure idempotently."""

    launch_id: str
    request: LaunchRequest
    allocatable: Resources
    labels: dict[str, str]
    taints: tuple[Taint, ...]
    price_usd_per_hour: float
    gpus: int
    gpu_sku: str | None
    started_at: datetime
    pods: tuple[str, ...] = ()
    phase: LaunchPhase = LaunchPhase.REQUESTED
    instance: Instance | None = None
    node_name: str = ""
    attempts: int = 0
    retry_at: datetime | None = None

    @property
    def offering(self) -> OfferingRef:
        if self.instance is not None:
            return self.instance.offering
        return self.request.offerings[0].ref

    @property
    def instance_type(self) -> str:
        return self.offering.instance_type

    @property
    def capacity_type(self) -> str:
        return self.offering.capacity_type

    def launched(self, instance: Instance) -> LaunchRecord:
        return replace(self, instance=instance, phase=LaunchPhase.LAUNCHED, retry_at=None)

    def registered(self, node_name: str) -> LaunchRecord:
        return replace(self, node_name=node_name, phase=LaunchPhase.REGISTERED)

    def retry_later(self, at: datetime) -> LaunchRecord:
        return replace(self, attempts=self.attempts + 1, retry_at=at)


@dataclass(frozen=True, slots=True)
class Unavailability:
    until: datetime
    reason: str  # insufficient-capacity | quota | permanent | registration-timeout | interrupted


@dataclass
class UnavailableOfferings:
    """Offering → until when it is not to be planned; an offering marked twice keeps the later expiry."""

    entries: dict[OfferingRef, Unavailability] = field(default_factory=dict)

    def mark(self, refs: tuple[OfferingRef, ...], now: datetime, ttl_seconds: float, reason: str) -> None:
        until = now + timedelta(seconds=ttl_seconds)
        for ref in refs:
            current = self.entries.get(ref)
            if current is None or current.until < until:
                self.entries[ref] = Unavailability(until, reason)

    def current(self, now: datetime) -> frozenset[OfferingRef]:
        for ref in [r for r, u in self.entries.items() if u.until <= now]:
            del self.entries[ref]
        return frozenset(self.entries)

    def count_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for u in self.entries.values():
            counts[u.reason] = counts.get(u.reason, 0) + 1
        return counts
