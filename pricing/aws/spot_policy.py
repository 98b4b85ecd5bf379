"""The AWS spot limits of `aws.*`, as data on the offerings: the one implementation, used by `plan` and the
simulation (through the `aws` configuration section) and by the AWS provider alike.

- `aws.maxSpotInterruptBucket` (Luna's name): the spot advisor's interruption frequency bands, bucketed 0 `<5%`,
  1 `5-10%`, 2 `10-15%`, 3 `15-20%`, 4 `>20%` (spaces ignored: `5 - 10%` is band 1); a spot offering in a higher
  bucket is excluded. An offering whose band is unknown is kept (no evidence against it).
- `aws.maxSpotPriceRatio` (Luna's name): a spot offering priced above this fraction of the on-demand price of the
  same type in the same zone (in the region when that zone sells none on-demand) is excluded: spot that is
  barely cheaper is not worth its interruptions.

Excluded offerings are kept with the reason (`Offering.exclusion`), so pods left unplaced can say what kept them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from luna_autoscaler.models.catalog import CapacityType, Catalog, Offering

INTERRUPTION_BUCKETS: Mapping[str, int] = MappingProxyType({"<5%": 0, "5-10%": 1, "10-15%": 2, "15-20%": 3, ">20%": 4})


def interruption_bucket(band: str | None) -> int | None:
    """The bucket of a spot advisor band (None: unknown band, or none given)."""
    if band is None:
        return None
    return INTERRUPTION_BUCKETS.get(band.replace(" ", ""))


def exclusion(
    offering: Offering,
    on_demand_usd_per_hour: float | None,
    *,
    max_interrupt_bucket: int | None,
    max_price_ratio: float | None,
) -> str | None:
    """Why the limits exclude this offering (None: they do not)."""
    if offering.capacity_type is not CapacityType.SPOT:
        return None
    bucket = interruption_bucket(offering.interruption_band)
    if max_interrupt_bucket is not None and bucket is not None and bucket > max_interrupt_bucket:
        return f"spot interruption {offering.interruption_band} above aws.maxSpotInterruptBucket {max_interrupt_bucket}"
    if (
        max_price_ratio is not None
        and on_demand_usd_per_hour
        and (offering.price_usd_per_hour > max_price_ratio * on_demand_usd_per_hour)
    ):
        return f"spot/on-demand price ratio above aws.maxSpotPriceRatio {max_price_ratio:g}"
    return None


def apply(catalog: Catalog, *, max_interrupt_bucket: int | None, max_price_ratio: float | None) -> Catalog:
    """The catalog with every spot offering the limits exclude marked so (the same object when none is)."""
    if max_interrupt_bucket is None and max_price_ratio is None:
        return catalog
    in_zone: dict[tuple[str, str], float] = {}
    in_region: dict[str, float] = {}
    for o in catalog.offerings:
        if o.capacity_type is CapacityType.ON_DEMAND:
            key = (o.name, o.zone)
            in_zone[key] = min(in_zone.get(key, o.price_usd_per_hour), o.price_usd_per_hour)
            in_region[o.name] = min(in_region.get(o.name, o.price_usd_per_hour), o.price_usd_per_hour)
    offerings = []
    changed = False
    for o in catalog.offerings:
        on_demand = in_zone.get((o.name, o.zone), in_region.get(o.name))
        reason = exclusion(o, on_demand, max_interrupt_bucket=max_interrupt_bucket, max_price_ratio=max_price_ratio)
        marked = replace(o, exclusion=reason) if reason is not None and o.exclusion is None else o
        changed = changed or marked is not o
        offerings.append(marked)
    if not changed:
        return catalog
    return Catalog(catalog.cloud, catalog.region, tuple(offerings), catalog.provenance, catalog.instance_types)
