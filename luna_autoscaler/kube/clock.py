"""Time as the adapter receives it: a clock (ports.Clock) and a sleeper, both injected so tests control them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Sleeper = Callable[[float], object]
"""Waits that many seconds (time.sleep, or threading.Event.wait so that a stop request cuts the wait short)."""


def utc_now() -> datetime:
    return datetime.now(UTC)
