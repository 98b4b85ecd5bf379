"""The bundled catalog as the product uses it: `load_catalog("aws")` → the Catalog of us-east-1, in milliseconds.

Every `plan`, every simulation and every daemon start needs the offerings of one cloud and region. Parsing the
gzipped snapshot tables (pricing/data/) for a big cloud takes a few hundred milliseconds, so the rows of each
cloud/region are also cached in a compact form (plain tuples, pickled) under the user's cache directory, keyed by
the snapshot version, and the resulting Catalog is memoised in the process. The cache is only an accelerator: a
missing, corrupt or unwritable cache is rebuilt or skipped, never an error. It is read with an unpickler that
refuses every class, so a tampered file can only fail to load.

Every type carries the capacity and allocatable of its cloud's nodes (`pricing.overhead`, with the cloud's default
boot disk). Spot prices that were never observed are not made up here: the planner estimates them from the live
`spotPriceRatioEstimate` (planner/shapes.py), the one place that does.
"""

from __future__ import annotations

import difflib
import importlib
import io
import os
import pickle
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from luna_autoscaler.errors import CatalogError, ProviderConfigurationError
from luna_autoscaler.models.catalog import CapacityType, Catalog, InstanceType, Offering, PriceProvenance
from pricing.overhead import with_node
from pricing.shapes import CLOUDS
from pricing.snapshot import (
    DATA_DIR,
    PRICE_COLUMNS,
    TYPE_COLUMNS,
    Manifest,
    instance_type_from_cells,
    read_manifest,
    read_table,
)

CACHE_FORMAT = "luna-autoscaler/catalog-cache/1"

# (type index, zone, on-demand price, its source, spot price, its source, interruption band)
_PriceTuple = tuple[int, str, float | None, str, float | None, str, str]


@dataclass(frozen=True, slots=True)
class _RegionRows:
    """The compact, cacheable form of one cloud/region: type rows and price tuples, plain Python values only."""

    types: tuple[tuple[str, ...], ...]
    prices: tuple[_PriceTuple, ...]


class _Default(Enum):
    CACHE_DIR = "default cache directory"


class _NoClassesUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"catalog cache refers to {module}.{name}")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "luna-autoscaler"


class BundledCatalogSource:
    """`CatalogSource` over the bundled snapshot. Thread-safe; catalogs are memoised per cloud/region.

    `cache_dir`: where compact per-region caches go (default `$XDG_CACHE_HOME/luna-autoscaler`, resolved at first
    use); None disables the disk cache. `data_dir` is the snapshot directory (default pricing/data/).
    """

    def __init__(
        self,
        *,
        cache_dir: Path | Literal[_Default.CACHE_DIR] | None = _Default.CACHE_DIR,
        data_dir: Path = DATA_DIR,
    ) -> None:
        self._cache_dir = cache_dir
        self._data_dir = data_dir
        self._manifest: Manifest | None = None
        self._catalogs: dict[tuple[str, str], Catalog] = {}
        self._lock = threading.Lock()

    def catalog(self, cloud: str, region: str) -> Catalog:
        return self.load(cloud, region)

    def load(self, cloud: str, region: str | None = None) -> Catalog:
        cloud, region = self.resolve(cloud, region)
        key = (cloud, region)
        with self._lock:
            found = self._catalogs.get(key)
            if found is None:
                found = self._load(cloud, region)
                self._catalogs[key] = found
            return found

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._manifest = read_manifest(self._data_dir)
        return self._manifest

    def regions(self, cloud: str) -> tuple[str, ...]:
        return self.manifest.clouds[_known_cloud(cloud)].regions

    def default_region(self, cloud: str) -> str:
        return self.manifest.clouds[_known_cloud(cloud)].default_region

    def resolve(self, cloud: str, region: str | None) -> tuple[str, str]:
        """Normalise and check a cloud/region; the error lists the valid (or the nearest) choices."""
        cloud = _known_cloud(cloud)
        index = self.manifest.clouds[cloud]
        if region is None:
            return cloud, index.default_region
        wanted = region.strip().lower()
        if wanted in index.regions:
            return cloud, wanted
        near = difflib.get_close_matches(wanted, index.regions, n=5, cutoff=0.6)
        choices = f"nearest: {', '.join(near)}" if near else f"choose one of: {', '.join(index.regions)}"
        raise CatalogError(
            f"no bundled {cloud} catalog for region {region!r} ({choices}; {len(index.regions)} {cloud} regions "
            f"in the snapshot, default {index.default_region})"
        )

    # --- compact rows: disk cache or snapshot tables -------------------------------------------------------

    def _cache_file(self, cloud: str, region: str) -> Path | None:
        base = default_cache_dir() if self._cache_dir is _Default.CACHE_DIR else self._cache_dir
        if base is None:
            return None
        return base / f"catalog-{self.manifest.version}-{cloud}-{region}.pickle"

    def _load(self, cloud: str, region: str) -> Catalog:
        """From the disk cache if it holds this region of this snapshot, else from the snapshot (then cached)."""
        path = self._cache_file(cloud, region)
        header = (CACHE_FORMAT, self.manifest.version, cloud, region)
        cached = _read_cache(path, header) if path is not None else None
        if cached is not None:
            try:
                return self._build(cloud, region, cached)
            except (ValueError, TypeError, IndexError, KeyError):
                pass  # a cache of the right version but the wrong shape: rebuild it below
        rows = self._rows_from_snapshot(cloud, region)
        if path is not None:
            _write_cache(path, header, rows)
            _remove_stale(path.parent, f"catalog-*-{cloud}-{region}.pickle", keep=path)
        return self._build(cloud, region, rows)

    def _rows_from_snapshot(self, cloud: str, region: str) -> _RegionRows:
        m = self.manifest
        prices: list[list[str]] = [
            row for row in read_table(m.prices_path(self._data_dir, cloud), PRICE_COLUMNS) if row[1] == region
        ]
        wanted = {row[0] for row in prices}
        types = [row for row in read_table(m.types_path(self._data_dir, cloud), TYPE_COLUMNS) if row[0] in wanted]
        index = {row[0]: i for i, row in enumerate(types)}
        if len(index) != len(wanted):
            raise CatalogError(f"bundled {cloud} catalog lists prices for unknown types: {sorted(wanted - set(index))}")
        compact = tuple(
            (index[name], zone, _price(od), od_src, _price(spot), spot_src, band)
            for name, _region, zone, od, od_src, spot, spot_src, band in prices
        )
        return _RegionRows(tuple(tuple(t) for t in types), compact)

    # --- objects ------------------------------------------------------------------------------------------

    def _build(self, cloud: str, region: str, rows: _RegionRows) -> Catalog:
        sources = self.manifest.sources
        observed = {sid: PriceProvenance(s.name, s.as_of) for sid, s in sources.items()}
        types = [with_node(instance_type_from_cells(cloud, cells)) for cells in rows.types]
        on_demand, spot = CapacityType.ON_DEMAND, CapacityType.SPOT
        offerings: list[Offering] = []
        used: set[str] = set()
        for type_index, zone, od, od_src, sp, sp_src, band in rows.prices:
            it = types[type_index]
            if od is not None:
                offerings.append(Offering(it, region, zone, on_demand, od, observed[od_src]))
                used.add(od_src)
            if sp is not None:
                offerings.append(Offering(it, region, zone, spot, sp, observed[sp_src], band or None))
                used.add(sp_src)
        names = "; ".join(sorted(sources[s].name for s in used))
        provenance = PriceProvenance(
            f"luna-autoscaler bundled catalog {self.manifest.version}: {names}",
            min(sources[s].as_of for s in used),
        )
        by_name: dict[str, InstanceType] = {it.name: it for it in types}
        return _node_policy(cloud)(Catalog(cloud, region, tuple(offerings), provenance, by_name))


def _node_policy(cloud: str) -> Callable[[Catalog], Catalog]:
    """The cloud's own hook that puts on its offerings the labels and taints the cloud gives their nodes
    (`pricing.<cloud>.offerings.with_node_policy`, e.g. GKE's spot and accelerator labels); none: as is."""
    try:
        module = importlib.import_module(f"pricing.{cloud}.offerings")
    except ModuleNotFoundError:
        return lambda catalog: catalog
    hook: Callable[[Catalog], Catalog] = module.with_node_policy
    return hook


def _known_cloud(cloud: str) -> str:
    name = cloud.strip().lower()
    if name not in CLOUDS:
        raise CatalogError(f"unknown cloud {cloud!r}: choose one of {', '.join(CLOUDS)}")
    return name


def _price(cell: str) -> float | None:
    return float(cell) if cell else None


def _read_cache(path: Path, header: tuple[str, ...]) -> _RegionRows | None:
    try:
        with path.open("rb") as f:
            doc = _NoClassesUnpickler(io.BytesIO(f.read())).load()
        if not isinstance(doc, tuple) or len(doc) != 3 or doc[0] != header:
            return None
        types, prices = doc[1], doc[2]
        if not isinstance(types, tuple) or not isinstance(prices, tuple):
            return None
        return _RegionRows(types, prices)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError):
        return None


def _write_cache(path: Path, header: tuple[str, ...], rows: _RegionRows) -> None:
    """Atomic (temp file + rename), best effort: a read-only or full disk only costs speed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump((header, rows.types, rows.prices), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return


def _remove_stale(directory: Path, pattern: str, keep: Path) -> None:
    """Caches of older snapshots for the same cloud/region are never read again: delete them (best effort)."""
    try:
        for old in directory.glob(pattern):
            if old != keep:
                old.unlink(missing_ok=True)
    except OSError:
        return


_BUNDLED = BundledCatalogSource()


def load_catalog(cloud: str, region: str | None = None) -> Catalog:
    """The bundled Catalog of a cloud (`aws`, `gcp`, `azure`, `oci`) and region (None: `default_region(cloud)`).

    Unknown cloud or region → CatalogError naming the choices.
    """
    return _BUNDLED.load(cloud, region)


def provider_catalog(cloud: str, region: str | None, setting: str) -> Catalog:
    """`load_catalog` for a provider at start-up: an unknown cloud or region is the provider's configuration error
    naming the `setting` that chose it (`aws.region`), not a lookup error."""
    try:
        return load_catalog(cloud, region)
    except CatalogError as e:
        raise ProviderConfigurationError(f"{setting}: {e}") from e


def regions(cloud: str) -> tuple[str, ...]:
    """Regions of a cloud in the bundled snapshot, sorted."""
    return _BUNDLED.regions(cloud)


def default_region(cloud: str) -> str:
    """The region used when none is given: us-east-1, us-central1, eastus; on OCI us-sanjose-1, the only one."""
    return _BUNDLED.default_region(cloud)


def snapshot_version() -> str:
    """Version of the bundled snapshot (newest source date + content hash)."""
    return _BUNDLED.manifest.version
