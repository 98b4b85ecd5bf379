"""The OCI part of the bundled snapshot: the GPU shapes with their preemptible prices (region-invariant on OCI),
and the flexible CPU shapes (pricing.oci.flex).
docs/catalog.md explains every decision.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pricing import shapes
from pricing.oci.flex import FLEX_SOURCE, flex_rows
from pricing.snapshot import Source
from pricing.snapshot_build import (
    CloudBuild,
    catalog_price_row,
    gib_to_mib,
    gpu_memory_mib,
    instance_type,
    rows,
)

SOURCE = Source(
    "oci",
    "SkyPilot OCI catalog (region-invariant prices)",
    date(2025, 10, 1),
    "oci_gpu_vms.csv: OCI GPU shapes, preemptible price where given; skypilot-catalog v8/oci (region-invariant) "
    "commit 0588751, late 2025 (no day recorded: dated 2025-10-01 here, the start of that period)",
)


def build(catalog_dir: Path) -> CloudBuild:
    b = CloudBuild("oci", (SOURCE, FLEX_SOURCE), "us-ashburn-1")
    for r in rows(catalog_dir / "oci_gpu_vms.csv"):
        name = r["InstanceType"]
        acc = shapes.accelerator(r["AcceleratorName"], float(r["AcceleratorCount"]), gpu_memory_mib(r["GpuInfo"]))
        b.add_type(instance_type("oci", name, int(r["vCPUs"]), gib_to_mib(r["MemoryGiB"]), acc))
        b.prices.append(catalog_price_row(name, r, "oci"))
    for it, row in flex_rows({(p.region, p.zone) for p in b.prices}):  # CPU shapes: pricing.oci.flex
        b.add_type(it)
        b.prices.append(row)
    b.note("prices are region-invariant on OCI; the source lists every shape in us-sanjose-1 only")
    return b
