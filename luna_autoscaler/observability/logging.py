"""structlog set-up for the daemon: one JSON object per line on stderr, one line per decision.

JSON because the logs go to a cluster's log pipeline, which indexes fields (`event`, `node`, `launch_id`,
`pod`) rather than parsing prose. `--log-format console` gives readable lines for a person at a terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog


def _stderr_logger(*args: object) -> structlog.PrintLogger:
    """A logger on the stderr of the moment (not the one at configuration time, which may have been replaced)."""
    return structlog.PrintLogger(sys.stderr)


def _stamped_by(timestamp: Callable[[], str]) -> structlog.typing.Processor:
    def stamp(logger: object, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event["timestamp"] = timestamp()
        return event

    return stamp


def configure_logging(*, level: str = "info", json: bool = True, timestamp: Callable[[], str] | None = None) -> None:
    """`timestamp`: what stamps each line instead of the wall clock's UTC time (the simulation's time, so that its
    decisions line up with the report's time axis)."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    stamp: structlog.typing.Processor = (
        structlog.processors.TimeStamper(fmt="iso", utc=True) if timestamp is None else _stamped_by(timestamp)
    )
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
