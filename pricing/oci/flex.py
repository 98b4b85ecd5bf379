"""The flexible CPU shapes' part of the bundled OCI snapshot (pricing.oci.snapshot adds it).

The shared catalog (../shared/catalog/oci_gpu_vms.csv) lists GPU shapes only, so without these a CPU pod could
not be planned on OKE. Each size of pricing.oci.shapes is priced from the bundled per-OCPU and per-GB rates, on
demand and preemptible (50 % of on demand, as Oracle prices preemptible capacity), in every zone the GPU rows of
the snapshot name: OCI prices do not vary by region or availability domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from luna_autoscaler.models.catalog import InstanceType
from pricing.oci.shapes import FLEX_PRICES_AS_OF, flex_sizes
from pricing.snapshot import PriceRow, Source

PREEMPTIBLE_DISCOUNT = 0.5  # "Preemptible instances are priced at 50% of the price of regular instances"

FLEX_SOURCE = Source(
    "oci-flex",
    "Oracle Cloud compute price list (flexible CPU shapes)",
    FLEX_PRICES_AS_OF,
    "pricing/oci/shapes.py: VM.Standard.E4.Flex, E5.Flex and A1.Flex per-OCPU and per-GB hourly rates from the "
    "Oracle Cloud price list (oracle.com/cloud/compute/pricing; products API part numbers B93113/B93114, "
    "B97384/B97385, B93297/B93298); preemptible at 50% of pay-as-you-go (docs/catalog.md)",
)


def flex_rows(zones: Iterable[tuple[str, str]]) -> Iterator[tuple[InstanceType, PriceRow]]:
    """Each flexible size in each (region, zone), with its on-demand and preemptible price."""
    places = sorted(set(zones))
    for size in flex_sizes():
        price = size.usd_per_hour(size.flex.usd_per_ocpu_hour, size.flex.usd_per_gb_hour)
        for region, zone in places:
            yield (
                size.instance_type(),
                PriceRow(
                    size.name,
                    region,
                    zone,
                    price,
                    FLEX_SOURCE.id,
                    round(price * PREEMPTIBLE_DISCOUNT, 6),
                    FLEX_SOURCE.id,
                ),
            )
