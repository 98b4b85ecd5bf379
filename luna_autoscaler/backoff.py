"""Exponential backoff with optional jitter: the one retry schedule of the daemon.

The kube adapter (watch streams, API call retries) and the reconcile loop (failed cycles, transient
launch errors, blocked drains, configuration errors) all wait initial × factor^attempt before retry number
`attempt`, capped. A policy is plain data, so tests shrink it (milliseconds) instead of patching sleeps. The
adapter adds up to `jitter` of the delay at random, so that replicas and resources that failed together do not
retry in lock-step; the reconcile loop runs on its injected clock and uses `jitter=0.0`, so its retries stay
deterministic (and a random source can be injected where jitter is wanted in a test).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Backoff:
    initial_seconds: float = 0.5
    max_seconds: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.initial_seconds < 0 or self.max_seconds < self.initial_seconds or self.factor < 1:
            raise ValueError(f"invalid backoff {self}")

    def delay_seconds(self, attempt: int) -> float:
        """The wait before retry number `attempt` (0 for the first retry)."""
        base = min(self.max_seconds, self.initial_seconds * self.factor ** min(attempt, 64))
        if not self.jitter:
            return float(base)
        return min(self.max_seconds, base * (1.0 + self.jitter * self.random()))
