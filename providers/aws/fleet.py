"""One node = one EC2 CreateFleet call of type `instant`, with one override per offering the planner allows.

Why a fleet and not RunInstances: EC2 then tries every acceptable instance type × zone in a single call and
answers with the instance it could launch plus an error per pool it could not, so one insufficient-capacity pool
costs no extra round trip. The overrides follow the planner's order (cheapest first, its tie-breaks applied):

- on-demand: allocation strategy `prioritized`, priority = the planner's rank. `lowest-price` would pick by
  AWS's list price and lose the planner's tie-breaks (fewer wasted GPUs, less waste) and any offering the planner
  preferred for a pod's constraint; on-demand capacity rarely differs between equal-price pools.
- spot: `price-capacity-optimized` (AWS's and Karpenter's recommendation): among the pools the planner found
  acceptable it picks low price *and* deep capacity, so nodes are interrupted less; every override is already
  within the pods' constraints and max cost. Priorities are still sent so the order is on record.

A launch is one capacity type: the first offering's. Offerings of the other type are left for the loop, which
falls back to them after an insufficient-capacity error (`spot,on-demand`), as Karpenter does.
ClientToken is the launch id, so a retried call returns the first call's fleet instead of a second instance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
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
from luna_autoscaler.models.catalog import CapacityType, Offering
from providers.aws.classify import SERVER_RETRY_SECONDS, classify

MAX_OVERRIDES = 60  # CreateFleet accepts more, but beyond this the planner's later choices add nothing but size
SPOT_ALLOCATION_STRATEGY = "price-capacity-optimized"
ON_DEMAND_ALLOCATION_STRATEGY = "prioritized"
_CLIENT_TOKEN_MAX = 64


@dataclass(frozen=True, slots=True)
class FleetChoice:
    """One override: an offering, the launch template of its node configuration and its zone's subnet."""

    offering: Offering
    launch_template: str
    subnet_id: str

    @property
    def ref(self) -> OfferingRef:
        return self.offering.ref


@dataclass(frozen=True, slots=True)
class FleetFailure:
    """One entry of CreateFleet's `Errors`, with the offerings it names."""

    refs: tuple[OfferingRef, ...]
    code: str
    message: str
    launch_templates: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FleetOutcome:
    launched: tuple[tuple[str, FleetChoice], ...]  # (instance id, the override that launched it)
    failures: tuple[FleetFailure, ...]


def client_token(launch_id: str) -> str:
    """The launch id, or a digest of it when it exceeds the 64 ASCII characters EC2 accepts."""
    if len(launch_id) <= _CLIENT_TOKEN_MAX and launch_id.isascii():
        return launch_id
    return hashlib.sha256(launch_id.encode()).hexdigest()[:_CLIENT_TOKEN_MAX]


def _tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def fleet_request(
    launch_id: str, choices: Sequence[FleetChoice], tags: Mapping[str, str], placement_group: str = ""
) -> dict[str, Any]:
    """The CreateFleet parameters; `choices` share one capacity type and are in the planner's order; with a
    `placement_group` every override places the instance in it."""
    spot = choices[0].offering.capacity_type is CapacityType.SPOT
    configs: dict[str, list[dict[str, object]]] = {}
    for rank, choice in enumerate(choices):
        override: dict[str, object] = {
            "InstanceType": choice.offering.name,
            "SubnetId": choice.subnet_id,
            "Priority": float(rank),
        }
        if placement_group:
            override["Placement"] = {"GroupName": placement_group}
        configs.setdefault(choice.launch_template, []).append(override)
    request: dict[str, Any] = {
        "Type": "instant",
        "ClientToken": client_token(launch_id),
        "TargetCapacitySpecification": {
            "TotalTargetCapacity": 1,
            "DefaultTargetCapacityType": "spot" if spot else "on-demand",
        },
        "LaunchTemplateConfigs": [
            {"LaunchTemplateSpecification": {"LaunchTemplateName": name, "Version": "$Latest"}, "Overrides": overrides}
            for name, overrides in configs.items()
        ],
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": _tags(tags)},
            {"ResourceType": "fleet", "Tags": _tags(tags)},
        ],
    }
    if spot:
        request["SpotOptions"] = {"AllocationStrategy": SPOT_ALLOCATION_STRATEGY}
    else:
        request["OnDemandOptions"] = {"AllocationStrategy": ON_DEMAND_ALLOCATION_STRATEGY}
    return request


def _named(choices: Sequence[FleetChoice], template_and_overrides: Mapping[str, Any]) -> list[FleetChoice]:
    """The choices an answer's `LaunchTemplateAndOverrides` names (all of a template's when it gives no override)."""
    spec = template_and_overrides.get("LaunchTemplateSpecification") or {}
    override = template_and_overrides.get("Overrides") or {}
    named = list(choices)
    if spec.get("LaunchTemplateName"):
        named = [c for c in named if c.launch_template == spec["LaunchTemplateName"]]
    if override.get("InstanceType"):
        named = [c for c in named if c.offering.name == override["InstanceType"]]
    if override.get("SubnetId"):
        named = [c for c in named if c.subnet_id == override["SubnetId"]]
    elif override.get("AvailabilityZone"):
        named = [c for c in named if c.offering.zone == override["AvailabilityZone"]]
    return named


def read_fleet_response(response: Mapping[str, Any], choices: Sequence[FleetChoice]) -> FleetOutcome:
    launched: list[tuple[str, FleetChoice]] = []
    for entry in response.get("Instances") or []:
        named = _named(choices, entry.get("LaunchTemplateAndOverrides") or {})
        if not named:  # an answer that names no override we sent: go by the instance type alone
            named = [c for c in choices if c.offering.name == entry.get("InstanceType")] or list(choices)
        launched.extend((instance_id, named[0]) for instance_id in entry.get("InstanceIds") or [])
    failures = []
    for error in response.get("Errors") or []:
        named = _named(choices, error.get("LaunchTemplateAndOverrides") or {})
        failures.append(
            FleetFailure(
                refs=tuple(c.ref for c in named),
                code=str(error.get("ErrorCode", "")),
                message=str(error.get("ErrorMessage", "")),
                launch_templates=tuple(dict.fromkeys(c.launch_template for c in named)),
            )
        )
    return FleetOutcome(tuple(launched), tuple(failures))


# When nothing launched, the error the loop gets is the most telling one: what an operator must fix first, then
# what keeps the offerings away longest, down to what a plain retry may cure.
_MOST_TELLING_FIRST: tuple[type[ProviderError], ...] = (
    ProviderConfigurationError,
    QuotaExceeded,
    InsufficientCapacity,
    Permanent,
    Transient,
)


def _rank(error: ProviderError) -> int:
    return next((i for i, cls in enumerate(_MOST_TELLING_FIRST) if isinstance(error, cls)), len(_MOST_TELLING_FIRST))


def fleet_error(launch_id: str, failures: Sequence[FleetFailure]) -> ProviderError:
    """The classified error of a fleet that launched nothing, naming every offering that failed."""
    if not failures:
        return Transient(
            f"ec2:CreateFleet {launch_id}: the answer has neither an instance nor an error", SERVER_RETRY_SECONDS
        )
    what = "ec2:CreateFleet " + launch_id
    errors = [classify(f.code, f.message, what=what, offerings=f.refs) for f in failures]
    refs = tuple(dict.fromkeys(ref for f in failures for ref in f.refs))
    summary = "; ".join(
        f"{','.join(map(str, f.refs)) or 'every override'}: {f.code} {f.message}".strip() for f in failures
    )
    message = f"{what} launched nothing: {summary}"
    worst = min(errors, key=_rank)
    if isinstance(worst, ProviderConfigurationError):
        return ProviderConfigurationError(f"{worst}; all: {summary}")
    if isinstance(worst, QuotaExceeded):
        return QuotaExceeded(message, refs)
    if isinstance(worst, InsufficientCapacity):
        return InsufficientCapacity(message, refs, spot_unavailable=any(r.capacity_type == "spot" for r in refs))
    if isinstance(worst, Transient):
        return Transient(message, max(e.retry_after_seconds for e in errors if isinstance(e, Transient)))
    return Permanent(message, refs)
