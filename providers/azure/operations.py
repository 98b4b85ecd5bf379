"""Agent pool long-running operations, advanced one status check per provider call, never waited on.

A PUT or deleteMachines on an agent pool answers 201/202 with an `Azure-AsyncOperation` (or `Location`) URL, and
the operation then runs for minutes. The SDK's own poller would poll it to the end in a thread of its own; this
module gives the SDK a polling method (`SteppedPolling`, azure-mgmt-core's ARM polling) whose `run()` does
nothing, so the SDK parses the first answer and picks the status URL exactly as usual, and the provider then calls
`step()` once from each `list_instances()` / `launch()` / `terminate()` call: one GET of the status URL, no sleep,
no thread. A failed operation's error document is kept for classification (providers.azure.classify).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError
from azure.core.polling.base_polling import BadResponse, BadStatus
from azure.mgmt.core.polling.arm_polling import ARMPolling

from providers.azure.classify import AzureFault, retry_after_seconds

SUCCEEDED = "succeeded"
LOST = "lost"  # Azure no longer knows the operation (404): the pool's own state tells the outcome
FAILED = frozenset({"failed", "canceled", "cancelled"})


class SteppedPolling(ARMPolling):  # type: ignore[misc]
    """ARM polling that moves only when told to (`step`); `run`, which the SDK's poller thread calls, returns
    at once."""

    def __init__(self) -> None:
        super().__init__(timeout=0)
        self.fault: AzureFault | None = None

    def run(self) -> None:
        return

    def step(self) -> str:
        """One status check unless already finished; the status in lower case. A failed check that Azure
        answered (throttled, 5xx) leaves the operation running; the error document of a failed one is kept."""
        if not self.finished():
            try:
                self.update_status()
            except (BadStatus, BadResponse):
                if self._pipeline_response.http_response.status_code == 404:
                    return LOST
                raise
            if self.status().lower() in FAILED:
                self.fault = self._fault()
        return self.status().lower()

    def _fault(self) -> AzureFault:
        response = self._pipeline_response.http_response
        try:
            body = json.loads(response.text() or "{}")
        except ValueError:
            body = {}
        if not isinstance(body, Mapping):
            body = {}
        return AzureFault.from_body(body, response.status_code, retry_after_seconds(dict(response.headers)))


@dataclass
class PoolOperation:
    """One operation in flight on one pool, and which launches it carries (a scale-up's new launch ids)."""

    kind: str  # scale | delete-machines
    polling: SteppedPolling
    started_at: datetime
    launch_ids: frozenset[str] = frozenset()
    machines: frozenset[str] = frozenset()
    step_error: str = field(default="")

    def advance(self) -> str:
        """The operation's status after one check: `inprogress`, `succeeded` or a failed state. A status check
        that fails (network, throttling) is remembered and retried on the next call."""
        try:
            status = self.polling.step()
        except (AzureError, BadStatus, BadResponse) as e:
            self.step_error = f"{type(e).__name__}: {e}"
            return "inprogress"
        self.step_error = ""
        return status


def start(begin: Any, *args: Any, **kwargs: Any) -> SteppedPolling:
    """Call an SDK `begin_*` method with a stepped polling method; the returned method holds the operation."""
    polling = SteppedPolling()
    begin(*args, polling=polling, **kwargs)
    return polling
