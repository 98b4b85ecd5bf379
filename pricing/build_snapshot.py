"""Build the bundled catalog snapshot (pricing/data/) from the offline catalogs: `python -m pricing.build_snapshot DIR`.

DIR is a checkout of the shared catalog files (see its README). The snapshot is what a fresh install plans with, so
it must stand alone: everything the loader needs is copied and normalised here, once, and nothing under DIR is
read at run time. Each cloud reads its own source formats (`pricing/<cloud>/snapshot.py`) and handles their known
data faults, each of which is counted and written into the price tables' comment lines as well as printed, so the
data says what was done to it; this module writes them all. docs/catalog.md explains every decision.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pricing.aws import snapshot as aws
from pricing.azure import snapshot as azure
from pricing.gcp import snapshot as gcp
from pricing.oci import snapshot as oci
from pricing.snapshot import (
    DATA_DIR,
    PRICE_COLUMNS,
    TYPE_COLUMNS,
    CloudIndex,
    Manifest,
    Source,
    content_version,
    type_cells,
    write_manifest,
    write_table,
)
from pricing.snapshot_build import BuildError, CloudBuild


def _default_region(regions: Iterable[str], build: CloudBuild) -> str:
    present = sorted(regions)
    preferred = build.default_region
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
        default = _default_region(regions, b)
        clouds[b.cloud] = CloudIndex(b.cloud, tuple(regions), default)
        sources = b.sources
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
            aws.build(args.catalog_dir, aws.moto_resources(args.moto_resources)),
            gcp.build(args.catalog_dir),
            azure.build(args.catalog_dir),
            oci.build(args.catalog_dir),
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
