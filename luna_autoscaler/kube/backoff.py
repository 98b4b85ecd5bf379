"""Exponential backoff with jitter, shared by the watch loops, API retries, drain and leader election.

A policy is plain data so tests shrink it (milliseconds) instead of patching sleeps, and so every retry in the
adapter grows the same way: initial × factor^attempt, capped, plus up to `jitter` of itself at random so that
replicas and resources that failed together do not retry in lock-step.
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
        return min(self.max_seconds, base * (1.0 + self.jitter * self.random()))
