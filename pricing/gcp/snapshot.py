"""The GCP part of the bundled snapshot: every GCE machine type x zone, GPU machine types priced with their GPUs,
and N1 machines composed with the GPUs that attach to them. docs/catalog.md explains every decision.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from luna_autoscaler.models.catalog import Accelerator, InstanceType
from pricing import shapes
from pricing.snapshot import PriceRow, Source
from pricing.snapshot_build import (
    CloudBuild,
    catalog_price_row,
    gib_to_mib,
    gpu_memory_mib,
    instance_type,
    optional_float,
    rows,
)

SOURCE = Source(
    "gcp",
    "SkyPilot-format GCP catalog",
    date(2026, 5, 20),
    "gcp_vms_all.csv and gcp_gpu_vms_derived.csv: every GCE machine type x zone with host and spot price, GPU "
    "machine types with host + accelerator price joined per zone; SkyPilot-format catalog (anycloud-sh/catalog "
    "gcp) of 2026-05-20",
)

# GPUs that attach to N1 machines: GPU count → (max vCPUs, max memory GiB) of the N1 machine
# (cloud.google.com/compute/docs/gpus, N1 section; the same table as SkyPilot's gcp_catalog.py).
_N1_GPU_LIMITS: Mapping[str, Mapping[int, tuple[int, int]]] = {
    "T4": {1: (48, 312), 2: (48, 312), 4: (96, 624)},
    "V100": {1: (12, 78), 2: (24, 156), 4: (48, 312), 8: (96, 624)},
    "P4": {1: (24, 156), 2: (48, 312), 4: (96, 624)},
    "P100": {1: (16, 104), 2: (32, 208), 4: (96, 624)},
}
_N1_GPU_HOSTS = ("n1-standard-", "n1-highmem-", "n1-highcpu-")


def _gcp_type(name: str, vcpus: str, memory_gib: str, acc: Accelerator | None) -> InstanceType:
    return instance_type("gcp", name, int(float(vcpus)), gib_to_mib(memory_gib), acc)


def build(catalog_dir: Path) -> CloudBuild:
    b = CloudBuild("gcp", (SOURCE,), "us-central1")
    derived = list(rows(catalog_dir / "gcp_gpu_vms_derived.csv"))
    gpu_machines = {r["InstanceType"] for r in derived}
    hosts: dict[str, list[dict[str, str]]] = defaultdict(list)  # zone → N1 rows that can take GPUs
    attach: list[dict[str, str]] = []
    skipped: Counter[str] = Counter()
    for r in rows(catalog_dir / "gcp_vms_all.csv"):
        name = r["InstanceType"]
        if not name:
            if r["AcceleratorName"].startswith("tpu-"):
                skipped["TPU slice price rows"] += 1
            else:
                attach.append(r)
            continue
        if name in gpu_machines:
            skipped["host-only rows of GPU machine types (priced with their GPUs from the derived file)"] += 1
            continue
        if name.endswith("-tpu"):
            skipped["TPU host machine rows"] += 1
            continue
        b.add_type(_gcp_type(name, r["vCPUs"], r["MemoryGiB"], None))
        b.prices.append(catalog_price_row(name, r, "gcp"))
        if name.startswith(_N1_GPU_HOSTS):
            hosts[r["AvailabilityZone"]].append(r)

    zero_host: Counter[str] = Counter()
    for r in derived:
        if float(r["HostPrice"]) <= 0:
            zero_host[r["InstanceType"]] += 1
            continue
        devices = float(r["AcceleratorCount"])
        acc = shapes.accelerator(r["AcceleratorName"], devices, gpu_memory_mib(r["GpuInfo"]))
        name = r["InstanceType"]
        b.add_type(_gcp_type(name, r["vCPUs"], r["MemoryGiB"], acc))
        b.prices.append(catalog_price_row(name, r, "gcp"))
    for name, zones in sorted(zero_host.items()):
        b.note(
            f"{name}: host price 0.0 in {zones} zones (only the GPUs are priced): dropped, its real price is unknown"
        )

    combos = 0
    for r in attach:
        limits = _N1_GPU_LIMITS.get(r["AcceleratorName"], {}).get(int(float(r["AcceleratorCount"])))
        if limits is None:
            skipped["attach prices of GPUs sold only in fixed machine types (A100, H100, L4...: priced above)"] += 1
            continue
        max_vcpus, max_gib = limits
        devices = float(r["AcceleratorCount"])
        acc = shapes.accelerator(r["AcceleratorName"], devices, gpu_memory_mib(r["GpuInfo"]))
        for host in hosts.get(r["AvailabilityZone"], ()):
            if float(host["vCPUs"]) > max_vcpus or float(host["MemoryGiB"]) > max_gib:
                continue
            name = f"{host['InstanceType']}_{r['AcceleratorName'].lower()}x{acc.count}"
            b.add_type(_gcp_type(name, host["vCPUs"], host["MemoryGiB"], acc))
            host_spot, acc_spot = optional_float(host["SpotPrice"]), optional_float(r["SpotPrice"])
            spot = host_spot + acc_spot if host_spot is not None and acc_spot is not None else None
            b.prices.append(
                PriceRow(
                    name,
                    r["Region"],
                    r["AvailabilityZone"],
                    float(host["Price"]) + float(r["Price"]),
                    "gcp",
                    spot,
                    "gcp",
                )
            )
            combos += 1
    b.note(f"{combos} N1 + GPU (T4, V100, P4, P100) zone offerings composed from host and attach prices")
    for what, n in sorted(skipped.items()):
        b.note(f"skipped {n} {what}")
    return b
