"""Time as the adapter receives it: a clock (ports.Clock) and a sleeper, both injected so tests control them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Sleeper = Callable[[float], object]
"""Waits that many seconds (time.sleep, or threading.Event.wait so that a stop request cuts the wait short)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def micro_time(at: datetime) -> str:
    """A Kubernetes MicroTime (RFC 3339 with exactly six fractional digits, as the API server parses it).

    The official client re-serialises timestamps with datetime.isoformat(), which drops a zero fraction
    ("…:20+00:00"); the API server then rejects the object. A timestamp on a whole second is nudged by 1 µs.
    """
    if at.microsecond == 0:
        at = at.replace(microsecond=1)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
