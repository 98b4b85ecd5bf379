"""Which priced offerings the AWS provider lets the planner see: reachable zones and the spot limits of `aws.*`.

- Zones: only those with a subnet (and within `aws.zones` when set): an offering elsewhere could never launch.
- `aws.maxSpotPriceRatio` (Luna's name): a spot offering priced above this fraction of the type's on-demand price
  is dropped; spot that is barely cheaper is not worth its interruptions.
- `aws.maxSpotInterruptBucket` (Luna's name): the spot advisor's interruption frequency bands, bucketed 0 `<5%`,
  1 `5-10%`, 2 `10-15%`, 3 `15-20%`, 4 `>20%`; a spot offering in a higher bucket is dropped. An offering whose
  band is unknown is kept (no evidence against it), and says so by having `interruption_band` None.
"""

from __future__ import annotations

from collections.abc import Collection

from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering

INTERRUPTION_BUCKETS = {"<5%": 0, "5-10%": 1, "10-15%": 2, "15-20%": 3, ">20%": 4}


def interruption_bucket(band: str | None) -> int | None:
    if band is None:
        return None
    return INTERRUPTION_BUCKETS.get(band.replace(" ", ""))


def launchable(
    catalog: Catalog,
    *,
    zones: Collection[str],
    max_spot_price_ratio: float | None = None,
    max_spot_interrupt_bucket: int | None = None,
) -> Catalog:
    on_demand = {o.name: o.price_usd_per_hour for o in catalog if o.capacity_type is CapacityType.ON_DEMAND}

    def keep(o: Offering) -> bool:
        if o.zone not in zones:
            return False
        if o.capacity_type is not CapacityType.SPOT:
            return True
        too_dear = max_spot_price_ratio is not None and o.price_usd_per_hour > max_spot_price_ratio * on_demand.get(
            o.name, float("inf")
        )
        if too_dear:
            return False
        bucket = interruption_bucket(o.interruption_band)
        return max_spot_interrupt_bucket is None or bucket is None or bucket <= max_spot_interrupt_bucket

    kept = tuple(o for o in catalog if keep(o))
    return Catalog(catalog.cloud, catalog.region, kept, catalog.provenance, catalog.instance_types)
