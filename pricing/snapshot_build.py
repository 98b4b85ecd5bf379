"""What every cloud's snapshot builder shares: the build record, its faults, and the source-file readers.

Each cloud reads its own source formats in `pricing/<cloud>/snapshot.py` and returns a `CloudBuild`;
`pricing.build_snapshot` writes them all. The rules that turn raw shapes into `InstanceType`s (families, fractional
GPUs, max pods, SKUs) live in pricing.shapes, so a live price source applies the same ones.
"""

from __future__ import annotations

import ast
import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from luna_autoscaler.models.catalog import Accelerator, InstanceType
from pricing import shapes
from pricing.snapshot import PriceRow, Source


class BuildError(Exception):
    """A source file that does not have the shape this builder expects."""


@dataclass
class CloudBuild:
    """What one cloud contributes: its types, its price rows, and the notes on what was dropped or fixed.

    `sources` are the inputs it was built from (their provenance lines head its data files); `default_region` is
    the region used when none is given, if the data has it.
    """

    cloud: str
    sources: tuple[Source, ...]
    default_region: str
    types: dict[str, InstanceType] = field(default_factory=dict)
    prices: list[PriceRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_type(self, it: InstanceType) -> None:
        known = self.types.setdefault(it.name, it)
        if known != it:
            raise BuildError(f"{self.cloud} {it.name}: two different shapes ({known} vs {it})")

    def note(self, text: str) -> None:
        self.notes.append(text)


def rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="") as f:
        yield from csv.DictReader(f)


def optional_float(text: str) -> float | None:
    return float(text) if text.strip() else None


def catalog_price_row(name: str, row: Mapping[str, str], source: str) -> PriceRow:
    """The price of a row of a SkyPilot-format catalog file (`Region`, `AvailabilityZone`, `Price`, `SpotPrice`),
    both prices from `source`."""
    return PriceRow(
        name,
        row["Region"],
        row["AvailabilityZone"],
        float(row["Price"]),
        source,
        optional_float(row["SpotPrice"]),
        source,
    )


def gib_to_mib(text: str) -> int:
    mib = float(text) * 1024
    if mib != int(mib):
        raise BuildError(f"memory {text} GiB is not a whole number of MiB")
    return int(mib)


def gpu_memory_mib(gpu_info: str) -> int:
    """`{'Gpus': [{'MemoryInfo': {'SizeInMiB': 40960}}]}` (a Python literal in the SkyPilot files) → 40960."""
    if not gpu_info.strip().startswith("{"):
        return 0
    info = ast.literal_eval(gpu_info)
    gpus = info.get("Gpus") or [{}]
    return int(gpus[0].get("MemoryInfo", {}).get("SizeInMiB", 0))


def instance_type(
    cloud: str,
    name: str,
    vcpus: int,
    memory_mib: int,
    acc: Accelerator | None,
    *,
    reported_arch: str = "",
    max_pods: int | None = None,
) -> InstanceType:
    """A type of any cloud: family and architecture by that cloud's naming rules (shapes.py), and its default max
    pods unless the source gives a figure (AWS's ENI limits)."""
    return InstanceType(
        cloud=cloud,
        name=name,
        family=shapes.instance_family(cloud, name),
        vcpus=vcpus,
        memory_mib=memory_mib,
        arch=shapes.architecture(cloud, name, reported=reported_arch, accelerator=acc),
        accelerator=acc,
        max_pods=shapes.DEFAULT_MAX_PODS[cloud] if max_pods is None else max_pods,
    )
