"""How OCI answers map to what the reconcile loop should do next (the classes of `luna_autoscaler.errors`).

Every call to OCI goes through `classified(...)`; a failed launch work request's error messages through
`from_work_request`. OCI signals a stock-out by message, not by code: "Out of host capacity." comes as HTTP 500
InternalError (or as the work request's error), so it is checked before the generic 5xx → Transient rule.
Limits and compartment quotas are `LimitExceeded` / `QuotaExceeded`. Errors carry `ttl_seconds`, how long the
offerings should stay unavailable (a host stock-out clears within minutes, a limit needs an operator); the loop
uses its configured TTLs where it does not read this attribute.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from oci.exceptions import ClientError, ServiceError

from luna_autoscaler.errors import (
    InsufficientCapacity,
    OfferingRef,
    Permanent,
    ProviderConfigurationError,
    ProviderError,
    QuotaExceeded,
    Transient,
)

OUT_OF_CAPACITY = "out of host capacity"
CAPACITY_TTL_SECONDS = 240.0  # OCI host capacity frees up within minutes
QUOTA_TTL_SECONDS = 900.0  # a service limit or compartment quota waits for an operator
QUOTA_CODES = frozenset({"LimitExceeded", "QuotaExceeded"})
NOT_FOUND_CODES = frozenset({"NotAuthorizedOrNotFound", "NotFound"})
TRANSIENT_CONFLICT_CODES = frozenset({"IncorrectState", "ExternalServerIncorrectState", "Conflict"})
DEFAULT_RETRY_SECONDS = 5.0


def _with_ttl(error: ProviderError, seconds: float) -> ProviderError:
    error.ttl_seconds = seconds  # type: ignore[attr-defined]
    return error


def insufficient_capacity(message: str, offerings: Sequence[OfferingRef]) -> ProviderError:
    spot = any(ref.capacity_type == "spot" for ref in offerings)
    return _with_ttl(InsufficientCapacity(message, offerings, spot_unavailable=spot), CAPACITY_TTL_SECONDS)


def from_message(message: str, *, what: str, offerings: Sequence[OfferingRef], code: str = "") -> ProviderError | None:
    """The class a message or code alone decides (capacity, quota), or None."""
    if OUT_OF_CAPACITY in message.lower():
        return insufficient_capacity(f"{what}: out of host capacity ({message})", offerings)
    if code in QUOTA_CODES or "limitexceeded" in message.lower().replace(" ", ""):
        return _with_ttl(QuotaExceeded(f"{what}: {code or 'limit'}: {message}", offerings), QUOTA_TTL_SECONDS)
    return None


def from_service_error(e: ServiceError, *, what: str, offerings: Sequence[OfferingRef] = ()) -> ProviderError:
    message, code, status = str(e.message or ""), str(e.code or ""), int(e.status or 0)
    decided = from_message(message, what=what, offerings=offerings, code=code)
    if decided is not None:
        return decided
    text = f"{what}: HTTP {status} {code}: {message}"
    if status == 429 or status >= 500 or (status == 409 and code in TRANSIENT_CONFLICT_CODES):
        return Transient(text, _retry_after(e))
    if status in (401, 403) or (status == 404 and code in NOT_FOUND_CODES):
        return ProviderConfigurationError(f"{text} (check the policy statements of docs/oci.md and the OCIDs)")
    return Permanent(text, offerings)


def from_work_request(messages: Sequence[str], *, what: str, offerings: Sequence[OfferingRef]) -> ProviderError:
    """A launch work request that FAILED (or was CANCELED), from the messages of its error list."""
    for message in messages:
        decided = from_message(message, what=what, offerings=offerings)
        if decided is not None:
            return decided
    text = "; ".join(messages) or "no error message"
    return Permanent(f"{what}: work request failed: {text}", offerings)


def _retry_after(e: ServiceError) -> float:
    headers = e.headers or {}
    raw = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(1.0, float(raw)) if raw is not None else DEFAULT_RETRY_SECONDS
    except ValueError:
        return DEFAULT_RETRY_SECONDS


@contextmanager
def classified(what: str, offerings: Sequence[OfferingRef] = ()) -> Iterator[None]:
    """Translate any OCI SDK failure inside the block into a classified ProviderError (`raise ... from e`)."""
    try:
        yield
    except ServiceError as e:
        raise from_service_error(e, what=what, offerings=offerings) from e
    except OSError as e:  # the SDK's connection errors and timeouts (requests' exceptions): the endpoint may come back
        raise Transient(f"{what}: {type(e).__name__}: {e}") from e
    except ClientError as e:  # bad configuration or key
        raise ProviderConfigurationError(f"{what}: {type(e).__name__}: {e}") from e
