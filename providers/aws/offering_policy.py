"""Which priced offerings the AWS provider lets the planner see: reachable zones, under the `aws.*` policy.

- Zones: only those with a subnet (and within `aws.zones` when set): an offering elsewhere could never launch,
  so it is dropped.
- The spot limits (`aws.maxSpotPriceRatio`, `aws.maxSpotInterruptBucket`) and the root volume are the section's
  `catalog_policy` (pricing.aws.spot_policy, pricing.overhead): the one implementation `plan` uses too.
"""

from __future__ import annotations

from collections.abc import Collection

from luna_autoscaler.models.catalog import Catalog
from providers.aws.config import AwsConfig


def launchable(catalog: Catalog, *, zones: Collection[str], aws: AwsConfig) -> Catalog:
    kept = tuple(o for o in catalog if o.zone in zones)
    return aws.catalog_policy(Catalog(catalog.cloud, catalog.region, kept, catalog.provenance, catalog.instance_types))
