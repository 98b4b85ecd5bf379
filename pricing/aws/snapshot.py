"""The AWS part of the bundled snapshot: every us-east-1 type, GPU types in every region, zones, pod limits.

AWS pod limits need each type's IPv4 addresses per ENI, which the catalog CSVs lack: they are read at build time
from the EC2 DescribeInstanceTypes data bundled in the moto wheel (the same source as the catalog's shapes), found
with `importlib.util.find_spec("moto")` or given with `--moto-resources`. docs/catalog.md explains every decision.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from luna_autoscaler.models.catalog import Accelerator
from pricing import shapes
from pricing.snapshot import PriceRow, Source
from pricing.snapshot_build import BuildError, CloudBuild, gib_to_mib, instance_type, optional_float, rows

ON_DEMAND = Source(
    "aws-ondemand",
    "AWS public on-demand price list (us-east-1)",
    date(2026, 7, 20),
    "aws_all_types_us-east-1_2026-07-20.csv: every EC2 type in us-east-1; shapes from EC2 DescribeInstanceTypes "
    "as shipped in the moto 5.2.5 wheel; prices from the AWS public on-demand price list for us-east-1 "
    "generated 2026-07-20",
)
GPU = Source(
    "aws-gpu",
    "ec2instances.info (Vantage) GPU prices",
    date(2025, 11, 30),
    "aws_gpu_vms_2025-11-30.csv: AWS GPU/accelerator types x region, on-demand, spot average, interruption band; "
    "ec2instances.info (Vantage) data of 2025-11-30 via tsaol/aws-gpu",
)
ZONES = Source(
    "aws-zones",
    "EC2 DescribeInstanceTypeOfferings (moto 5.2.5)",
    date(2026, 7, 20),
    "aws_accelerator_zone_offerings.csv and aws_accelerator_specs.csv: accelerator zones and specs (incl. "
    "fractional GPUs) from moto 5.2.5 DescribeInstanceTypeOfferings/DescribeInstanceTypes; zones of the other "
    "us-east-1 types and IPv4 addresses per ENI from the same moto 5.2.5 resources (dated like the all-types file "
    "built from that wheel)",
)
SOURCES = (ON_DEMAND, GPU, ZONES)


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
    for r in rows(path):
        partition = optional_float(r["GpuPartitionSize"])
        count = int(r["Count"])
        # g6f/gr6f report 0 GPUs: one logical GPU that is a slice (GpuPartitionSize) of a physical one.
        devices = (
            partition * (optional_float(r["LogicalGpuCount"]) or 1.0) if count == 0 and partition else float(count)
        )
        acc = shapes.accelerator(r["Name"], devices, int(r["MemoryMiBPerDevice"] or 0))
        if r["InstanceType"] not in out or r["Kind"] == "neuron":
            out[r["InstanceType"]] = acc
    return out


def build(catalog_dir: Path, moto_resources: Path) -> CloudBuild:
    b = CloudBuild("aws", SOURCES, "us-east-1")
    networks = _aws_networks(moto_resources)
    specs = _aws_specs(catalog_dir / "aws_accelerator_specs.csv")
    home_zones = _aws_moto_zones(moto_resources, "us-east-1")
    zone_offers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in rows(catalog_dir / "aws_accelerator_zone_offerings.csv"):
        zone_offers[(r["InstanceType"], r["Region"])].add(r["AvailabilityZone"])
    gpu_rows = list(rows(catalog_dir / "aws_gpu_vms_2025-11-30.csv"))
    gpu_by_key = {(r["InstanceType"], r["Region"]): r for r in gpu_rows}

    def shape(name: str, vcpus: int, memory_mib: int, reported_arch: str, acc: Accelerator | None) -> bool:
        net = networks.get(name)
        if net is None:
            return False
        max_pods = shapes.eks_max_pods(net.enis, net.ipv4_per_eni, vcpus)
        b.add_type(instance_type("aws", name, vcpus, memory_mib, acc, reported_arch=reported_arch, max_pods=max_pods))
        return True

    # Every type of us-east-1: on-demand from the 2026 price list; spot where the GPU file observed it.
    for r in rows(catalog_dir / "aws_all_types_us-east-1_2026-07-20.csv"):
        name = r["instance_type"]
        acc = specs.get(name)
        if acc is None and r["gpu_name"] and int(r["gpu_count"] or 0) > 0:
            count = int(r["gpu_count"])
            acc = shapes.accelerator(r["gpu_name"], count, int(r["gpu_memory_mib_total"] or 0) // count)
        if not shape(name, int(r["vcpus"]), int(r["memory_mib"]), r["arch"], acc):
            raise BuildError(f"aws {name}: no network information in moto's instance types")
        observed = gpu_by_key.pop((name, "us-east-1"), None)
        spot = optional_float(observed["SpotPrice"]) if observed else None
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
        if name not in b.types and not shape(name, int(r["vCPUs"]), gib_to_mib(r["MemoryGiB"]), r["Arch"], acc):
            no_shape.add(name)
            continue
        on_demand, spot = float(r["Price"]), optional_float(r["SpotPrice"])
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
