"""The backoff policy of every retry: the kube adapter's (with jitter) and the reconcile loop's (without)."""

from __future__ import annotations

import pytest

from luna_autoscaler.backoff import Backoff


def test_delays_grow_exponentially_and_stop_at_the_cap() -> None:
    policy = Backoff(initial_seconds=0.5, max_seconds=6.0, factor=2.0, jitter=0.0)
    assert [policy.delay_seconds(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 6.0, 6.0]
    assert policy.delay_seconds(10_000) == 6.0  # no overflow on a long outage


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
def test_jitter_adds_up_to_its_fraction_and_never_passes_the_cap(draw: float) -> None:
    policy = Backoff(initial_seconds=1.0, max_seconds=3.0, jitter=0.2, random=lambda: draw)
    assert policy.delay_seconds(0) == pytest.approx(1.0 + 0.2 * draw)
    assert policy.delay_seconds(2) == 3.0


def test_without_jitter_the_schedule_is_exact_and_draws_nothing() -> None:
    def no_draw() -> float:
        raise AssertionError("a policy without jitter must not draw a random number")

    policy = Backoff(initial_seconds=10.0, max_seconds=300.0, jitter=0.0, random=no_draw)  # the drains' policy
    assert [policy.delay_seconds(n) for n in range(7)] == [10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid backoff"):
        Backoff(initial_seconds=5.0, max_seconds=1.0)
