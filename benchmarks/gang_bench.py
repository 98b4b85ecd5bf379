"""Gang planning benchmark: what planning pods as gangs costs in planner time, on the full bundled AWS catalog.

    .venv/bin/python benchmarks/gang_bench.py                 # 1, 10 and 50 gangs of 4 x 8-GPU pods + 500 CPU pods
    .venv/bin/python benchmarks/gang_bench.py --gangs 20 --size 8

Each gang is planned once per zone of the catalog (planner/gangs.py), then the other pods once, so the cost grows
with gangs x zones; the table shows it next to planning the same pods with no gangs (every pod on its own).
Printed: gangs, pods, zones, seconds with gangs, seconds without, and the price of both plans ($/h): gangs may
cost a little more (one zone each, no node shared with non-gang pods) and never buy half a gang.
"""

from __future__ import annotations

import argparse
import time

from luna_autoscaler.config import Config
from luna_autoscaler.models.manifest import pod_from_manifest
from luna_autoscaler.models.pod import Pod
from luna_autoscaler.planner import plan
from luna_autoscaler.planner.gangs import GangSpec, plan_gangs
from luna_autoscaler.planner.types import PlanRequest
from pricing.catalog import load_catalog

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def _pod(name: str, cpu: str, memory: str, gpus: int = 0, group: str = "") -> Pod:
    resources: dict[str, object] = {"requests": {"cpu": cpu, "memory": memory}}
    if gpus:
        resources["limits"] = {"nvidia.com/gpu": str(gpus)}
    meta: dict[str, object] = {"name": name, "namespace": "bench"}
    if group:
        meta["annotations"] = {"pod-group-name": group}
    spec = {"containers": [{"name": "c", "resources": resources}], "tolerations": [GPU_TOLERATION] if gpus else []}
    return pod_from_manifest({"metadata": meta, "spec": spec})


def case(gangs: int, size: int, cpu_pods: int) -> tuple[int, int, float, float, float, float]:
    catalog = load_catalog("aws", "us-east-1", spot_price_ratio_estimate=Config().spot_price_ratio_estimate)
    members = {
        f"job{g}": [_pod(f"job{g}-w{i}", "16", "128Gi", 8, f"job{g}") for i in range(size)] for g in range(gangs)
    }
    others = [_pod(f"web{i}", f"{250 * (1 + i % 8)}m", f"{512 * (1 + i % 4)}Mi") for i in range(cpu_pods)]
    pods = tuple(p for ps in members.values() for p in ps) + tuple(others)
    specs = [GangSpec(f"kai:bench/{k}", tuple(p.key for p in ps), size, size) for k, ps in members.items()]
    request = PlanRequest(pods=pods, catalog=catalog)
    plan(request)  # warm the prepared-offerings cache, as a running daemon has it
    started = time.perf_counter()
    with_gangs = plan_gangs(request, specs).plan
    gang_seconds = time.perf_counter() - started
    started = time.perf_counter()
    alone = plan(request)
    plain_seconds = time.perf_counter() - started
    return (
        len(pods),
        len(catalog.zones()),
        gang_seconds,
        plain_seconds,
        with_gangs.total_price_usd_per_hour,
        alone.total_price_usd_per_hour,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gangs", type=int, nargs="*", default=[1, 10, 50])
    parser.add_argument("--size", type=int, default=4)
    parser.add_argument("--cpu-pods", type=int, default=500)
    args = parser.parse_args()
    print(f"{'gangs':>6} {'pods':>6} {'zones':>6} {'gang s':>8} {'plain s':>8} {'gang $/h':>10} {'plain $/h':>10}")
    for n in args.gangs:
        pods, zones, gang_s, plain_s, gang_cost, plain_cost = case(n, args.size, args.cpu_pods)
        print(f"{n:>6} {pods:>6} {zones:>6} {gang_s:>8.3f} {plain_s:>8.3f} {gang_cost:>10.2f} {plain_cost:>10.2f}")


if __name__ == "__main__":
    main()
