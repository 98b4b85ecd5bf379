"""Errors, classified by what the caller should do next.

Provider errors follow the port's contract (architecture.md): a cloud adapter translates its SDK's exceptions
into one of these with `raise ... from e`, so the reconcile loop decides (fall back, back off, give up, tell the
operator) without knowing any cloud.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class LunaError(Exception):
    """Base of every error this product raises on purpose."""


def shown(value: object, limit: int = 40) -> str:
    """A user's value for an error message, cut short; safe for huge integers, whose repr raises past 4,300 digits."""
    if isinstance(value, int) and value.bit_length() > 4 * limit:
        return f"a number of about {value.bit_length() * 3 // 10} digits"
    if not isinstance(value, (str, int, float)):
        return f"a {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class QuantityError(LunaError, ValueError):
    """A Kubernetes quantity that cannot be parsed; the message names the value."""


class ManifestError(LunaError, ValueError):
    """A Kubernetes object we cannot read (missing fields, wrong types); the message says where."""


class ConfigError(LunaError, ValueError):
    """Invalid configuration (ConfigMap, --config file or flags); the message names the key and why."""


class CatalogError(LunaError, LookupError):
    """Unknown cloud or region, or a catalog file that cannot be read."""


@dataclass(frozen=True, slots=True)
class OfferingRef:
    """Instance type × zone × capacity type: the unit that ICE and quota errors make unavailable."""

    instance_type: str
    zone: str
    capacity_type: str

    def __str__(self) -> str:
        return f"{self.instance_type}/{self.zone}/{self.capacity_type}"


class ProviderError(LunaError):
    """Base of the classified errors a NodeProvider raises.

    `ttl_seconds`: how long the offerings it names should stay out of plans, when the cloud's own error says more
    than the configured default (Azure: SKUNotAvailable 1 h spot / 23 h on-demand; GKE: a stockout 5 min); None:
    the loop's configured TTL for that class (`insufficientCapacityTTL`, `quotaExceededTTL`)."""

    ttl_seconds: float | None = None


class InsufficientCapacity(ProviderError):
    """The cloud has no capacity for these offerings now: mark them unavailable and fall back to the next."""

    def __init__(self, message: str, offerings: Sequence[OfferingRef], *, spot_unavailable: bool = False) -> None:
        super().__init__(message)
        self.offerings = tuple(offerings)
        self.spot_unavailable = spot_unavailable


class QuotaExceeded(ProviderError):
    """An account limit (vCPU, spot count, GPU family quota): unavailable for longer; an operator must act."""

    def __init__(self, message: str, offerings: Sequence[OfferingRef] = ()) -> None:
        super().__init__(message)
        self.offerings = tuple(offerings)


class Transient(ProviderError):
    """Throttling or a passing fault: retry the same call after `retry_after_seconds`."""

    def __init__(self, message: str, retry_after_seconds: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Permanent(ProviderError):
    """The request can never succeed as made (unsupported type in that zone, invalid parameter)."""

    def __init__(self, message: str, offerings: Sequence[OfferingRef] = ()) -> None:
        super().__init__(message)
        self.offerings = tuple(offerings)


class ProviderConfigurationError(ProviderError):
    """Our configuration is wrong (missing subnet, bad image, no permission): say so; retrying will not help."""


class MissingExtra(LunaError, ImportError):
    """A cloud SDK that is not installed; the message says which extra to install."""

    def __init__(self, cloud: str, package: str, *, distribution: str = "luna-autoscaler") -> None:
        super().__init__(
            f"the {cloud} provider needs {package}, which is not installed: pip install '{distribution}[{cloud}]'"
        )
