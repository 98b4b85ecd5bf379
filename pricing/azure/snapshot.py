"""The Azure part of the bundled snapshot: every VM size x region, on-demand and spot, with the source's faults
(split rows, NVv4 partitions listed as whole GPUs, spot copied from on-demand) repaired and noted.
docs/catalog.md explains every decision.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path

from pricing import shapes
from pricing.snapshot import PriceRow, Source
from pricing.snapshot_build import BuildError, CloudBuild, gib_to_mib, instance_type, optional_float, rows

SOURCE = Source(
    "azure",
    "SkyPilot-format Azure catalog",
    date(2026, 5, 20),
    "azure_vms_all.csv and azure_gpu_vms.csv: every Azure VM size x region, on-demand + spot; SkyPilot-format "
    "catalog (anycloud-sh/catalog azure) of 2026-05-20",
)

_AZURE_COLUMNS = ["InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "GpuInfo", "Price"]
_AZURE_COLUMNS += ["SpotPrice", "Region", "Generation"]


def _vm_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a SkyPilot Azure CSV; some carry an unquoted `V1,V2` in the last column (11 fields): rejoin it."""
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        if header != _AZURE_COLUMNS:
            raise BuildError(f"{path}: unexpected columns {header}")
        for line, raw in enumerate(reader, start=2):
            cells = [*raw[:-2], f"{raw[-2]},{raw[-1]}"] if len(raw) == len(header) + 1 else raw
            if len(cells) != len(header):
                raise BuildError(f"{path}:{line}: {len(raw)} fields, expected {len(header)}")
            yield dict(zip(header, cells, strict=True))


def _azure_devices(row: Mapping[str, str]) -> float:
    """The GPU count of a size. NVv4 (MI25) partitions are listed as whole GPUs by the source: NV4as_v4 is 1/8 of an
    MI25, NV8as_v4 1/4, NV16as_v4 1/2, NV32as_v4 one (Azure NVv4-series sizes), i.e. vCPUs / 32."""
    devices = float(row["AcceleratorCount"])
    if row["AcceleratorName"] == "MI25" and row["InstanceType"].endswith("as_v4"):
        return min(1.0, int(row["vCPUs"]) / 32)
    return devices


def build(catalog_dir: Path) -> CloudBuild:
    b = CloudBuild("azure", (SOURCE,), "eastus")
    split_rows = sum(1 for r in _vm_rows(catalog_dir / "azure_vms_all.csv") if "," in r["Generation"])
    gpu_file = {
        (r["InstanceType"], r["Region"]): r
        for r in rows(catalog_dir / "azure_gpu_vms.csv")  # Generation joined with ';' there, no split rows
    }
    spot_as_on_demand: Counter[str] = Counter()
    mismatched: list[str] = []
    nvv4 = 0
    for r in _vm_rows(catalog_dir / "azure_vms_all.csv"):
        name, region = r["InstanceType"], r["Region"]
        acc = None
        if r["AcceleratorName"]:
            gpu_row = gpu_file.pop((name, region), None)
            if gpu_row is None or gpu_row["AcceleratorCount"] != r["AcceleratorCount"]:
                mismatched.append(f"{name}/{region}")
            devices = _azure_devices(r)
            nvv4 += devices != float(r["AcceleratorCount"])
            acc = shapes.accelerator(r["AcceleratorName"], devices)
        b.add_type(instance_type("azure", name, int(r["vCPUs"]), gib_to_mib(r["MemoryGiB"]), acc))
        on_demand, spot = float(r["Price"]), optional_float(r["SpotPrice"])
        if spot is not None and spot == on_demand:
            spot_as_on_demand[name] += 1
            spot = None
        # The source has no zones: one regional offering whose zone is the region (docs/catalog.md).
        b.prices.append(PriceRow(name, region, region, on_demand, "azure", spot, "azure"))
    if mismatched or gpu_file:
        raise BuildError(f"azure GPU rows disagree between the two files: {mismatched[:5]} {list(gpu_file)[:5]}")
    b.note(f"{split_rows} rows with an unquoted 'V1,V2' last column rejoined")
    b.note(f"{nvv4} NVv4 (MI25) rows listed as whole GPUs corrected to their 1/8..1/2 partitions")
    for name, n in sorted(spot_as_on_demand.items()):
        b.note(f"{name}: spot equal to on-demand in {n} regions, a copied value, treated as not observed")
    return b
