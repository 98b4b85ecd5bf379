"""Which subnet an instance goes to, per availability zone: from `aws.subnets` or discovered by tag.

`aws.subnets` maps zone → subnet id. Otherwise `aws.subnetSelectorTag` (`key` or `key=value`, e.g.
`karpenter.sh/discovery=my-cluster`) selects subnets by tag, and in each zone the one with the most free
addresses wins (ties: lowest id, so that replicas agree). Discovery is cached for `DISCOVERY_TTL_SECONDS`: free
addresses drift slowly, and a full subnet answers `InsufficientFreeAddressesInSubnet`, which moves launches to
another zone anyway. `aws.zones`, when set, limits either source.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from luna_autoscaler.errors import ProviderConfigurationError
from luna_autoscaler.ports import Clock
from providers.aws.classify import classified
from providers.aws.clients import AwsClient
from providers.aws.config import AwsConfig

DISCOVERY_TTL_SECONDS = 300.0


def tag_filter(selector: str) -> dict[str, object]:
    key, sep, value = selector.partition("=")
    if sep:
        return {"Name": f"tag:{key.strip()}", "Values": [value.strip()]}
    return {"Name": "tag-key", "Values": [key.strip()]}


class Subnets:
    def __init__(self, ec2: AwsClient, aws: AwsConfig, clock: Clock) -> None:
        if not aws.subnets and not aws.subnet_tag:
            raise ProviderConfigurationError(
                "aws: give aws.subnets (zone → subnet id) or aws.subnetSelectorTag "
                "(e.g. karpenter.sh/discovery=<cluster>)"
            )
        self._ec2 = ec2
        self._aws = aws
        self._clock = clock
        self._discovered: Mapping[str, str] = MappingProxyType({})
        self._discovered_at: datetime | None = None

    def by_zone(self) -> Mapping[str, str]:
        """Zone → subnet id."""
        subnets = dict(self._aws.subnets) if self._aws.subnets else dict(self._discover())
        if self._aws.zones:
            subnets = {zone: sid for zone, sid in subnets.items() if zone in self._aws.zones}
        return MappingProxyType(subnets)

    def _discover(self) -> Mapping[str, str]:
        now = self._clock()
        if self._discovered_at is not None and (now - self._discovered_at).total_seconds() < DISCOVERY_TTL_SECONDS:
            return self._discovered
        selector = self._aws.subnet_tag
        best: dict[str, tuple[int, str]] = {}
        with classified(f"ec2:DescribeSubnets {selector}"):
            pages = self._ec2.get_paginator("describe_subnets").paginate(
                Filters=[tag_filter(selector), {"Name": "state", "Values": ["available"]}]
            )
            for page in pages:
                for subnet in page.get("Subnets", []):
                    zone, sid = subnet["AvailabilityZone"], subnet["SubnetId"]
                    key = (-int(subnet.get("AvailableIpAddressCount", 0)), sid)
                    if zone not in best or key < best[zone]:
                        best[zone] = key
        if not best:
            raise ProviderConfigurationError(
                f"aws.subnetSelectorTag {selector!r}: no available subnet carries this tag in {self._aws.region}"
            )
        self._discovered = MappingProxyType({zone: key[1] for zone, key in sorted(best.items())})
        self._discovered_at = now
        return self._discovered
