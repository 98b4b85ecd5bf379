"""Faults the fake server can be told to inject: what a real API server does under load or in a bad hour.

A fault matches requests by path (a regular expression searched in the URL path), optionally by method and by
whether the request is a watch, and applies to the next `times` of them (None: until cleared): it delays the
request, answers it with an error status (500, 429 with Retry-After, 409, 404...), or both. `triggered` is set
when a request first hits it, so a test can act while a delayed request is held.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    path: str
    status: int | None = None
    delay_seconds: float = 0.0
    times: int | None = 1
    method: str | None = None
    watch: bool | None = None
    retry_after_seconds: int | None = None
    hits: int = 0
    triggered: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path)

    def matches(self, method: str, path: str, is_watch: bool) -> bool:
        return (
            (self.times is None or self.hits < self.times)
            and (self.method is None or self.method.upper() == method)
            and (self.watch is None or self.watch == is_watch)
            and self._pattern.search(path) is not None
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the matching faults add up to for one request."""

    delay_seconds: float = 0.0
    status: int | None = None
    retry_after_seconds: int | None = None


class FaultPlan:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def verdict(self, method: str, path: str, is_watch: bool) -> Verdict:
        delay, status, retry_after = 0.0, None, None
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path, is_watch):
                    continue
                fault.hits += 1
                fault.triggered.set()
                delay += fault.delay_seconds
                if status is None and fault.status is not None:
                    status, retry_after = fault.status, fault.retry_after_seconds
        return Verdict(delay, status, retry_after)
