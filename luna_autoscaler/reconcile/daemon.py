"""The loop around the cycle: run it on an interval while leader, survive every failure, say how it goes.

A cycle that fails (the API server or the cloud is unreachable, a bug) is logged with its kind, counted, and
retried after an exponential backoff; the process never dies of it. /healthz turns stale once no cycle has
succeeded for a while, so that the kubelet restarts a replica that is stuck rather than one that had one bad
cycle. A standby replica (not leader) does nothing but stays healthy and ready. Stopping (SIGTERM) is only
seen between cycles and between launch/terminate calls, so no cloud call is cut half-way; the lease is
released on the way out so that the next leader does not wait for it to expire.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from luna_autoscaler.backoff import Backoff
from luna_autoscaler.errors import LunaError
from luna_autoscaler.observability.health import Health
from luna_autoscaler.ports import Clock, Leadership
from luna_autoscaler.reconcile.reconciler import Reconciler

log = structlog.get_logger("luna_autoscaler.reconcile")

CYCLE_BACKOFF = Backoff(initial_seconds=5.0, max_seconds=300.0, jitter=0.0)


class AlwaysLeader:
    """Leadership for a single replica (`--no-leader-elect`, `--once`, the simulation)."""

    def is_leader(self) -> bool:
        return True

    def release(self) -> None:
        return None


def failure_kind(error: Exception) -> str:
    """A short label for the metrics: our classified errors by class name, anything else as `unexpected`."""
    return type(error).__name__ if isinstance(error, LunaError) else "unexpected"


class Daemon:
    def __init__(
        self,
        reconciler: Reconciler,
        *,
        leadership: Leadership,
        clock: Clock,
        health: Health,
        interval_seconds: float = 2.0,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        """`wait(seconds)` sleeps and returns True when stopping; the default waits on the stop event."""
        self._reconciler = reconciler
        self._leadership = leadership
        self._clock = clock
        self._health = health
        self._interval = interval_seconds
        self._wait = wait
        self._failures = 0
        self._was_leader: bool | None = None

    def step(self) -> float:
        """One turn of the loop; returns how long to wait before the next."""
        now = self._clock()
        leader = self._leadership.is_leader()
        self._reconciler.metrics.leader.set(1 if leader else 0)
        if leader and self._was_leader is False:
            log.info("leader.acquired", action="rebuilding state from the cluster and the provider")
            self._reconciler.forget()
        self._was_leader = leader
        if not leader:
            self._health.standby(now)
            return self._interval
        try:
            report = self._reconciler.run_once(now)
        except Exception as e:  # a failed cycle must never end the process: classify, back off, go stale
            self._failures += 1
            kind = failure_kind(e)
            self._reconciler.metrics.cycle_failures.labels(kind).inc()
            delay = max(self._interval, CYCLE_BACKOFF.delay_seconds(self._failures - 1))
            log.error(
                "cycle.failed",
                kind=kind,
                error=str(e),
                failures=self._failures,
                retry_in_seconds=delay,
                exc_info=not isinstance(e, LunaError),
            )
            self._health.failed(now, f"{kind}: {e}")
            return delay
        self._failures = 0
        self._health.succeeded(now)
        if report.launched or report.removed or report.drains_started or report.launch_errors:
            log.info(
                "cycle",
                pending=report.pending_pods,
                launched=len(report.launched),
                drains_started=len(report.drains_started),
                removed=len(report.removed),
                launch_errors=len(report.launch_errors),
                in_flight=report.in_flight,
            )
        return self._interval

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set; then release the lease."""
        wait = self._wait or stop.wait
        try:
            while not stop.is_set():
                delay = self.step()
                if wait(delay):
                    break
        finally:
            self._leadership.release()
            self._reconciler.metrics.leader.set(0)
            log.info("daemon.stopped")
