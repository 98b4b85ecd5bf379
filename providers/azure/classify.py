"""How Azure's answers map to what the reconcile loop should do next, with the unavailability TTLs Azure's own
Karpenter provider uses (docs/azure.md, "Errors").

Azure reports a refused VM in two shapes: synchronously, as an ARM error answer to the agent pool PUT (an
`HttpResponseError` with an OData `error.code`), and asynchronously, as the `error` of a failed
Azure-AsyncOperation. AKS often wraps the compute error of its scale set in its own code
(`ReconcileVMSSAgentPoolFailed`, message `Code="ZonalAllocationFailed" Message=...`), so a failure is recognised
by the codes found anywhere in the code, the message and the details. What each one makes unavailable:

| Azure code | class | what | TTL |
|---|---|---|---|
| OperationNotAllowed, LowPriorityCores quota | QuotaExceeded | every spot offering | 1 h |
| OperationNotAllowed, Family Cores quota | QuotaExceeded | the size, its capacity type, every zone | 1 h at 0, 10 min |
| OperationNotAllowed, Total Regional Cores quota | QuotaExceeded | the size, that capacity type, every zone | 10 min |
| SkuNotAvailable | InsufficientCapacity | the size, that capacity type, every zone | 1 h spot, 23 h on-demand |
| ZonalAllocationFailed | InsufficientCapacity | the size in that zone, both capacity types | 1 h |
| AllocationFailed | InsufficientCapacity | the size in every zone, both capacity types | 1 h |
| OverconstrainedZonalAllocationRequest | InsufficientCapacity | that offering | 1 h |
| OverconstrainedAllocationRequest | InsufficientCapacity | the size, that capacity type, every zone | 1 h |
| VMSizeNotSupported | Permanent | the size, both capacity types, every zone | 23 h |
| 429, 5xx | Transient | (retry the call) | Retry-After |

The TTL rides on the error as `ttl_seconds` (an attribute the port's error classes do not declare; a loop that
does not read it falls back to its configured `insufficientCapacityTTL` / `quotaExceededTTL`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from luna_autoscaler.errors import (
    InsufficientCapacity,
    OfferingRef,
    Permanent,
    ProviderConfigurationError,
    ProviderError,
    QuotaExceeded,
    Transient,
)
from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering

HOUR = 3600.0
LOW_QUOTA_TTL_SECONDS = 600.0
QUOTA_REACHED_TTL_SECONDS = HOUR
ALLOCATION_FAILURE_TTL_SECONDS = HOUR
SKU_NOT_AVAILABLE_SPOT_TTL_SECONDS = HOUR
SKU_NOT_AVAILABLE_ON_DEMAND_TTL_SECONDS = 23 * HOUR
THROTTLED_RETRY_SECONDS = 30.0
SERVER_RETRY_SECONDS = 10.0
BUSY_RETRY_SECONDS = 15.0

# Our configuration or permissions are wrong; each code says which setting to look at.
CONFIGURATION_HINTS = {
    "AuthorizationFailed": "the autoscaler's identity lacks a permission (docs/azure.md lists the role)",
    "LinkedAuthorizationFailed": "the autoscaler's identity lacks a permission (docs/azure.md lists the role)",
    "InvalidAuthenticationToken": "Azure rejected the credentials (check workload identity, docs/azure.md)",
    "ExpiredAuthenticationToken": "the credentials have expired",
    "SubscriptionNotFound": "check azure.subscriptionId",
    "InvalidSubscriptionId": "check azure.subscriptionId",
    "ResourceGroupNotFound": "check azure.resourceGroup",
    "ResourceNotFound": "check azure.resourceGroup and azure.clusterName",
    "InvalidSubnetId": "check azure.vnetSubnetId",
    "SubnetIsFull": "the node subnet has no free address: grow it or set azure.vnetSubnetId",
    "InvalidOSSKU": "check azure.osSku",
}
# A pool busy with another operation (ours or someone's): try again shortly.
BUSY_CODES = frozenset({"OperationNotAllowed.InProgress", "AnotherOperationInProgress", "EtagMismatch", "Conflict"})
_CODE_IN_TEXT = re.compile(r'Code="?([A-Za-z.]+)"?')


@dataclass(frozen=True, slots=True)
class AzureFault:
    """An Azure error answer reduced to what classification reads."""

    code: str
    message: str
    status: int = 0
    retry_after_seconds: float | None = None
    detail_codes: tuple[str, ...] = ()

    @property
    def codes(self) -> frozenset[str]:
        """Every error code the answer names: its own, its details', and those quoted in its message."""
        return frozenset({self.code, *self.detail_codes, *_CODE_IN_TEXT.findall(self.message)} - {""})

    @staticmethod
    def from_body(body: Mapping[str, Any], status: int = 0, retry_after: float | None = None) -> AzureFault:
        """From an ARM error document (`{"error": {...}}`) or an async operation's status document."""
        error = body.get("error") if isinstance(body.get("error"), Mapping) else body
        details = [d for d in error.get("details") or () if isinstance(d, Mapping)]
        message = " ".join([str(error.get("message", "")), *(str(d.get("message", "")) for d in details)]).strip()
        return AzureFault(
            code=str(error.get("code", "")),
            message=message,
            status=status,
            retry_after_seconds=retry_after,
            detail_codes=tuple(str(d.get("code", "")) for d in details),
        )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def with_ttl(error: ProviderError, ttl_seconds: float) -> ProviderError:
    error.ttl_seconds = ttl_seconds  # type: ignore[attr-defined]
    return error


def _refs(offerings: Iterable[Offering]) -> tuple[OfferingRef, ...]:
    return tuple(dict.fromkeys(o.ref for o in offerings))


def _both(o: Offering) -> tuple[OfferingRef, ...]:
    other = CapacityType.ON_DEMAND if o.capacity_type is CapacityType.SPOT else CapacityType.SPOT
    return (o.ref, OfferingRef(o.name, o.zone, other.value))


def classify(fault: AzureFault, *, what: str, offering: Offering | None, catalog: Catalog) -> ProviderError:
    """The classified error for one Azure answer to an operation on `offering` (None: not about a VM size)."""
    codes = fault.codes
    text = f"{what}: {fault.code}: {fault.message}".rstrip(": ")
    hint = next((CONFIGURATION_HINTS[c] for c in codes if c in CONFIGURATION_HINTS), None)
    if hint is not None or fault.status in (401, 403):
        return ProviderConfigurationError(f"{text} ({hint or 'Azure refused the credentials or the permission'})")
    if fault.status == 429 or "TooManyRequests" in codes:
        return Transient(text, fault.retry_after_seconds or THROTTLED_RETRY_SECONDS)
    if offering is not None:
        found = _capacity_or_quota(codes, fault.message, text, offering, catalog)
        if found is not None:
            return found
    if codes & BUSY_CODES or fault.status == 409:
        return Transient(text, fault.retry_after_seconds or BUSY_RETRY_SECONDS)
    if fault.status >= 500 or "InternalServerError" in codes:
        return Transient(text, fault.retry_after_seconds or SERVER_RETRY_SECONDS)
    return Permanent(text, (offering.ref,) if offering is not None else ())


def _capacity_or_quota(
    codes: frozenset[str], message: str, text: str, o: Offering, catalog: Catalog
) -> ProviderError | None:
    same_size = [x for x in catalog if x.name == o.name]
    same_capacity = _refs(x for x in same_size if x.capacity_type is o.capacity_type) or (o.ref,)
    if "OperationNotAllowed" in codes and "LowPriorityCores" in message:
        spot = _refs(x for x in catalog if x.capacity_type is CapacityType.SPOT) or (o.ref,)
        return with_ttl(QuotaExceeded(f"{text} (the regional spot vCPU quota)", spot), QUOTA_REACHED_TTL_SECONDS)
    if "OperationNotAllowed" in codes and "Family Cores quota" in message:
        ttl = QUOTA_REACHED_TTL_SECONDS if "Current Limit: 0," in message else LOW_QUOTA_TTL_SECONDS
        return with_ttl(QuotaExceeded(text, same_capacity), ttl)
    if "OperationNotAllowed" in codes and "Regional Cores quota" in message:
        return with_ttl(QuotaExceeded(text, same_capacity), LOW_QUOTA_TTL_SECONDS)
    spot = o.capacity_type is CapacityType.SPOT
    if codes & {"SkuNotAvailable", "SKUNotAvailable"}:
        ttl = SKU_NOT_AVAILABLE_SPOT_TTL_SECONDS if spot else SKU_NOT_AVAILABLE_ON_DEMAND_TTL_SECONDS
        return with_ttl(InsufficientCapacity(text, same_capacity, spot_unavailable=spot), ttl)
    if "ZonalAllocationFailed" in codes:
        return with_ttl(InsufficientCapacity(text, _both(o), spot_unavailable=spot), ALLOCATION_FAILURE_TTL_SECONDS)
    if "OverconstrainedZonalAllocationRequest" in codes:
        return with_ttl(InsufficientCapacity(text, (o.ref,), spot_unavailable=spot), ALLOCATION_FAILURE_TTL_SECONDS)
    if "OverconstrainedAllocationRequest" in codes:
        failed = InsufficientCapacity(text, same_capacity, spot_unavailable=spot)
        return with_ttl(failed, ALLOCATION_FAILURE_TTL_SECONDS)
    if "AllocationFailed" in codes:
        everywhere = tuple(dict.fromkeys(r for x in (same_size or [o]) for r in _both(x)))
        return with_ttl(InsufficientCapacity(text, everywhere, spot_unavailable=spot), ALLOCATION_FAILURE_TTL_SECONDS)
    if "VMSizeNotSupported" in codes or ("BadRequest" in codes and "is not supported for subscription" in message):
        return with_ttl(Permanent(text, _refs(same_size) or (o.ref,)), SKU_NOT_AVAILABLE_ON_DEMAND_TTL_SECONDS)
    return None


def from_http_error(error: Any, *, what: str, offering: Offering | None, catalog: Catalog) -> ProviderError:
    """An azure-core exception (HttpResponseError, ServiceRequestError, ClientAuthenticationError...)."""
    response = getattr(error, "response", None)
    status = int(getattr(error, "status_code", None) or getattr(response, "status_code", 0) or 0)
    headers = dict(getattr(response, "headers", None) or {})
    odata = getattr(error, "error", None)
    if odata is not None and getattr(odata, "code", None):
        details = tuple(str(getattr(d, "code", "")) for d in getattr(odata, "details", None) or ())
        detail_messages = " ".join(str(getattr(d, "message", "")) for d in getattr(odata, "details", None) or ())
        fault = AzureFault(
            str(odata.code),
            f"{odata.message or ''} {detail_messages}".strip(),
            status,
            retry_after_seconds(headers),
            details,
        )
    elif response is not None:
        fault = AzureFault(
            type(error).__name__, str(getattr(error, "message", error)), status, retry_after_seconds(headers)
        )
    else:  # no answer at all: the network, or the credential before any request
        name = type(error).__name__
        if name in {"ClientAuthenticationError", "CredentialUnavailableError"}:
            return ProviderConfigurationError(f"{what}: {error} (no Azure credential: see docs/azure.md)")
        return Transient(f"{what}: {name}: {error}", SERVER_RETRY_SECONDS)
    return classify(fault, what=what, offering=offering, catalog=catalog)
