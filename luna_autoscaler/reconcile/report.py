"""What one reconcile cycle did, as plain values.

`run --once --dry-run` prints it, the simulation accumulates it into its timeline, and tests assert on it; the
Reconciler's logs say the same thing line by line, but a report is what a caller can compute with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from luna_autoscaler.planner.types import Unplaced


@dataclass(frozen=True, slots=True)
class LaunchSummary:
    """A launch made (or, in dry-run, that would be made) this cycle."""

    launch_id: str
    instance_type: str
    zone: str
    capacity_type: str
    price_usd_per_hour: float
    pods: tuple[str, ...]  # "namespace/name" the plan put on it
    instance_id: str = ""  # empty in dry-run


@dataclass(frozen=True, slots=True)
class RemovalSummary:
    """A node (or a node-less instance) removed, or whose removal started, this cycle."""

    node: str  # node name; empty for an instance that never had a node
    instance_id: str
    reason: str  # empty | underutilized | consolidated | interrupted | resumed | registration-timeout | orphan


@dataclass(frozen=True, slots=True)
class CycleReport:
    now: datetime
    pending_pods: int  # pods this cycle considered for scale-up (handled, valid, not gated)
    planned: bool  # False while the batch window is still open (or nothing was pending)
    launched: tuple[LaunchSummary, ...] = ()
    launch_errors: tuple[str, ...] = ()  # "<kind>: <message>" per failed launch attempt
    unplaced: tuple[Unplaced, ...] = ()
    drains_started: tuple[RemovalSummary, ...] = ()
    removed: tuple[RemovalSummary, ...] = ()  # node deleted and instance terminated
    in_flight: int = 0  # launches not yet initialised nodes, after this cycle
    dry_run: bool = False
