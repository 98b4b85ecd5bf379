"""Every Azure error path to the port's classes, with Azure's TTLs: synchronous ARM answers to the agent pool PUT
through the real SDK, and the classification table on its own."""

from __future__ import annotations

import pytest

from luna_autoscaler.errors import (
    InsufficientCapacity,
    OfferingRef,
    Permanent,
    ProviderConfigurationError,
    QuotaExceeded,
    Transient,
)
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.ports import LaunchRequest
from providers.azure.classify import AzureFault, classify
from tests.azure.arm_server import CLUSTER, RecordingArmServer
from tests.azure.conftest import ProviderFactory

FAMILY = (
    "Operation could not be completed as it results in exceeding approved standardNCASv3_T4Family Family Cores "
    "quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: {limit}, "
    "Current Usage: 0, Additional Required: 4, (Minimum) New Limit Required: 4."
)
LOW_PRIORITY = (
    "Operation could not be completed as it results in exceeding approved LowPriorityCores quota. Additional "
    "details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 3, Current Usage: 0, "
    "Additional Required: 6, (Minimum) New Limit Required: 6."
)


def _offering(make_provider: ProviderFactory, capacity: CapacityType):  # type: ignore[no-untyped-def]
    provider = make_provider(zones=["1", "2"])
    catalog = provider.catalog()
    o = min((o for o in catalog if o.capacity_type is capacity), key=lambda o: (o.price_usd_per_hour, o.name, o.zone))
    return provider, catalog, o


@pytest.mark.parametrize(
    ("status", "code", "message", "retry_after", "expected", "ttl"),
    [
        (429, "TooManyRequests", "throttled", 17, Transient, None),
        (500, "InternalServerError", "oops", None, Transient, None),
        (503, "ServiceUnavailable", "later", 4, Transient, None),
        (403, "AuthorizationFailed", "no write on agentPools", None, ProviderConfigurationError, None),
        (404, "ResourceGroupNotFound", "gpu-rg", None, ProviderConfigurationError, None),
        (409, "OperationNotAllowed", LOW_PRIORITY, None, QuotaExceeded, 3600),
        (409, "OperationNotAllowed", FAMILY.format(limit=0), None, QuotaExceeded, 3600),
        (409, "OperationNotAllowed", FAMILY.format(limit=8), None, QuotaExceeded, 600),
        (409, "SkuNotAvailable", "The requested VM size is not available", None, InsufficientCapacity, 23 * 3600),
        (400, "VMSizeNotSupported", "not supported for subscription", None, Permanent, 23 * 3600),
        (400, "InvalidParameter", "bad", None, Permanent, None),
    ],
)
def test_a_refused_pool_put_is_classified_with_its_ttl(
    server: RecordingArmServer,
    make_provider: ProviderFactory,
    status: int,
    code: str,
    message: str,
    retry_after: float | None,
    expected: type,
    ttl: float | None,
) -> None:
    provider, _, o = _offering(make_provider, CapacityType.ON_DEMAND)
    server.fail("PUT pool", status, code, message, retry_after)

    with pytest.raises(expected) as raised:
        provider.launch(LaunchRequest("refused", CLUSTER, (o,)))

    assert code in str(raised.value)
    assert getattr(raised.value, "ttl_seconds", None) == ttl
    if retry_after is not None:
        assert raised.value.retry_after_seconds == retry_after  # type: ignore[attr-defined]
    assert provider.list_instances() == []  # nothing recorded for a refused launch


def test_spot_quota_makes_every_spot_offering_unavailable(make_provider: ProviderFactory) -> None:
    _, catalog, spot = _offering(make_provider, CapacityType.SPOT)
    error = classify(AzureFault("OperationNotAllowed", LOW_PRIORITY, 409), what="t", offering=spot, catalog=catalog)
    assert isinstance(error, QuotaExceeded)
    assert set(error.offerings) == {o.ref for o in catalog if o.capacity_type is CapacityType.SPOT}


def test_sku_not_available_for_spot_is_an_hour_for_that_size_in_every_zone(make_provider: ProviderFactory) -> None:
    _, catalog, spot = _offering(make_provider, CapacityType.SPOT)
    error = classify(AzureFault("SkuNotAvailable", "no spot", 409), what="t", offering=spot, catalog=catalog)
    assert isinstance(error, InsufficientCapacity) and error.spot_unavailable
    assert error.ttl_seconds == 3600  # type: ignore[attr-defined]
    assert {r.zone for r in error.offerings} == {"eastus-1", "eastus-2"}
    assert {(r.instance_type, r.capacity_type) for r in error.offerings} == {(spot.name, "spot")}


@pytest.mark.parametrize(
    ("code", "both_types", "all_zones"),
    [
        ("ZonalAllocationFailed", True, False),
        ("AllocationFailed", True, True),
        ("OverconstrainedZonalAllocationRequest", False, False),
        ("OverconstrainedAllocationRequest", False, True),
    ],
)
def test_allocation_failures_make_their_placement_unavailable_for_an_hour(
    make_provider: ProviderFactory, code: str, both_types: bool, all_zones: bool
) -> None:
    _, catalog, od = _offering(make_provider, CapacityType.ON_DEMAND)
    wrapped = AzureFault("ReconcileVMSSAgentPoolFailed", f'Code="{code}" Message="Allocation failed."')
    error = classify(wrapped, what="t", offering=od, catalog=catalog)
    assert isinstance(error, InsufficientCapacity) and error.ttl_seconds == 3600  # type: ignore[attr-defined]
    assert od.ref in error.offerings
    assert (OfferingRef(od.name, od.zone, "spot") in error.offerings) == both_types
    assert ({r.zone for r in error.offerings} == {"eastus-1", "eastus-2"}) == all_zones


def test_an_unauthenticated_call_is_a_configuration_error(make_provider: ProviderFactory) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    from providers.azure.classify import from_http_error

    error = from_http_error(
        ClientAuthenticationError("no token"), what="t", offering=None, catalog=make_provider().catalog()
    )
    assert isinstance(error, ProviderConfigurationError) and "docs/azure.md" in str(error)
