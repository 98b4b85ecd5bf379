"""Catalog loading benchmark: how long `load_catalog` takes per cloud/region, cold and warm (issue 2 target < 100 ms).

    .venv/bin/python benchmarks/catalog_bench.py                 # default region of each cloud
    .venv/bin/python benchmarks/catalog_bench.py --all-regions   # every region of the snapshot

Columns (milliseconds, median of --repeat runs, each on a fresh BundledCatalogSource so no in-process memo helps):

- cold: empty cache directory: gunzip + parse the snapshot tables, filter the region, build the objects, write
  the compact cache.
- warm: the compact cache of that region exists (a second process, or a daemon restart).
- memo: the same source asked again in the same process.
- +spot est: warm, with spotPriceRatioEstimate 0.35 (adds estimated spot offerings).

Offerings are counted without estimates (observed on-demand + spot), then with them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from luna_autoscaler.config import Config
from luna_autoscaler.planner.shapes import purchasable_offerings
from pricing.catalog import BundledCatalogSource, default_region, regions, snapshot_version
from pricing.shapes import CLOUDS
from pricing.snapshot import DATA_DIR


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def measure(cloud: str, region: str, repeat: int) -> tuple[float, float, float, float, int, int]:
    cold: list[float] = []
    warm: list[float] = []
    memo: list[float] = []
    estimated: list[float] = []
    observed = with_estimates = 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            cache_dir = Path(cache)
            first = BundledCatalogSource(cache_dir=cache_dir)
            cold.append(timed(partial(first.catalog, cloud, region)))
            memo.append(timed(partial(first.catalog, cloud, region)))
            warm.append(timed(partial(BundledCatalogSource(cache_dir=cache_dir).catalog, cloud, region)))
            # Spot estimates are the planner's (planner/shapes.py): what it costs to add them to this catalog.
            catalog = first.catalog(cloud, region)
            estimated.append(timed(partial(purchasable_offerings, catalog, Config())))
            observed = len(catalog)
            with_estimates = len(purchasable_offerings(catalog, Config()))
    med = statistics.median
    return med(cold), med(warm), med(memo), med(estimated), observed, with_estimates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--all-regions", action="store_true", help="every region, not only each cloud's default")
    parser.add_argument("--repeat", type=int, default=5, help="runs per region (median reported)")
    args = parser.parse_args()

    size = sum(p.stat().st_size for p in DATA_DIR.iterdir() if p.is_file())
    print(f"snapshot {snapshot_version()}: {DATA_DIR} {size / 1e6:.2f} MB; Python {sys.version.split()[0]}")
    header = (
        f"{'cloud':6} {'region':22} {'cold':>7} {'warm':>7} {'memo':>7} {'+spot est':>9} {'offerings':>9} {'+est':>7}"
    )
    print(header)
    print("-" * len(header))
    worst_warm = 0.0
    for cloud in CLOUDS:
        for region in regions(cloud) if args.all_regions else (default_region(cloud),):
            cold, warm, memo, est, observed, with_estimates = measure(cloud, region, args.repeat)
            worst_warm = max(worst_warm, warm, est)
            times = f"{cold:7.1f} {warm:7.1f} {memo:7.3f} {est:9.1f}"
            print(f"{cloud:6} {region:22} {times} {observed:9d} {with_estimates:7d}")
    print(f"slowest warm load: {worst_warm:.1f} ms (target < 100 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
