"""The on-disk format of the bundled catalog snapshot (pricing/data/), shared by its builder and its loader.

Per cloud, two gzipped CSV tables: `<cloud>-types.csv.gz` (one row per instance type: shape, family, arch, max pods,
devices) and `<cloud>-prices.csv.gz` (one row per type × region × zone: on-demand and spot price, each naming its
source). Both start with `#` lines that carry the provenance line of every source they were built from. The
manifest `snapshot.json` holds the version, the sources (what, from where, as of when) and each cloud's regions.
The version is content-addressed (newest source date + hash of the tables), so caches keyed by it go stale exactly
when the data changes. Files are written byte-for-byte reproducibly (sorted rows, gzip mtime 0).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType

from luna_autoscaler.errors import CatalogError
from luna_autoscaler.models.catalog import Accelerator, Arch, InstanceType

DATA_DIR = Path(__file__).resolve().parent / "data"
MANIFEST_NAME = "snapshot.json"
FORMAT = 1

TYPE_COLUMNS = (
    "name",
    "family",
    "vcpus",
    "memory_mib",
    "arch",
    "max_pods",
    "accelerator_sku",
    "accelerator_count",
    "accelerator_share_milli",
    "accelerator_memory_mib_per_device",
    "accelerator_kind",
    "accelerator_resource_name",
    "accelerator_manufacturer",
)
PRICE_COLUMNS = (
    "instance_type",
    "region",
    "zone",
    "on_demand_usd_per_hour",
    "on_demand_source",
    "spot_usd_per_hour",
    "spot_source",
    "interruption_band",
)


@dataclass(frozen=True, slots=True)
class Source:
    """One input of the snapshot: `name` is what a plan prints, `provenance` the full line kept in the data files."""

    id: str
    name: str
    as_of: date
    provenance: str


@dataclass(frozen=True, slots=True)
class CloudIndex:
    cloud: str
    regions: tuple[str, ...]
    default_region: str


@dataclass(frozen=True, slots=True)
class PriceRow:
    """Prices of one type in one zone; a missing price is None (not offered, or not observed)."""

    instance_type: str
    region: str
    zone: str
    on_demand_usd_per_hour: float | None
    on_demand_source: str
    spot_usd_per_hour: float | None = None
    spot_source: str = ""
    interruption_band: str = ""

    def cells(self) -> list[str]:
        return [
            self.instance_type,
            self.region,
            self.zone,
            _price_cell(self.on_demand_usd_per_hour),
            self.on_demand_source if self.on_demand_usd_per_hour is not None else "",
            _price_cell(self.spot_usd_per_hour),
            self.spot_source if self.spot_usd_per_hour is not None else "",
            self.interruption_band,
        ]


@dataclass(frozen=True)
class Manifest:
    version: str
    sources: Mapping[str, Source]
    clouds: Mapping[str, CloudIndex]

    def types_path(self, data_dir: Path, cloud: str) -> Path:
        return data_dir / f"{cloud}-types.csv.gz"

    def prices_path(self, data_dir: Path, cloud: str) -> Path:
        return data_dir / f"{cloud}-prices.csv.gz"


def _price_cell(price: float | None) -> str:
    return "" if price is None else repr(round(price, 6))


def type_cells(it: InstanceType) -> list[str]:
    acc = it.accelerator
    accel = (
        [
            acc.sku,
            str(acc.count),
            str(acc.share_milli),
            str(acc.memory_mib_per_device),
            acc.kind,
            acc.resource_name,
            acc.manufacturer,
        ]
        if acc
        else [""] * 7
    )
    return [it.name, it.family, str(it.vcpus), str(it.memory_mib), it.arch.value, str(it.max_pods), *accel]


def instance_type_from_cells(cloud: str, cells: Sequence[str]) -> InstanceType:
    name, family, vcpus, memory_mib, arch, max_pods, sku, count, share, mem, kind, resource, maker = cells
    acc = (
        Accelerator(
            sku=sku,
            count=int(count),
            resource_name=resource,
            kind=kind,
            share_milli=int(share),
            memory_mib_per_device=int(mem),
            manufacturer=maker,
        )
        if sku
        else None
    )
    return InstanceType(
        cloud=cloud,
        name=name,
        family=family,
        vcpus=int(vcpus),
        memory_mib=int(memory_mib),
        arch=Arch(arch),
        accelerator=acc,
        max_pods=int(max_pods),
    )


def write_table(path: Path, comments: Iterable[str], columns: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """Write a gzipped CSV reproducibly; returns the uncompressed bytes (hashed into the version)."""
    text = io.StringIO()
    for line in comments:
        text.write(f"# {line}\n")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    raw = text.getvalue().encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(raw)
    path.write_bytes(buffer.getvalue())
    return raw


def read_table(path: Path, columns: Sequence[str]) -> Iterator[list[str]]:
    """Rows of a table written by write_table, after its comment lines and header (checked)."""
    try:
        text = gzip.decompress(path.read_bytes()).decode()
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise CatalogError(f"bundled catalog file {path} cannot be read ({e}); reinstall luna-autoscaler") from e
    lines = (line for line in text.splitlines() if not line.startswith("#"))
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or tuple(header) != tuple(columns):
        raise CatalogError(f"bundled catalog file {path} has an unexpected header; reinstall luna-autoscaler")
    yield from reader


def content_version(newest: date, tables: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for raw in tables:
        digest.update(raw)
    return f"{newest.isoformat()}+{digest.hexdigest()[:12]}"


def write_manifest(data_dir: Path, manifest: Manifest) -> None:
    doc = {
        "format": FORMAT,
        "version": manifest.version,
        "sources": {
            s.id: {"name": s.name, "as_of": s.as_of.isoformat(), "provenance": s.provenance}
            for s in sorted(manifest.sources.values(), key=lambda s: s.id)
        },
        "clouds": {
            c.cloud: {"default_region": c.default_region, "regions": list(c.regions)}
            for c in sorted(manifest.clouds.values(), key=lambda c: c.cloud)
        },
    }
    (data_dir / MANIFEST_NAME).write_text(json.dumps(doc, indent=1) + "\n")


def read_manifest(data_dir: Path = DATA_DIR) -> Manifest:
    path = data_dir / MANIFEST_NAME
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != FORMAT:
            raise CatalogError(f"{path}: snapshot format {doc.get('format')!r}, this version reads {FORMAT}")
        sources = {
            sid: Source(sid, s["name"], date.fromisoformat(s["as_of"]), s["provenance"])
            for sid, s in doc["sources"].items()
        }
        clouds = {
            cloud: CloudIndex(cloud, tuple(c["regions"]), c["default_region"]) for cloud, c in doc["clouds"].items()
        }
        return Manifest(str(doc["version"]), MappingProxyType(sources), MappingProxyType(clouds))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise CatalogError(f"bundled catalog manifest {path} cannot be read ({e}); reinstall luna-autoscaler") from e
