"""Compute Engine prices from the Cloud Billing Catalog API: SKUs per series (vCPU, RAM) and per GPU model.

GCE does not price a machine type; it prices the vCPU-hour and the GiB-hour of RAM of each machine series (N1, N2,
E2, G2, A2...) and the hour of each attached GPU model, per region, for on-demand (`usage_type` OnDemand) and spot
(`Preemptible`, described "Spot Preemptible ...") use. A machine type's hourly price is
vCPUs x core SKU + GiB x RAM SKU of its series, plus its GPUs x the GPU SKU. SKUs apply to the regions in their
`serviceRegions`. What a SKU description does not say plainly (custom, sole-tenant, commitment, extended memory)
is skipped and counted, never guessed. Shared-core types (e2-micro...) are billed by fractions of a vCPU: they keep
the snapshot's price.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from luna_autoscaler.models.catalog import CapacityType, InstanceType
from pricing.gcp.machines import machine_spec

COMPUTE_ENGINE_SERVICE = "services/6F81-5844-456A"
_USAGE_TYPES = {"OnDemand": CapacityType.ON_DEMAND, "Preemptible": CapacityType.SPOT}
_HOST = re.compile(
    r"^(?:Spot Preemptible )?(?P<series>[A-Z][A-Z0-9]*)(?: Predefined)?(?: AMD| Arm)? Instance (?P<part>Core|Ram) "
    r"running in "
)
_GPU = re.compile(r"^(?:Spot Preemptible )?Nvidia (?:Tesla )?(?P<model>[A-Z][A-Za-z0-9 ]*?) GPU running in ")
# The SKU's GPU model → GKE's accelerator type (pricing.gcp.machines names a catalog type's GPUs so).
_GPU_MODELS = {
    "T4": "nvidia-tesla-t4",
    "P4": "nvidia-tesla-p4",
    "P100": "nvidia-tesla-p100",
    "V100": "nvidia-tesla-v100",
    "K80": "nvidia-tesla-k80",
    "L4": "nvidia-l4",
    "A100": "nvidia-tesla-a100",
    "A100 80GB": "nvidia-a100-80gb",
    "H100 80GB": "nvidia-h100-80gb",
    "H100 80GB Mega": "nvidia-h100-mega-80gb",
    "H200 141GB": "nvidia-h200-141gb",
    "B200": "nvidia-b200",
}
SHARED_CORE_TYPES = frozenset({"e2-micro", "e2-small", "e2-medium", "f1-micro", "g1-small"})


@dataclass(frozen=True, slots=True)
class UnitPrices:
    """Hourly unit prices of one region and capacity type: per vCPU and per GiB of each series, per GPU model."""

    core_usd: Mapping[str, float] = field(default_factory=dict)  # series (N1) → USD per vCPU hour
    ram_usd: Mapping[str, float] = field(default_factory=dict)  # series → USD per GiB hour
    gpu_usd: Mapping[str, float] = field(default_factory=dict)  # GKE accelerator type → USD per GPU hour

    def price_usd_per_hour(self, it: InstanceType) -> float | None:
        """The hourly price of a catalog type, or None when a SKU it needs is missing (or it is shared-core)."""
        spec = machine_spec(it)
        if spec.machine_type in SHARED_CORE_TYPES:
            return None
        series = spec.machine_type.split("-", 1)[0].upper()
        core, ram = self.core_usd.get(series), self.ram_usd.get(series)
        if core is None or ram is None:
            return None
        price = it.vcpus * core + it.memory_mib / 1024 * ram
        if spec.accelerator_count:
            gpu = self.gpu_usd.get(spec.accelerator_type)
            if gpu is None:
                return None
            price += spec.accelerator_count * gpu
        return round(price, 6)


@dataclass(frozen=True, slots=True)
class SkuRead:
    """The unit prices of one region by capacity type, and how many SKUs were read and skipped."""

    prices: Mapping[CapacityType, UnitPrices]
    read: int
    skipped: int


def _unit_price_usd(sku: Any) -> float | None:
    """The hourly unit price (USD) of the SKU's current pricing: the first positive tier."""
    for info in sku.pricing_info[:1]:
        rates = sorted(info.pricing_expression.tiered_rates, key=lambda r: r.start_usage_amount)
        for rate in rates:
            money = rate.unit_price
            if money.currency_code and money.currency_code != "USD":
                return None
            value = money.units + money.nanos / 1e9
            if value > 0:
                return float(value)
    return None


def unit_prices(skus: Iterable[Any], region: str) -> SkuRead:
    """Per capacity type, the unit prices the SKUs give for `region` (pure over the SDK's Sku objects)."""
    cores: dict[CapacityType, dict[str, float]] = {c: {} for c in CapacityType}
    rams: dict[CapacityType, dict[str, float]] = {c: {} for c in CapacityType}
    gpus: dict[CapacityType, dict[str, float]] = {c: {} for c in CapacityType}
    read = skipped = 0
    for sku in skus:
        capacity = _USAGE_TYPES.get(sku.category.usage_type)
        if capacity is None or sku.category.resource_family != "Compute" or region not in sku.service_regions:
            continue
        read += 1
        price = _unit_price_usd(sku)
        host, gpu = _HOST.match(sku.description), _GPU.match(sku.description)
        if price is None or (host is None and gpu is None):
            skipped += 1
            continue
        if host is not None:
            table = cores if host["part"] == "Core" else rams
            table[capacity].setdefault(host["series"], price)
        elif gpu is not None and gpu["model"] in _GPU_MODELS:
            gpus[capacity].setdefault(_GPU_MODELS[gpu["model"]], price)
        else:
            skipped += 1
    prices = {c: UnitPrices(cores[c], rams[c], gpus[c]) for c in CapacityType}
    return SkuRead(prices, read, skipped)


def fetch_unit_prices(client: Any, region: str) -> SkuRead:
    """Every Compute Engine SKU (the pager follows `nextPageToken`), read for `region`."""
    request = {"parent": COMPUTE_ENGINE_SERVICE, "currency_code": "USD"}
    return unit_prices(client.list_skus(request=request, retry=None), region)
