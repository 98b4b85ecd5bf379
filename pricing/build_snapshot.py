"""Build the bundled catalog snapshot (pricing/data/) from the offline catalogs: `python -m pricing.build_snapshot DIR`.

DIR is a checkout of the shared catalog files (see its README). The snapshot is what a fresh install plans with, so
it must stand alone: everything the loader needs is copied and normalised here, once, and nothing under DIR is
read at run time. The rules (families, fractional GPUs, max pods, SKUs) live in pricing.shapes; this module reads
each source format, applies them, and handles the known data faults, each of which is counted and written into
the price tables' comment lines as well as printed, so the data says what was done to it. docs/catalog.md
explains every decision.

AWS pod limits need each type's IPv4 addresses per ENI, which the catalog CSVs lack: they are read at build time
from the EC2 DescribeInstanceTypes data bundled in the moto wheel (the same source as the catalog's shapes), found
with `importlib.util.find_spec("moto")` or given with `--moto-resources`.
"""

from __future__ import annotations

import argparse
import ast
import csv
import gzip
import importlib.util
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from luna_autoscaler.models.catalog import Accelerator, InstanceType
from pricing import shapes
from pricing.oci.snapshot import FLEX_SOURCE, flex_rows
from pricing.snapshot import (
    DATA_DIR,
    PRICE_COLUMNS,
    TYPE_COLUMNS,
    CloudIndex,
    Manifest,
    PriceRow,
    Source,
    content_version,
    type_cells,
    write_manifest,
    write_table,
)

PREFERRED_DEFAULT_REGION = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus", "oci": "us-ashburn-1"}

SOURCES = {
    "aws-ondemand": Source(
        "aws-ondemand",
        "AWS public on-demand price list (us-east-1)",
        date(2026, 7, 20),
        "aws_all_types_us-east-1_2026-07-20.csv: every EC2 type in us-east-1; shapes from EC2 DescribeInstanceTypes "
        "as shipped in the moto 5.2.5 wheel; prices from the AWS public on-demand price list for us-east-1 "
        "generated 2026-07-20",
    ),
    "aws-gpu": Source(
        "aws-gpu",
        "ec2instances.info (Vantage) GPU prices",
        date(2025, 11, 30),
        "aws_gpu_vms_2025-11-30.csv: AWS GPU/accelerator types x region, on-demand, spot average, interruption band; "
        "ec2instances.info (Vantage) data of 2025-11-30 via tsaol/aws-gpu",
    ),
    "aws-zones": Source(
        "aws-zones",
        "EC2 DescribeInstanceTypeOfferings (moto 5.2.5)",
        date(2026, 7, 20),
        "aws_accelerator_zone_offerings.csv and aws_accelerator_specs.csv: accelerator zones and specs (incl. "
        "fractional GPUs) from moto 5.2.5 DescribeInstanceTypeOfferings/DescribeInstanceTypes; zones of the other "
        "us-east-1 types and IPv4 addresses per ENI from the same moto 5.2.5 resources (dated like the all-types file "
        "built from that wheel)",
    ),
    "gcp": Source(
        "gcp",
        "SkyPilot-format GCP catalog",
        date(2026, 5, 20),
        "gcp_vms_all.csv and gcp_gpu_vms_derived.csv: every GCE machine type x zone with host and spot price, GPU "
        "machine types with host + accelerator price joined per zone; SkyPilot-format catalog (anycloud-sh/catalog "
        "gcp) of 2026-05-20",
    ),
    "azure": Source(
        "azure",
        "SkyPilot-format Azure catalog",
        date(2026, 5, 20),
        "azure_vms_all.csv and azure_gpu_vms.csv: every Azure VM size x region, on-demand + spot; SkyPilot-format "
        "catalog (anycloud-sh/catalog azure) of 2026-05-20",
    ),
    "oci": Source(
        "oci",
        "SkyPilot OCI catalog (region-invariant prices)",
        date(2025, 10, 1),
        "oci_gpu_vms.csv: OCI GPU shapes, preemptible price where given; skypilot-catalog v8/oci (region-invariant) "
        "commit 0588751, late 2025 (no day recorded: dated 2025-10-01 here, the start of that period)",
    ),
    FLEX_SOURCE.id: FLEX_SOURCE,
}

# GPUs that attach to N1 machines: GPU count → (max vCPUs, max memory GiB) of the N1 machine
# (cloud.google.com/compute/docs/gpus, N1 section; the same table as SkyPilot's gcp_catalog.py).
_N1_GPU_LIMITS: Mapping[str, Mapping[int, tuple[int, int]]] = {
    "T4": {1: (48, 312), 2: (48, 312), 4: (96, 624)},
    "V100": {1: (12, 78), 2: (24, 156), 4: (48, 312), 8: (96, 624)},
    "P4": {1: (24, 156), 2: (48, 312), 4: (96, 624)},
    "P100": {1: (16, 104), 2: (32, 208), 4: (96, 624)},
}
_N1_GPU_HOSTS = ("n1-standard-", "n1-highmem-", "n1-highcpu-")


class BuildError(Exception):
    """A source file that does not have the shape this builder expects."""


@dataclass
class CloudBuild:
    """What one cloud contributes: its types, its price rows, and the notes on what was dropped or fixed."""

    cloud: str
    source_ids: tuple[str, ...]
    types: dict[str, InstanceType] = field(default_factory=dict)
    prices: list[PriceRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_type(self, it: InstanceType) -> None:
        known = self.types.setdefault(it.name, it)
        if known != it:
            raise BuildError(f"{self.cloud} {it.name}: two different shapes ({known} vs {it})")

    def note(self, text: str) -> None:
        self.notes.append(text)


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="") as f:
        yield from csv.DictReader(f)


def _float(text: str) -> float | None:
    return float(text) if text.strip() else None


def _gib_to_mib(text: str) -> int:
    mib = float(text) * 1024
    if mib != int(mib):
        raise BuildError(f"memory {text} GiB is not a whole number of MiB")
    return int(mib)


def _gpu_memory_mib(gpu_info: str) -> int:
    """`{'Gpus': [{'MemoryInfo': {'SizeInMiB': 40960}}]}` (a Python literal in the SkyPilot files) → 40960."""
    if not gpu_info.strip().startswith("{"):
        return 0
    info = ast.literal_eval(gpu_info)
    gpus = info.get("Gpus") or [{}]
    return int(gpus[0].get("MemoryInfo", {}).get("SizeInMiB", 0))


def _instance_type(
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


# --- AWS ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _AwsNetwork:
    enis: int
    ipv4_per_eni: int


def moto_resources(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    spec = importlib.util.find_spec("moto")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("moto is not installed: give --moto-resources DIR (moto/ec2/resources)")
    return Path(next(iter(spec.submodule_search_locations))) / "ec2" / "resources"


def _aws_networks(resources: Path) -> dict[str, _AwsNetwork]:
    """ENIs usable by the VPC CNI (those of the default network card, as eni-max-pods.txt counts) and IPs each."""
    types = json.loads(gzip.decompress((resources / "instance_types.json.gz").read_bytes()))
    out = {}
    for name, t in types.items():
        net = t.get("NetworkInfo") or {}
        if "MaximumNetworkInterfaces" not in net or "Ipv4AddressesPerInterface" not in net:
            continue
        enis = net["MaximumNetworkInterfaces"]
        cards = net.get("NetworkCards") or []
        default_card = net.get("DefaultNetworkCardIndex", 0)
        for card in cards:
            if card.get("NetworkCardIndex") == default_card:
                enis = card["MaximumNetworkInterfaces"]
        out[name] = _AwsNetwork(int(enis), int(net["Ipv4AddressesPerInterface"]))
    return out


def _aws_moto_zones(resources: Path, region: str) -> dict[str, tuple[str, ...]]:
    path = resources / "instance_type_offerings" / "availability-zone" / f"{region}.json.gz"
    zones: dict[str, set[str]] = defaultdict(set)
    for offer in json.loads(gzip.decompress(path.read_bytes())):
        zones[offer["InstanceType"]].add(offer["Location"])
    return {name: tuple(sorted(z)) for name, z in zones.items()}


def _aws_specs(path: Path) -> dict[str, Accelerator]:
    """Accelerators per type from DescribeInstanceTypes; Neuron types are listed twice (neuron and inferentia)."""
    out: dict[str, Accelerator] = {}
    for r in _rows(path):
        partition = _float(r["GpuPartitionSize"])
        count = int(r["Count"])
        # g6f/gr6f report 0 GPUs: one logical GPU that is a slice (GpuPartitionSize) of a physical one.
        devices = partition * (_float(r["LogicalGpuCount"]) or 1.0) if count == 0 and partition else float(count)
        acc = shapes.accelerator(r["Name"], devices, int(r["MemoryMiBPerDevice"] or 0))
        if r["InstanceType"] not in out or r["Kind"] == "neuron":
            out[r["InstanceType"]] = acc
    return out


def build_aws(catalog_dir: Path, moto_resources: Path) -> CloudBuild:
    b = CloudBuild("aws", ("aws-ondemand", "aws-gpu", "aws-zones"))
    networks = _aws_networks(moto_resources)
    specs = _aws_specs(catalog_dir / "aws_accelerator_specs.csv")
    home_zones = _aws_moto_zones(moto_resources, "us-east-1")
    zone_offers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in _rows(catalog_dir / "aws_accelerator_zone_offerings.csv"):
        zone_offers[(r["InstanceType"], r["Region"])].add(r["AvailabilityZone"])
    gpu_rows = list(_rows(catalog_dir / "aws_gpu_vms_2025-11-30.csv"))
    gpu_by_key = {(r["InstanceType"], r["Region"]): r for r in gpu_rows}

    def shape(name: str, vcpus: int, memory_mib: int, reported_arch: str, acc: Accelerator | None) -> bool:
        net = networks.get(name)
        if net is None:
            return False
        max_pods = shapes.eks_max_pods(net.enis, net.ipv4_per_eni, vcpus)
        b.add_type(_instance_type("aws", name, vcpus, memory_mib, acc, reported_arch=reported_arch, max_pods=max_pods))
        return True

    # Every type of us-east-1: on-demand from the 2026 price list; spot where the GPU file observed it.
    for r in _rows(catalog_dir / "aws_all_types_us-east-1_2026-07-20.csv"):
        name = r["instance_type"]
        acc = specs.get(name)
        if acc is None and r["gpu_name"] and int(r["gpu_count"] or 0) > 0:
            count = int(r["gpu_count"])
            acc = shapes.accelerator(r["gpu_name"], count, int(r["gpu_memory_mib_total"] or 0) // count)
        if not shape(name, int(r["vcpus"]), int(r["memory_mib"]), r["arch"], acc):
            raise BuildError(f"aws {name}: no network information in moto's instance types")
        observed = gpu_by_key.pop((name, "us-east-1"), None)
        spot = _float(observed["SpotPrice"]) if observed else None
        on_demand = float(r["price_ondemand_usd_per_hour"])
        for zone in home_zones.get(name, ()):
            b.prices.append(
                PriceRow(
                    name,
                    "us-east-1",
                    zone,
                    on_demand,
                    "aws-ondemand",
                    spot,
                    "aws-gpu",
                    observed["PctInterrupt"] if observed and spot is not None else "",
                )
            )

    # GPU types in every other region (and the few us-east-1 types the price list lacks).
    no_zones: Counter[str] = Counter()
    no_shape: set[str] = set()
    unknown_types: set[str] = set()
    for (name, region), r in sorted(gpu_by_key.items()):
        zones = sorted(zone_offers.get((name, region), ()))
        if not zones:
            if region.startswith("us-gov-"):
                no_zones["in GovCloud"] += 1
            elif region.count("-") > 2:
                no_zones["in Local/Wavelength Zone groups (e.g. us-east-1-atl-1)"] += 1
            elif name not in networks:
                no_zones["of types moto 5.2.5 does not list"] += 1
                unknown_types.add(name.split(".")[0])
            else:
                no_zones["of types not offered in that region's zones"] += 1
            continue
        acc = specs.get(name)
        if acc is None:
            devices = float(r["AcceleratorCount"])
            memory_mib = round(float(r["GpuMemoryGiBTotal"]) * 1024 / devices)
            acc = shapes.accelerator(r["AcceleratorName"], devices, memory_mib)
        if name not in b.types and not shape(name, int(r["vCPUs"]), _gib_to_mib(r["MemoryGiB"]), r["Arch"], acc):
            no_shape.add(name)
            continue
        on_demand, spot = float(r["Price"]), _float(r["SpotPrice"])
        for zone in zones:
            b.prices.append(
                PriceRow(name, region, zone, on_demand, "aws-gpu", spot, "aws-gpu", r["PctInterrupt"] if spot else "")
            )
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(no_zones.items()))
    b.note(f"{sum(no_zones.values())} GPU type x region rows without zone data dropped: {reasons}")
    if unknown_types:
        b.note(f"families missing from moto 5.2.5, so without zones: {', '.join(sorted(unknown_types))}")
    if no_shape:
        b.note(f"types without network information dropped: {', '.join(sorted(no_shape))}")
    return b


# --- GCP ------------------------------------------------------------------------------------------------------


def _gcp_type(name: str, vcpus: str, memory_gib: str, acc: Accelerator | None) -> InstanceType:
    return _instance_type("gcp", name, int(float(vcpus)), _gib_to_mib(memory_gib), acc)


def build_gcp(catalog_dir: Path) -> CloudBuild:
    b = CloudBuild("gcp", ("gcp",))
    derived = list(_rows(catalog_dir / "gcp_gpu_vms_derived.csv"))
    gpu_machines = {r["InstanceType"] for r in derived}
    hosts: dict[str, list[dict[str, str]]] = defaultdict(list)  # zone → N1 rows that can take GPUs
    attach: list[dict[str, str]] = []
    skipped: Counter[str] = Counter()
    for r in _rows(catalog_dir / "gcp_vms_all.csv"):
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
        b.prices.append(
            PriceRow(name, r["Region"], r["AvailabilityZone"], float(r["Price"]), "gcp", _float(r["SpotPrice"]), "gcp")
        )
        if name.startswith(_N1_GPU_HOSTS):
            hosts[r["AvailabilityZone"]].append(r)

    zero_host: Counter[str] = Counter()
    for r in derived:
        if float(r["HostPrice"]) <= 0:
            zero_host[r["InstanceType"]] += 1
            continue
        devices = float(r["AcceleratorCount"])
        acc = shapes.accelerator(r["AcceleratorName"], devices, _gpu_memory_mib(r["GpuInfo"]))
        name = r["InstanceType"]
        b.add_type(_gcp_type(name, r["vCPUs"], r["MemoryGiB"], acc))
        b.prices.append(
            PriceRow(name, r["Region"], r["AvailabilityZone"], float(r["Price"]), "gcp", _float(r["SpotPrice"]), "gcp")
        )
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
        acc = shapes.accelerator(r["AcceleratorName"], devices, _gpu_memory_mib(r["GpuInfo"]))
        for host in hosts.get(r["AvailabilityZone"], ()):
            if float(host["vCPUs"]) > max_vcpus or float(host["MemoryGiB"]) > max_gib:
                continue
            name = f"{host['InstanceType']}_{r['AcceleratorName'].lower()}x{acc.count}"
            b.add_type(_gcp_type(name, host["vCPUs"], host["MemoryGiB"], acc))
            host_spot, acc_spot = _float(host["SpotPrice"]), _float(r["SpotPrice"])
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


# --- Azure ----------------------------------------------------------------------------------------------------

_AZURE_COLUMNS = ["InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "GpuInfo", "Price"]
_AZURE_COLUMNS += ["SpotPrice", "Region", "Generation"]


def _azure_rows(path: Path) -> Iterator[dict[str, str]]:
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


def build_azure(catalog_dir: Path) -> CloudBuild:
    b = CloudBuild("azure", ("azure",))
    split_rows = sum(1 for r in _azure_rows(catalog_dir / "azure_vms_all.csv") if "," in r["Generation"])
    gpu_file = {
        (r["InstanceType"], r["Region"]): r
        for r in _rows(catalog_dir / "azure_gpu_vms.csv")  # Generation joined with ';' there, no split rows
    }
    spot_as_on_demand: Counter[str] = Counter()
    mismatched: list[str] = []
    nvv4 = 0
    for r in _azure_rows(catalog_dir / "azure_vms_all.csv"):
        name, region = r["InstanceType"], r["Region"]
        acc = None
        if r["AcceleratorName"]:
            gpu_row = gpu_file.pop((name, region), None)
            if gpu_row is None or gpu_row["AcceleratorCount"] != r["AcceleratorCount"]:
                mismatched.append(f"{name}/{region}")
            devices = _azure_devices(r)
            nvv4 += devices != float(r["AcceleratorCount"])
            acc = shapes.accelerator(r["AcceleratorName"], devices)
        b.add_type(_instance_type("azure", name, int(r["vCPUs"]), _gib_to_mib(r["MemoryGiB"]), acc))
        on_demand, spot = float(r["Price"]), _float(r["SpotPrice"])
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


# --- OCI ------------------------------------------------------------------------------------------------------


def build_oci(catalog_dir: Path) -> CloudBuild:
    b = CloudBuild("oci", ("oci", FLEX_SOURCE.id))
    for r in _rows(catalog_dir / "oci_gpu_vms.csv"):
        name = r["InstanceType"]
        acc = shapes.accelerator(r["AcceleratorName"], float(r["AcceleratorCount"]), _gpu_memory_mib(r["GpuInfo"]))
        b.add_type(_instance_type("oci", name, int(r["vCPUs"]), _gib_to_mib(r["MemoryGiB"]), acc))
        b.prices.append(
            PriceRow(name, r["Region"], r["AvailabilityZone"], float(r["Price"]), "oci", _float(r["SpotPrice"]), "oci")
        )
    for it, row in flex_rows({(p.region, p.zone) for p in b.prices}):  # CPU shapes: pricing.oci.snapshot
        b.add_type(it)
        b.prices.append(row)
    b.note("prices are region-invariant on OCI; the source lists every shape in us-sanjose-1 only")
    return b


# --- writing --------------------------------------------------------------------------------------------------


def _default_region(cloud: str, regions: Iterable[str], build: CloudBuild) -> str:
    present = sorted(regions)
    preferred = PREFERRED_DEFAULT_REGION[cloud]
    if preferred in present:
        return preferred
    build.note(f"default region {present[0]}: the usual default {preferred} is not in the data")
    return present[0]


def write_snapshot(builds: Iterable[CloudBuild], out_dir: Path) -> Manifest:
    out_dir.mkdir(parents=True, exist_ok=True)
    tables: list[bytes] = []
    clouds: dict[str, CloudIndex] = {}
    used: dict[str, Source] = {}
    for b in builds:
        regions = sorted({p.region for p in b.prices})
        default = _default_region(b.cloud, regions, b)
        clouds[b.cloud] = CloudIndex(b.cloud, tuple(regions), default)
        sources = [SOURCES[s] for s in b.source_ids]
        used.update((s.id, s) for s in sources)
        header = [f"luna-autoscaler catalog snapshot, cloud {b.cloud}"]
        header += [f"source {s.id} (as of {s.as_of.isoformat()}): {s.provenance}" for s in sources]
        priced = {p.instance_type for p in b.prices}
        type_rows = [type_cells(it) for name, it in sorted(b.types.items()) if name in priced]
        price_rows = sorted(p.cells() for p in b.prices)
        tables.append(write_table(out_dir / f"{b.cloud}-types.csv.gz", header, TYPE_COLUMNS, type_rows))
        above = sum(
            1 for p in b.prices if p.spot_usd_per_hour and p.spot_usd_per_hour > (p.on_demand_usd_per_hour or 0)
        )
        b.note(f"{above} zone prices with spot above on-demand kept as observed")
        notes = [f"handled: {n}" for n in b.notes]
        tables.append(write_table(out_dir / f"{b.cloud}-prices.csv.gz", header + notes, PRICE_COLUMNS, price_rows))
    newest = max(s.as_of for s in used.values())
    manifest = Manifest(content_version(newest, tables), MappingProxyType(used), MappingProxyType(clouds))
    write_manifest(out_dir, manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pricing.build_snapshot", description=__doc__.split("\n")[0])
    parser.add_argument("catalog_dir", type=Path, help="directory of the shared catalog CSV files")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help=f"output directory (default {DATA_DIR})")
    parser.add_argument("--moto-resources", type=Path, help="moto/ec2/resources (default: from the installed moto)")
    args = parser.parse_args(argv)
    try:
        builds = [
            build_aws(args.catalog_dir, moto_resources(args.moto_resources)),
            build_gcp(args.catalog_dir),
            build_azure(args.catalog_dir),
            build_oci(args.catalog_dir),
        ]
        manifest = write_snapshot(builds, args.out)
    except (BuildError, OSError, KeyError, ValueError) as e:
        print(f"build_snapshot: {e}", file=sys.stderr)
        return 1
    report: dict[str, Any] = {}
    for b in builds:
        report[b.cloud] = {"types": len(b.types), "price rows": len(b.prices), "handled": b.notes}
    print(json.dumps({"version": manifest.version, **report}, indent=1))
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"wrote {args.out} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
