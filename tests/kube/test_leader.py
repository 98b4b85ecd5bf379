"""Leader election on a Lease: two electors against the fake API server, with a fake clock and injected faults."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from luna_autoscaler.kube import ElectionSettings, LeaseElector, connect
from tests.kube.conftest import FakeClock
from tests.kubeapi import FakeApiServer, Fault

LEASE_PATH = r"/namespaces/luna-autoscaler/leases/luna-autoscaler$"


@pytest.fixture
def electors(api: FakeApiServer, clock: FakeClock, tmp_path: Path) -> Iterator[tuple[LeaseElector, LeaseElector]]:
    """Two replicas, each with its own client, sharing one (fake) wall clock."""
    kubeconfig = str(api.write_kubeconfig(tmp_path / "kubeconfig"))
    clients = [connect(kubeconfig), connect(kubeconfig)]
    a, b = (LeaseElector(c, ElectionSettings(identity=n), clock=clock) for c, n in zip(clients, "ab", strict=True))
    yield a, b
    for c in clients:
        c.close()


def _lease(api: FakeApiServer) -> dict[str, object]:
    spec: dict[str, object] = api.get("Lease", "luna-autoscaler", namespace="luna-autoscaler")["spec"]
    return spec


def _one_leader(a: LeaseElector, b: LeaseElector) -> None:
    assert not (a.is_leader() and b.is_leader()), "two leaders"


def test_the_first_elector_creates_the_lease_and_the_second_follows(
    api: FakeApiServer, electors: tuple[LeaseElector, LeaseElector], clock: FakeClock
) -> None:
    a, b = electors
    assert a.step() and not b.step()
    assert a.is_leader() and not b.is_leader()
    lease = _lease(api)
    assert lease["holderIdentity"] == "a" and lease["leaseDurationSeconds"] == 15 and lease["leaseTransitions"] == 0
    for _ in range(10):  # renewals every retry period keep the follower out
        clock.advance(2)
        assert a.step() and not b.step()
        _one_leader(a, b)
    renewed = datetime.fromisoformat(str(_lease(api)["renewTime"]).replace("Z", "+00:00"))
    assert abs(renewed - clock()) < timedelta(milliseconds=1)


def test_takeover_after_the_leader_stops_renewing(
    api: FakeApiServer, electors: tuple[LeaseElector, LeaseElector], clock: FakeClock
) -> None:
    a, b = electors
    assert a.step() and not b.step()  # b observes a's record now
    for _ in range(7):  # a is gone (crashed): b keeps trying every 2 s, but 14 s < the 15 s lease
        clock.advance(2)
        assert not b.step()
        _one_leader(a, b)
    assert not a.is_leader()  # a stopped acting at its 10 s renew deadline, before b may take over
    clock.advance(2)  # 16 s since b last saw the lease change
    assert b.step() and b.is_leader()
    lease = _lease(api)
    assert lease["holderIdentity"] == "b" and lease["leaseTransitions"] == 1
    assert not a.step()  # a comes back: it follows


def test_release_on_shutdown_hands_over_at_once(
    api: FakeApiServer, electors: tuple[LeaseElector, LeaseElector], clock: FakeClock
) -> None:
    a, b = electors
    assert a.step() and not b.step()
    a.release()
    assert not a.is_leader()
    assert _lease(api)["holderIdentity"] == "" and _lease(api)["leaseDurationSeconds"] == 1
    assert b.step()  # no waiting for the lease to expire


def test_racing_electors_one_conflict_one_leader(
    api: FakeApiServer, electors: tuple[LeaseElector, LeaseElector], clock: FakeClock
) -> None:
    a, b = electors
    assert a.step()
    a.release()
    # both see the free lease; b's write lands first, a's PUT then carries a stale resourceVersion
    held = api.inject(Fault(path=LEASE_PATH, method="PUT", delay_seconds=0.3, times=1))
    racing = threading.Thread(target=a.step)
    racing.start()
    assert held.triggered.wait(5.0)  # a has read the free lease and its PUT is held
    assert b.step()
    racing.join(5.0)
    assert [r.status for r in api.requests if r.verb == "update"][-2:] == [200, 409]
    assert b.is_leader() and not a.is_leader()
    assert _lease(api)["holderIdentity"] == "b"


def test_injected_conflicts_and_server_errors(
    api: FakeApiServer, electors: tuple[LeaseElector, LeaseElector], clock: FakeClock
) -> None:
    a, b = electors
    api.inject(Fault(path=r"/leases$", method="POST", status=409, times=1))  # lost a creation race
    assert not a.step()
    assert a.step()  # the lease is created on the next try (renewed at t=0)
    api.inject(Fault(path=LEASE_PATH, method="PUT", status=409, times=1))
    clock.advance(2)
    assert a.step()  # one failed renewal does not end leadership before the renew deadline
    clock.advance(2)
    assert a.step()  # renewed at t=4
    outage = api.inject(Fault(path=LEASE_PATH, status=500, times=None))
    for _ in range(4):  # t=6..12: renewals fail, still within the 10 s renew deadline
        clock.advance(2)
        assert a.step() and not b.step()
    clock.advance(2)
    assert not a.step() and not a.is_leader()  # t=14: 10 s without a renewal, a stops acting
    api.clear_faults()
    assert outage.hits == 9
    assert not b.step()  # b reads the lease for the first time now: it must wait a full lease duration
    clock.advance(16)
    assert b.step() and not a.step()
    _one_leader(a, b)


def test_electors_on_threads_hand_over_on_stop(api: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = str(api.write_kubeconfig(tmp_path / "kubeconfig"))
    fast = {"lease_duration_seconds": 3.0, "renew_deadline_seconds": 2.0, "retry_period_seconds": 0.05}
    leading = {"a": threading.Event(), "b": threading.Event()}
    a = LeaseElector(
        connect(kubeconfig),
        ElectionSettings(identity="a", **fast),
        on_change=lambda now: leading["a"].set() if now else None,
    )
    b = LeaseElector(
        connect(kubeconfig),
        ElectionSettings(identity="b", **fast),
        on_change=lambda now: leading["b"].set() if now else None,
    )
    a.start()
    try:
        assert leading["a"].wait(5.0)
        b.start()
        gets = sum(1 for r in api.requests if r.verb == "get")
        assert api.wait_for_requests("leases", "get", count=gets + 4)  # both have tried again since
        assert not leading["b"].is_set() and a.is_leader()
        a.stop()  # SIGTERM: release
        assert not a.is_leader()
        assert leading["b"].wait(1.0)  # well before the 3 s lease would have expired
        assert b.is_leader()
    finally:
        a.stop()
        b.stop()
    assert _lease(api)["holderIdentity"] == ""


def test_settings_must_order_retry_renew_and_lease() -> None:
    with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
        ElectionSettings(lease_duration_seconds=10, renew_deadline_seconds=10)
