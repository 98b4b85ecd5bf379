"""How AWS answers map to what the reconcile loop should do next (the classes of `luna_autoscaler.errors`).

The loop never sees a botocore exception: every call to AWS goes through `classified(...)`, and every per-override
error of a CreateFleet answer through `classify(...)`. The vocabulary is EC2's documented error codes, which
CreateFleet also uses in its `Errors` list (plus spot request status codes such as `capacity-not-available`).
A code we do not know is `Permanent` for the offerings tried when AWS blamed the request (HTTP 4xx) and
`Transient` when it blamed itself (HTTP 5xx), so an unexpected answer never makes the loop spin on one offering.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from luna_autoscaler.errors import (
    InsufficientCapacity,
    OfferingRef,
    Permanent,
    ProviderConfigurationError,
    ProviderError,
    QuotaExceeded,
    Transient,
)

# No capacity for this type in this zone now (spot or on-demand): fall back to the next offering.
CAPACITY_CODES = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientCapacity",
        "InsufficientHostCapacity",
        "UnfulfillableCapacity",
        "SpotMaxPriceTooLow",
        "InsufficientFreeAddressesInSubnet",  # the zone's subnet is full: same remedy, another zone
        "capacity-not-available",
        "capacity-oversubscribed",
        "price-too-low",
    }
)
# Account limits: an operator must raise them; the offerings stay unavailable for longer.
QUOTA_CODES = frozenset(
    {
        "MaxSpotInstanceCountExceeded",
        "VcpuLimitExceeded",
        "InstanceLimitExceeded",
        "MaxFleetCountExceeded",
        "PendingVerification",  # a new account or region not yet verified by AWS
    }
)
# The request as made can never succeed (type not sold in that zone, parameters that do not go together).
PERMANENT_CODES = frozenset(
    {
        "Unsupported",
        "UnsupportedOperation",
        "InvalidParameterCombination",
        "InvalidParameterValue",
        "InvalidParameter",
        "InvalidInstanceType",
        "InvalidInstanceType.NotFound",
        "IdempotentParameterMismatch",  # the same launch id was reused with other offerings
    }
)
THROTTLING_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
    }
)
SERVER_CODES = frozenset(
    {"InternalError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException", "Unavailable"}
)
# A launch template deleted behind our back: forget it, recreate it, retry at once.
LAUNCH_TEMPLATE_GONE_CODES = frozenset(
    {
        "InvalidLaunchTemplateName.NotFoundException",
        "InvalidLaunchTemplateId.NotFound",
        "InvalidLaunchTemplateId.VersionNotFound",
    }
)
# Our configuration or permissions are wrong; each code says which setting to look at.
CONFIGURATION_HINTS = {
    "UnauthorizedOperation": "the autoscaler's IAM role lacks a permission (docs/aws.md lists the policy)",
    "AccessDenied": "the autoscaler's IAM role lacks a permission (docs/aws.md lists the policy)",
    "AccessDeniedException": "the autoscaler's IAM role lacks a permission (docs/aws.md lists the policy)",
    "AuthFailure": "AWS rejected the credentials",
    "InvalidClientTokenId": "AWS rejected the credentials",
    "UnrecognizedClientException": "AWS rejected the credentials",
    "SignatureDoesNotMatch": "AWS rejected the credentials",
    "ExpiredToken": "the credentials have expired",
    "ExpiredTokenException": "the credentials have expired",
    "OptInRequired": "the account is not opted in to this region or offer",
    "Blocked": "the account is blocked",
    "InvalidSubnetID.NotFound": "check aws.subnets / aws.subnetSelectorTag",
    "InvalidSubnetID.Malformed": "check aws.subnets",
    "InvalidSubnet": "check aws.subnets / aws.subnetSelectorTag",
    "InvalidAMIID.NotFound": "check aws.amiId (or the region of the EKS AMI)",
    "InvalidAMIID.Malformed": "check aws.amiId",
    "InvalidAMIID.Unavailable": "check aws.amiId: the image is deregistered or not available",
    "InvalidGroup.NotFound": "check aws.securityGroups",
    "InvalidSecurityGroupID.NotFound": "check aws.securityGroups",
    "InvalidGroupId.Malformed": "check aws.securityGroups",
    "InvalidIamInstanceProfile": "check aws.instanceProfile",
    "ParameterNotFound": "no EKS-optimised AMI is published for this version/architecture: check aws.clusterVersion "
    "or set aws.amiId",
    "QueueDoesNotExist": "check aws.interruptionQueue",
    "AWS.SimpleQueueService.NonExistentQueue": "check aws.interruptionQueue",
}
# Seconds to wait before the same call again: botocore has already retried with backoff when we see these.
THROTTLED_RETRY_SECONDS = 10.0
SERVER_RETRY_SECONDS = 5.0
LAUNCH_TEMPLATE_RETRY_SECONDS = 1.0


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def classify(
    code: str, message: str, *, what: str, offerings: Sequence[OfferingRef] = (), status: int = 0
) -> ProviderError:
    """The classified error for one AWS error code (`what` names the call, for the message)."""
    text = f"{what}: {code}: {message}".rstrip(": ")
    if code == "InvalidParameterValue" and "iaminstanceprofile" in message.replace(" ", "").lower():
        return ProviderConfigurationError(f"{text} (check aws.instanceProfile)")
    if code in CONFIGURATION_HINTS:
        return ProviderConfigurationError(f"{text} ({CONFIGURATION_HINTS[code]})")
    if code in CAPACITY_CODES:
        spot = any(o.capacity_type == "spot" for o in offerings)
        return InsufficientCapacity(text, offerings, spot_unavailable=spot)
    if code in QUOTA_CODES:
        return QuotaExceeded(text, offerings)
    if code in THROTTLING_CODES or status == 429:
        return Transient(text, THROTTLED_RETRY_SECONDS)
    if code in LAUNCH_TEMPLATE_GONE_CODES:
        return Transient(text, LAUNCH_TEMPLATE_RETRY_SECONDS)
    if code in SERVER_CODES or status >= 500:
        return Transient(text, SERVER_RETRY_SECONDS)
    return Permanent(text, offerings)


def from_client_error(error: ClientError, *, what: str, offerings: Sequence[OfferingRef] = ()) -> ProviderError:
    return classify(error_code(error), error_message(error), what=what, offerings=offerings, status=http_status(error))


def from_botocore_error(error: BotoCoreError, *, what: str, offerings: Sequence[OfferingRef] = ()) -> ProviderError:
    """Errors raised before AWS answered: the network (transient) or our own setup (configuration)."""
    if isinstance(error, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)):
        return Transient(f"{what}: {error}", SERVER_RETRY_SECONDS)
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return ProviderConfigurationError(
            f"{what}: {error} (give the pod an IAM role: EKS Pod Identity or IRSA, see docs/aws.md)"
        )
    if isinstance(error, NoRegionError):
        return ProviderConfigurationError(f"{what}: {error} (set aws.region)")
    return Permanent(f"{what}: {error}", offerings)


@contextmanager
def classified(what: str, offerings: Sequence[OfferingRef] = ()) -> Iterator[None]:
    """Translate any botocore error raised inside the block (`raise ... from e`, so the cause stays visible)."""
    try:
        yield
    except ClientError as e:
        raise from_client_error(e, what=what, offerings=offerings) from e
    except BotoCoreError as e:
        raise from_botocore_error(e, what=what, offerings=offerings) from e
