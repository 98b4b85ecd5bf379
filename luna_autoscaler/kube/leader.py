"""Leader election on a coordination.k8s.io/v1 Lease: one active replica, fast takeover, clean hand-over.

An own small elector rather than `kubernetes.leaderelection`: that one calls sys.exit on bad settings, returns from
run() when it loses the lease, and reads the wall clock, which makes it hard to embed and to test. This one follows
client-go's algorithm with an injected clock, and `step()` is one attempt, so tests drive it deterministically.

- Acquire: create the Lease if missing; take it over when it has no holder or when its holder has not renewed it
  for leaseDurationSeconds. "Not renewed" is judged by when *we* last saw the record change (client-go's
  observedTime), never by comparing the holder's timestamps with our clock, so clock skew between nodes does not
  matter.
- Writes are PUTs carrying the resourceVersion we read: of two candidates racing for a free lease one gets 409
  and stays a follower.
- Renew every retry period. The leader stops considering itself leader once renew_deadline has passed since its
  last successful renew (API errors, partitions); renew_deadline < lease_duration guarantees it stops acting
  before anyone else may take over.
- Release (shutdown, SIGTERM): an empty holderIdentity and a 1 s duration, so the other replica takes over at its
  next retry instead of waiting out the lease.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from kubernetes import client as k8s

from luna_autoscaler.kube.clock import micro_time, utc_now
from luna_autoscaler.kube.rest import CallPolicy, KubeApiError, Rest
from luna_autoscaler.ports import Clock

log = structlog.get_logger("luna_autoscaler.kube")


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class ElectionSettings:
    lease_name: str = "luna-autoscaler"
    namespace: str = "luna-autoscaler"
    identity: str = field(default_factory=default_identity)
    lease_duration_seconds: float = 15.0  # how long a silent leader keeps the lease from others
    renew_deadline_seconds: float = 10.0  # how long a leader that cannot renew keeps acting
    retry_period_seconds: float = 2.0  # how often to try to acquire or renew

    def __post_init__(self) -> None:
        if not 0 < self.retry_period_seconds < self.renew_deadline_seconds < self.lease_duration_seconds:
            raise ValueError(
                "leader election needs 0 < retry period < renew deadline < lease duration, got "
                f"{self.retry_period_seconds} / {self.renew_deadline_seconds} / {self.lease_duration_seconds}"
            )


class LeaseElector:
    """Implements `luna_autoscaler.ports.Leadership`."""

    def __init__(
        self,
        api_client: k8s.ApiClient,
        settings: ElectionSettings | None = None,
        *,
        clock: Clock = utc_now,
        call_policy: CallPolicy | None = None,
        on_change: Callable[[bool], object] | None = None,
    ) -> None:
        """`on_change(leading)` is called (on the elector's thread) whenever leadership is gained or lost."""
        self.settings = settings or ElectionSettings()
        self._clock = clock
        self._on_change = on_change
        self._reported = False
        self._stop = threading.Event()
        # One attempt per call: the retry period is the elector's retry loop.
        self._rest = Rest(
            api_client, policy=call_policy or CallPolicy(timeout_seconds=5.0, attempts=1), sleep=self._stop.wait
        )
        self._lock = threading.Lock()
        self._renewed_at: datetime | None = None  # our last successful acquire/renew
        self._observed: tuple[str, str] | None = None  # (resourceVersion, holder) last seen
        self._observed_at: datetime | None = None
        self._thread: threading.Thread | None = None

    @property
    def identity(self) -> str:
        return self.settings.identity

    def is_leader(self) -> bool:
        with self._lock:
            renewed = self._renewed_at
        deadline = timedelta(seconds=self.settings.renew_deadline_seconds)
        return renewed is not None and self._clock() - renewed < deadline

    # -- one attempt --------------------------------------------------------------------------------------------

    def _spec(self, now: datetime, *, acquire_time: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.settings.lease_duration_seconds)),
            "acquireTime": acquire_time,
            "renewTime": micro_time(now),
            "leaseTransitions": transitions,
        }

    def _renewed(self, now: datetime) -> bool:
        with self._lock:
            self._renewed_at = now
        return True

    def _follow(self) -> bool:
        with self._lock:
            self._renewed_at = None
        return False

    def _report(self, leading: bool, holder: str) -> None:
        with self._lock:
            changed, self._reported = leading != self._reported, leading
        if not changed:
            return
        if leading:
            log.info("kube.leader_acquired", lease=self.settings.lease_name, identity=self.identity)
        else:
            log.warning("kube.leader_lost", lease=self.settings.lease_name, identity=self.identity, holder=holder)
        if self._on_change is not None:
            self._on_change(leading)

    def step(self) -> bool:
        """Try once to acquire or renew the lease; returns whether we lead now."""
        leading, holder = self._attempt()
        self._report(leading, holder)
        return leading

    def _attempt(self) -> tuple[bool, str]:
        """(whether we lead after this attempt, the holder we saw)."""
        now = self._clock()
        s = self.settings
        lease_api = self._rest.coordination
        try:
            lease = self._rest.call("get lease", lease_api.read_namespaced_lease, s.lease_name, s.namespace)
        except KubeApiError as e:
            if not e.not_found:
                log.warning("kube.lease_unreadable", lease=s.lease_name, error=str(e))
                return self.is_leader(), "?"
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": s.lease_name, "namespace": s.namespace},
                "spec": self._spec(now, acquire_time=micro_time(now), transitions=0),
            }
            try:
                self._rest.call("create lease", lease_api.create_namespaced_lease, s.namespace, body)
            except KubeApiError as create_error:
                log.info("kube.lease_create_failed", lease=s.lease_name, error=str(create_error))
                return self.is_leader(), "?"
            return self._renewed(now), self.identity

        spec = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        rv = str(lease["metadata"]["resourceVersion"])
        with self._lock:
            if self._observed != (rv, holder):
                self._observed, self._observed_at = (rv, holder), now
            observed_at = self._observed_at or now
        duration = timedelta(seconds=float(spec.get("leaseDurationSeconds") or s.lease_duration_seconds))
        if holder and holder != self.identity and now < observed_at + duration:
            return self._follow(), holder

        ours = holder == self.identity
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if ours or not holder else 1)
        acquire_time = str(spec.get("acquireTime") or "") if ours else micro_time(now)
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {**lease["metadata"], "resourceVersion": rv},
            "spec": self._spec(now, acquire_time=acquire_time or micro_time(now), transitions=transitions),
        }
        try:
            self._rest.call("update lease", lease_api.replace_namespaced_lease, s.lease_name, s.namespace, body)
        except KubeApiError as e:
            log.info("kube.lease_update_failed", lease=s.lease_name, error=str(e), conflict=e.conflict)
            return self.is_leader(), holder
        return self._renewed(now), self.identity

    def release(self) -> None:
        """Give the lease up now if we hold it (shutdown); the other replica takes over at its next retry."""
        with self._lock:
            held = self._renewed_at is not None
            self._renewed_at = None
        self._report(False, "")
        if not held:
            return
        s = self.settings
        lease_api = self._rest.coordination
        try:
            lease = self._rest.call("get lease", lease_api.read_namespaced_lease, s.lease_name, s.namespace)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            now = micro_time(self._clock())
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": lease["metadata"],
                "spec": {
                    "holderIdentity": "",
                    "leaseDurationSeconds": 1,
                    "acquireTime": now,
                    "renewTime": now,
                    "leaseTransitions": int(spec.get("leaseTransitions") or 0),
                },
            }
            self._rest.call("release lease", lease_api.replace_namespaced_lease, s.lease_name, s.namespace, body)
            log.info("kube.leader_released", lease=s.lease_name, identity=self.identity)
        except KubeApiError as e:
            log.warning("kube.lease_release_failed", lease=s.lease_name, error=str(e))

    # -- background loop ----------------------------------------------------------------------------------------

    def start(self) -> LeaseElector:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="leader-elector", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # never let the elector thread die: log, and the next period tries again
                log.exception("kube.elector_bug", lease=self.settings.lease_name)
            self._stop.wait(self.settings.retry_period_seconds)

    def stop(self, timeout_seconds: float = 5.0) -> None:
        """Stop campaigning and release the lease (call on SIGTERM)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_seconds)
        self.release()
