"""Calls through the official client, returning raw JSON, with errors classified and transient ones retried.

Every call passes `_preload_content=False`, so the client returns the HTTP response and we parse its bytes with
the json module. The generated pydantic models are skipped on purpose: building them costs ~10× the time and
several times the memory of the dicts (docs/design/kube-adapter.md has the figures), and they reject whole
responses over one field a real cluster leaves out. Domain objects are built from the dicts by
`luna_autoscaler.models.manifest`, so raw JSON never leaves this package.

Client and transport exceptions become `KubeApiError` (`raise ... from e`), which says whether a retry may help.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from luna_autoscaler.backoff import Backoff
from luna_autoscaler.errors import LunaError
from luna_autoscaler.kube.clock import Sleeper

log = structlog.get_logger("luna_autoscaler.kube")

_TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class KubeApiError(LunaError):
    """A Kubernetes API call failed. `status` is the HTTP code (None: no answer: connection, timeout)."""

    def __init__(self, message: str, *, status: int | None, reason: str = "", retry_after_seconds: float | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds

    @property
    def transient(self) -> bool:
        """Retrying the same call later may succeed (no answer, throttled, server error)."""
        return self.status is None or self.status in _TRANSIENT_STATUSES

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


def _status_message(body: str | None) -> tuple[str, str]:
    """(reason, message) of a Kubernetes Status body, or ("", short body)."""
    if not body:
        return "", ""
    try:
        status = json.loads(body)
    except ValueError:
        return "", body[:200]
    if not isinstance(status, dict):
        return "", body[:200]
    return str(status.get("reason") or ""), str(status.get("message") or "")


def classify(error: Exception, what: str) -> KubeApiError:
    """Translate a client or transport exception raised while doing `what`."""
    if isinstance(error, KubeApiError):
        return error
    if isinstance(error, ApiException):
        reason, message = _status_message(error.body)
        retry_after = None
        if error.headers is not None and error.headers.get("Retry-After"):
            try:
                retry_after = float(error.headers["Retry-After"])
            except ValueError:
                retry_after = None
        detail = message or str(error.reason or "")
        return KubeApiError(
            f"{what}: HTTP {error.status} {reason or error.reason}: {detail}".rstrip(": "),
            status=error.status,
            reason=reason,
            retry_after_seconds=retry_after,
        )
    return KubeApiError(f"{what}: {type(error).__name__}: {error}", status=None)


_CALL_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError)


def parse_json(data: bytes) -> Any:
    """json.loads with the cyclic garbage collector paused.

    Parsing a 500-pod page allocates ~100,000 dicts and lists, which triggers generation-2 collections that walk
    every object the cache already holds: with 20,000 pods cached that made parsing ~10× slower. JSON cannot
    contain reference cycles, so pausing collection while it is parsed loses nothing. (Another thread may
    re-enable it early; that only costs speed.)
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return json.loads(data)
    finally:
        if paused:
            gc.enable()


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """How hard a single call tries: per-request timeout, then retries of transient failures."""

    timeout_seconds: float = 30.0
    attempts: int = 4
    backoff: Backoff = field(default_factory=lambda: Backoff(initial_seconds=0.2, max_seconds=5.0))


class Rest:
    """The typed API groups of the official client, called for raw JSON."""

    def __init__(self, api_client: k8s.ApiClient, *, policy: CallPolicy = CallPolicy(), sleep: Sleeper) -> None:
        self.api_client = api_client
        self.core = k8s.CoreV1Api(api_client)
        self.apps = k8s.AppsV1Api(api_client)
        self.policy_v1 = k8s.PolicyV1Api(api_client)
        self.events_v1 = k8s.EventsV1Api(api_client)
        self.coordination = k8s.CoordinationV1Api(api_client)
        self.custom = k8s.CustomObjectsApi(api_client)
        self.policy = policy
        self._sleep = sleep

    def once(self, what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One request; its JSON body (None when empty). Raises KubeApiError."""
        try:
            response = call(*args, _preload_content=False, _request_timeout=self.policy.timeout_seconds, **kwargs)
            try:
                data = response.data
            finally:
                response.release_conn()
            return parse_json(data) if data else None
        except _CALL_ERRORS as e:
            raise classify(e, what) from e

    def call(self, what: str, call: Callable[..., Any], *args: Any, retry_throttled: bool = True, **kwargs: Any) -> Any:
        """`once`, retrying transient failures with backoff (honouring Retry-After) up to policy.attempts.

        `retry_throttled=False` hands a 429 straight back: for evictions it means "a PodDisruptionBudget says not
        now", which the caller retries on its own schedule.
        """
        attempt = 0
        while True:
            try:
                return self.once(what, call, *args, **kwargs)
            except KubeApiError as e:
                attempt += 1
                throttled_back = e.status == 429 and not retry_throttled
                if not e.transient or throttled_back or attempt >= self.policy.attempts:
                    raise
                delay = max(self.policy.backoff.delay_seconds(attempt - 1), e.retry_after_seconds or 0.0)
                log.info("kube.retry", what=what, attempt=attempt, delay_seconds=round(delay, 3), error=str(e))
                self._sleep(delay)

    def open_stream(
        self, what: str, call: Callable[..., Any], *args: Any, read_timeout_seconds: float, **kwargs: Any
    ) -> urllib3.BaseHTTPResponse:
        """Start a watch; the caller reads lines from the response and closes it."""
        try:
            response: urllib3.BaseHTTPResponse = call(
                *args,
                watch=True,
                _preload_content=False,
                _request_timeout=(self.policy.timeout_seconds, read_timeout_seconds),
                **kwargs,
            )
        except _CALL_ERRORS as e:
            raise classify(e, what) from e
        return response
