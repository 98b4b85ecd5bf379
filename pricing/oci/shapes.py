"""OCI's flexible CPU shapes as the planner sees them: one instance type per (shape, OCPUs, memory) size.

A flexible shape (VM.Standard.E4.Flex) is bought by OCPU and GB of memory, at any count in its range, priced
linearly: OCPUs × the shape's OCPU-hour rate + GB × its GB-hour rate (docs/catalog.md cites the rates). The
planner chooses among fixed shapes, so each flexible shape is offered at a ladder of sizes, named as Oracle's own
Karpenter provider names them, `<shape>.<ocpus>o.<gb>g` (VM.Standard.E4.Flex.4o.64g); `launch_shape` reads such a
name back into the shape and the `shape_config` the launch needs. An x86 OCPU is one core, two vCPUs; an Ampere
A1 OCPU is one vCPU (Oracle's compute pricing notes).

The rates here are the bundled snapshot's; the live price list (pricing.oci.price_list) replaces them by the
part numbers below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from luna_autoscaler.models.catalog import Arch, InstanceType
from pricing.shapes import DEFAULT_MAX_PODS, instance_family


@dataclass(frozen=True, slots=True)
class FlexShape:
    """A flexible CPU shape: its price list part numbers and bundled rates, and the sizes we offer it at."""

    shape: str
    arch: Arch
    vcpus_per_ocpu: int
    ocpu_part: str  # "Compute - Standard - E4 - OCPU", metric OCPU Per Hour
    memory_part: str  # "Compute - Standard - E4 - Memory", metric Gigabyte Per Hour
    usd_per_ocpu_hour: float
    usd_per_gb_hour: float
    max_memory_gb: int
    gb_per_ocpu: tuple[int, ...]  # memory ratios offered (OCI allows 1..64 GB per OCPU)
    ocpus: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)


# Oracle Cloud price list (oracle.com/cloud/compute/pricing, cost estimator products API), USD, pay as you go.
FLEX_SHAPES: tuple[FlexShape, ...] = (
    FlexShape("VM.Standard.E4.Flex", Arch.AMD64, 2, "B93113", "B93114", 0.025, 0.0015, 1024, (8, 16)),
    FlexShape("VM.Standard.E5.Flex", Arch.AMD64, 2, "B97384", "B97385", 0.03, 0.002, 1049, (8, 16)),
    FlexShape("VM.Standard.A1.Flex", Arch.ARM64, 1, "B93297", "B93298", 0.01, 0.0015, 472, (6,)),
)
FLEX_PRICES_AS_OF = date(2026, 5, 1)

_BY_SHAPE = {f.shape: f for f in FLEX_SHAPES}
_FLEX_NAME = re.compile(r"^(?P<shape>.+\.Flex)\.(?P<ocpus>\d+)o\.(?P<gb>\d+)g$")


@dataclass(frozen=True, slots=True)
class FlexSize:
    """One size of a flexible shape: what `launch_instance` gets as `shape` and `shape_config`."""

    flex: FlexShape
    ocpus: int
    memory_gb: int

    @property
    def name(self) -> str:
        return f"{self.flex.shape}.{self.ocpus}o.{self.memory_gb}g"

    def usd_per_hour(self, usd_per_ocpu_hour: float, usd_per_gb_hour: float) -> float:
        return round(self.ocpus * usd_per_ocpu_hour + self.memory_gb * usd_per_gb_hour, 6)

    def instance_type(self) -> InstanceType:
        return InstanceType(
            cloud="oci",
            name=self.name,
            family=instance_family("oci", self.name),
            vcpus=self.ocpus * self.flex.vcpus_per_ocpu,
            memory_mib=self.memory_gb * 1024,
            arch=self.flex.arch,
            max_pods=DEFAULT_MAX_PODS["oci"],
        )


def flex_sizes() -> tuple[FlexSize, ...]:
    """Every size offered, smallest first within each shape."""
    return tuple(
        FlexSize(f, ocpus, ocpus * ratio)
        for f in FLEX_SHAPES
        for ratio in f.gb_per_ocpu
        for ocpus in f.ocpus
        if ocpus * ratio <= f.max_memory_gb
    )


@dataclass(frozen=True, slots=True)
class LaunchShape:
    """What `launch_instance` gets for an instance type: the shape, and for a flexible one its OCPUs and GB."""

    shape: str
    ocpus: int | None = None
    memory_gb: int | None = None


def launch_shape(instance_type: str) -> LaunchShape:
    """`VM.Standard.E4.Flex.4o.64g` → VM.Standard.E4.Flex with 4 OCPUs and 64 GB; a fixed shape is itself."""
    m = _FLEX_NAME.match(instance_type)
    if m is None:
        return LaunchShape(instance_type)
    return LaunchShape(m["shape"], int(m["ocpus"]), int(m["gb"]))


def flex_shape(shape: str) -> FlexShape | None:
    return _BY_SHAPE.get(shape)
