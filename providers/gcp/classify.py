"""How GCP answers map to what the reconcile loop should do next (the classes of `luna_autoscaler.errors`).

Errors reach us in four shapes: an HTTP error of a call (google.api_core exceptions, with the JSON error's
`errors[].reason` and `status`), the `error.errors[].code` of a finished Compute Engine zone operation, the
`lastAttempt.errors` of a managed instance the group keeps failing to create, and the error or node-pool
conditions of a finished GKE operation. All four use the same vocabulary of codes (ZONE_RESOURCE_POOL_EXHAUSTED,
QUOTA_EXCEEDED, GCE_STOCKOUT...), so one table classifies them.

Each error carries `ttl_seconds`, how long the offerings it names should stay out of plans (a stockout passes in
minutes, a quota needs an operator): the loop honours it where it knows the attribute, and falls back to its
configured TTLs otherwise. A code we do not know is Permanent when GCP blamed the request (HTTP 4xx) and Transient
when it blamed itself (5xx), so an unexpected answer never makes the loop spin on one offering.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import requests
from google.api_core.exceptions import GoogleAPICallError, GoogleAPIError, RetryError
from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError, RefreshError

from luna_autoscaler.errors import (
    InsufficientCapacity,
    OfferingRef,
    Permanent,
    ProviderConfigurationError,
    ProviderError,
    QuotaExceeded,
    Transient,
)

CAPACITY_TTL_SECONDS = 300.0
QUOTA_TTL_SECONDS = 3600.0
PERMANENT_TTL_SECONDS = 3 * 3600.0
THROTTLED_RETRY_SECONDS = 10.0
SERVER_RETRY_SECONDS = 5.0

# No machine of this type in this zone now (spot or on-demand): fall back to another offering.
CAPACITY_CODES = frozenset(
    {
        "ZONE_RESOURCE_POOL_EXHAUSTED",
        "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
        "RESOURCE_POOL_EXHAUSTED",
        "GCE_STOCKOUT",
        "STOCKOUT",
        "resourcePoolExhausted",
        "stockout",
    }
)
QUOTA_CODES = frozenset({"QUOTA_EXCEEDED", "GCE_QUOTA_EXCEEDED", "quotaExceeded", "rateLimitExceeded.quota"})
# The subnet or the pod/service ranges are full: no other offering helps, an operator must widen them.
IP_SPACE_CODES = frozenset({"IP_SPACE_EXHAUSTED", "IP_SPACE_EXHAUSTED_WITH_DETAILS", "ipSpaceExhausted"})
PERMANENT_CODES = frozenset(
    {"MACHINE_TYPE_UNSUPPORTED", "UNSUPPORTED_OPERATION", "INVALID_ARGUMENT", "invalid", "badRequest"}
)
THROTTLING_CODES = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})
CONFIGURATION_HINTS = {
    "PERMISSION_DENIED": "the autoscaler's service account lacks a permission (docs/gcp.md lists the role)",
    "forbidden": "the autoscaler's service account lacks a permission (docs/gcp.md lists the role)",
    "insufficientPermissions": "the autoscaler's service account lacks a permission (docs/gcp.md lists the role)",
    "UNAUTHENTICATED": "GCP rejected the credentials (Workload Identity binding, docs/gcp.md)",
    "GKE_SERVICE_ACCOUNT_DELETED": "the GKE service agent was deleted",
    "NODE_SERVICE_ACCOUNT_MISSING_PERMISSIONS": "the nodes' service account (gcp.serviceAccount) lacks permissions",
    "CLOUD_KMS_KEY_ERROR": "the boot disk KMS key is unusable",
    "CLOUD_KMS_KEY_DESTROYED": "the boot disk KMS key is destroyed",
}
_STATUS_CODES = {"RESOURCE_EXHAUSTED": "QUOTA_EXCEEDED", "PERMISSION_DENIED": "PERMISSION_DENIED"}

E = TypeVar("E", bound=ProviderError)


def _with_ttl(error: E, seconds: float | None) -> E:
    error.ttl_seconds = seconds  # type: ignore[attr-defined]
    return error


def classify(
    codes: Iterable[str], message: str, *, what: str, offerings: Sequence[OfferingRef] = (), status: int = 0
) -> ProviderError:
    """The classified error for GCP error codes (the first recognised one wins; `what` names the call)."""
    known = [c for c in codes if c]
    text = f"{what}: {', '.join(known) + ': ' if known else ''}{message}".rstrip(": ")
    lowered = message.lower()
    for code in known:
        if code in CAPACITY_CODES:
            spot = any(o.capacity_type == "spot" for o in offerings)
            return _with_ttl(InsufficientCapacity(text, offerings, spot_unavailable=spot), CAPACITY_TTL_SECONDS)
        if code in QUOTA_CODES:
            return _with_ttl(QuotaExceeded(text, offerings), QUOTA_TTL_SECONDS)
        if code in IP_SPACE_CODES:
            return _with_ttl(ProviderConfigurationError(f"{text} (widen the subnet or the pod ranges)"), None)
        if code in CONFIGURATION_HINTS:
            return _with_ttl(ProviderConfigurationError(f"{text} ({CONFIGURATION_HINTS[code]})"), None)
        if code in THROTTLING_CODES:
            return _with_ttl(Transient(text, THROTTLED_RETRY_SECONDS), None)
    if "does not have enough resources available" in lowered or "stockout" in lowered:
        return _with_ttl(InsufficientCapacity(text, offerings), CAPACITY_TTL_SECONDS)
    if "quota" in lowered and "exceeded" in lowered:
        return _with_ttl(QuotaExceeded(text, offerings), QUOTA_TTL_SECONDS)
    if status == 429:
        return _with_ttl(Transient(text, THROTTLED_RETRY_SECONDS), None)
    if status >= 500 or (not status and not known):
        return _with_ttl(Transient(text, SERVER_RETRY_SECONDS), None)
    if status in (401, 403):
        return _with_ttl(ProviderConfigurationError(f"{text} ({CONFIGURATION_HINTS['forbidden']})"), None)
    return _with_ttl(Permanent(text, offerings), PERMANENT_TTL_SECONDS)


def _call_codes(error: GoogleAPICallError) -> list[str]:
    codes = [str(e.get("reason", "")) for e in (error.errors or []) if isinstance(e, dict)]
    if error.reason:
        codes.append(str(error.reason))
    response = error.response
    if response is not None:
        try:
            status = str(response.json().get("error", {}).get("status", ""))
        except (ValueError, AttributeError):
            status = ""
        codes.append(_STATUS_CODES.get(status, status))
    return codes


def from_api_error(error: GoogleAPIError, *, what: str, offerings: Sequence[OfferingRef] = ()) -> ProviderError:
    if isinstance(error, GoogleAPICallError):
        status = int(error.code or 0)
        return classify(_call_codes(error), str(error.message), what=what, offerings=offerings, status=status)
    if isinstance(error, RetryError):
        return _with_ttl(Transient(f"{what}: {error}", SERVER_RETRY_SECONDS), None)
    return classify((), str(error), what=what, offerings=offerings)


def from_auth_error(error: GoogleAuthError, *, what: str) -> ProviderError:
    hint = "no Google credentials: bind the Kubernetes service account through Workload Identity (docs/gcp.md)"
    if isinstance(error, RefreshError):
        hint = "the credentials could not be refreshed (Workload Identity binding, docs/gcp.md)"
    if isinstance(error, DefaultCredentialsError | RefreshError):
        return _with_ttl(ProviderConfigurationError(f"{what}: {error} ({hint})"), None)
    return _with_ttl(ProviderConfigurationError(f"{what}: {error}"), None)


@contextmanager
def classified(what: str, offerings: Sequence[OfferingRef] = ()) -> Iterator[None]:
    """Translate any error of a Google call inside the block (`raise ... from e`, the cause stays visible)."""
    try:
        yield
    except GoogleAPIError as e:
        raise from_api_error(e, what=what, offerings=offerings) from e
    except GoogleAuthError as e:
        raise from_auth_error(e, what=what) from e
    except requests.RequestException as e:
        raise _with_ttl(Transient(f"{what}: {e}", SERVER_RETRY_SECONDS), None) from e
