"""Replicas of the daemon in one fault scenario: each its own kube adapter (cache, watches) and reconcile loop over
the one fake API server and the one fake cloud, driven through the real `Daemon` loop.

Through the Daemon, a replica that becomes leader again forgets what it knew (another replica acted in between)
and its `Health` says what its /healthz would. Leadership is the scenario's to move (a replica leads while
`leading`), so that a leader change falls between two cycles at a step the seed chose.
"""

from __future__ import annotations

from luna_autoscaler.kube import KubeCluster
from luna_autoscaler.observability.health import Health
from luna_autoscaler.reconcile import CycleReport, Daemon, Reconciler
from tests.reconcile.world import World

INTERVAL_SECONDS = 2.0


class _Recorded:
    """The Reconciler as the Daemon drives it, keeping the last cycle's report or error for the invariants."""

    def __init__(self, reconciler: Reconciler) -> None:
        self.reconciler = reconciler
        self.metrics = reconciler.metrics
        self.report: CycleReport | None = None
        self.error: Exception | None = None

    def run_once(self, now: object = None) -> CycleReport:
        self.report, self.error = None, None
        try:
            self.report = self.reconciler.run_once(now)  # type: ignore[arg-type]
        except Exception as e:
            self.error = e
            raise
        return self.report

    def forget(self) -> None:
        self.reconciler.forget()


class Replica:
    """One daemon replica; also its own `Leadership` port."""

    def __init__(self, world: World, name: str, cluster: KubeCluster | None = None) -> None:
        self.name = name
        self.world = world
        self.leading = False
        self.cluster = cluster or world.new_cluster(leading=self.is_leader)
        self.health = Health(
            world.clock,
            interval_seconds=INTERVAL_SECONDS,
            synced=lambda: self.cluster.synced,
            stale=self.cluster.staleness,
        )
        self.restart()

    def restart(self) -> None:
        """A new process for this replica: a fresh loop (the kube adapter is kept: its cache would resync the same)."""
        self.loop = _Recorded(self.world.new_reconciler(cluster=self.cluster))
        self.daemon = Daemon(self.loop, leadership=self, clock=self.world.clock, health=self.health)  # type: ignore[arg-type]

    def step(self) -> tuple[CycleReport | None, Exception | None]:
        """One turn of the daemon loop: a cycle when leading (its report, or the error it failed with)."""
        self.loop.report, self.loop.error = None, None
        self.daemon.step()
        return self.loop.report, self.loop.error

    # --- the Leadership port ---

    def is_leader(self) -> bool:
        return self.leading

    def release(self) -> None:
        self.leading = False
