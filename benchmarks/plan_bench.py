"""Planner benchmark: speed, memory and cost of plans on real and synthetic workloads (issue 3 targets).

    .venv/bin/python benchmarks/plan_bench.py              # the default table, about a minute on one core
    .venv/bin/python benchmarks/plan_bench.py --quick      # Alibaba gpushare20 + synthetic 20k on AWS only
    .venv/bin/python benchmarks/plan_bench.py --lp 60      # + the LP relaxation bound, 60 s per Alibaba file on AWS

Workloads: every Alibaba GPU-sharing trace file (/work/shared/workloads/alibaba-openb/openb_pod_list_*.csv, or
--workloads DIR), converted to Pod manifests by luna_autoscaler.traces exactly as `plan` reads them, and a
synthetic mix of up to 20,000 pods (CPU deployments of all sizes, 1-8 GPU pods, shared-GPU pods, SKU-, family-,
cost- and spot-constrained pods), deterministic from a seed, and `distinct`: 20,000 CPU pods that all request
something different, the worst case for equivalence classes. Catalogs: the full bundled AWS us-east-1 catalog,
and the default region of each of the four clouds.

Every case runs in its own process so that peak RSS (getrusage ru_maxrss, which includes the catalog and the
interpreter) belongs to that case alone. Columns:

- sec, cpu s: wall and CPU time of `plan()` (catalog loading and manifest parsing excluded); the two differ
  when other processes share the machine. pods/s: pending pods / wall time.
- $/h: total price of the new nodes. Every node is checked to hold its pods (requests + DaemonSets within
  allocatable), so a cheap but invalid plan cannot score.
- vs share: $/h over the *fractional-share bound*: each pod's cheapest fractional share of a compatible node
  (min over compatible offerings of price x max over resources of request/allocatable). It is the issue's
  yardstick but not a true lower bound: pods with complementary shapes (CPU-heavy with memory-heavy) share a
  node for less than the sum of their shares, so a good plan can land below 1.0.
- vs LB: $/h over a *valid lower bound*: for any weights w >= 0 summing to 1 over CPU, memory and GPU, every
  node's price is at least price x sum_r w_r x (share of resource r its pods use), so the sum over pods of
  min over shapes of price x w.(request/allocatable) bounds every plan from below. Pods that can never share a
  node (CPU-only, whole-GPU, shared-GPU: taints and device-plugin modes keep them apart) get their own w; the
  bound is maximised over w by a grid search. It is weaker than the LP optimum, so the true gap is smaller.
- LP $/h, vs LP, LP>=: with --lp SECONDS (needs scipy, the `bench` extra), for the Alibaba files on AWS: the
  LP relaxation of the node-buying problem by column generation (benchmarks/lp_bound.py), within that time
  budget. LP $/h is a valid lower bound of the LP optimum (Farley's bound), so `vs LP` = $/h / LP $/h is an
  upper bound of the plan's gap to the LP optimum; `LP>=` = $/h over the last restricted master's optimum (an
  upper bound of the LP optimum) is a lower bound of that gap. They meet when column generation converges.
- vs FFD: $/h over a first-fit-decreasing baseline written here (Karpenter's order: CPU then memory
  descending; each pod to the first open node that takes it, else a new node of the cheapest type that fits
  it), using the planner's own compatibility and allocatable so that only the packing differs.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from luna_autoscaler.config import Config, config_from_mapping  # noqa: E402
from luna_autoscaler.models.catalog import Catalog  # noqa: E402
from luna_autoscaler.models.manifest import daemonset_from_manifest, pod_from_manifest  # noqa: E402
from luna_autoscaler.models.pod import DaemonSet, Pod  # noqa: E402
from luna_autoscaler.models.resources import ZERO  # noqa: E402
from luna_autoscaler.models.scheduling import tolerates_all  # noqa: E402
from luna_autoscaler.planner import plan  # noqa: E402
from luna_autoscaler.planner.packing import Demand, Shape  # noqa: E402
from luna_autoscaler.planner.planning import Problem, prepare  # noqa: E402
from luna_autoscaler.planner.types import Plan, PlanRequest  # noqa: E402
from luna_autoscaler.traces import pod_manifest, read_trace  # noqa: E402
from pricing.catalog import default_region, load_catalog  # noqa: E402

WORKLOADS = Path("/work/shared/workloads/alibaba-openb")
DISTINCT_PODS = 20_000  # issue 11: 20,000 all-different pods at >= 4,000 pods/s
CLOUDS = ("aws", "gcp", "azure", "oci")
# Shared-GPU trace pods (nvidia.com/gpu.shared) need time-sliced nodes: four replicas per GPU on every type.
BENCH_CONFIG: dict[str, Any] = {
    "gpuTimeSlicing": [{"instanceTypeRegexp": ".*", "replicas": 4, "renameByDefault": True}],
}


def _daemonset(name: str, cpu: str, memory: str, spec: dict[str, Any]) -> DaemonSet:
    container = {"name": name, "resources": {"requests": {"cpu": cpu, "memory": memory}}}
    manifest = {"metadata": {"name": name, "namespace": "kube-system"}, "spec": {"template": {"spec": spec}}}
    manifest["spec"]["template"]["spec"]["containers"] = [container]
    return daemonset_from_manifest(manifest)


# What an EKS GPU cluster runs on every node (requests from the upstream manifests), so overhead is realistic.
DAEMONSETS = (
    _daemonset("kube-proxy", "100m", "0", {"tolerations": [{"operator": "Exists"}]}),
    _daemonset("aws-node", "25m", "0", {"tolerations": [{"operator": "Exists"}]}),
    _daemonset(
        "nvidia-device-plugin",
        "10m",
        "20Mi",
        {
            "nodeSelector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists"},
                {"key": "nvidia.com/gpu.shared", "operator": "Exists"},
            ],
        },
    ),
)


# Workloads.


def alibaba_pods(path: Path) -> tuple[Pod, ...]:
    return tuple(pod_from_manifest(pod_manifest(row)) for row in read_trace(path))


def _pod(name: str, cpu_millis: int, memory_mib: int, extra: dict[str, str], annotations: dict[str, str]) -> Pod:
    return pod_from_manifest(
        {
            "metadata": {"name": name, "namespace": "synthetic", "annotations": annotations},
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "resources": {"requests": {"cpu": f"{cpu_millis}m", "memory": f"{memory_mib}Mi", **extra}},
                    }
                ]
            },
        }
    )


def distinct_pods(count: int, seed: int = 11) -> tuple[Pod, ...]:
    """The worst case for equivalence classes: every pod requests something different (CPU only)."""
    rng = random.Random(seed)
    return tuple(
        _pod(f"distinct-{i:05d}", rng.randint(100, 8000), rng.randint(128, 32000), {}, {}) for i in range(count)
    )


def synthetic_pods(count: int, seed: int = 7) -> tuple[Pod, ...]:
    """A deterministic mix of ~300 pod templates, like a cluster of many teams' deployments and jobs."""
    rng = random.Random(seed)
    templates: list[tuple[int, int, dict[str, str], dict[str, str]]] = []
    for _ in range(180):  # CPU-only deployments, 250m to 32 CPU, 1-8 GiB per CPU
        cpu = rng.choice((250, 500, 1000, 1500, 2000, 4000, 6000, 8000, 16000, 32000))
        memory = int(cpu / 1000 * rng.choice((1024, 2048, 4096, 8192))) or 256
        annotations = {}
        if rng.random() < 0.1:
            annotations["node.elotl.co/instance-family-exclusions"] = "t3,t3a,t2"
        if rng.random() < 0.1:
            annotations["node.elotl.co/instance-offerings"] = "spot,on-demand"
        templates.append((cpu, memory, {}, annotations))
    sku_lists = ("T4", "L4", "A10G", "T4,L4", "L4,A10G,L40S", "A100", "H100", "")
    for _ in range(90):  # whole-GPU pods, 1-8 GPUs
        gpus = rng.choice((1, 1, 1, 2, 4, 8))
        skus = rng.choice(sku_lists)
        annotations = {"node.elotl.co/instance-gpu-skus": skus} if skus else {}
        if rng.random() < 0.15:
            annotations["node.elotl.co/instance-max-cost"] = str(rng.choice((2, 5, 10, 40)))
        cpu = gpus * rng.choice((2000, 4000, 8000))
        templates.append((cpu, cpu // 1000 * rng.choice((4096, 8192)), {"nvidia.com/gpu": str(gpus)}, annotations))
    for _ in range(30):  # shared-GPU pods (one time-sliced replica)
        skus = rng.choice(("T4", "L4", "T4,L4,A10G", ""))
        annotations = {"node.elotl.co/instance-gpu-skus": skus} if skus else {}
        cpu, memory = rng.choice((1000, 2000, 3000)), rng.choice((2048, 4096, 8192))
        templates.append((cpu, memory, {"nvidia.com/gpu.shared": "1"}, annotations))
    weights = [rng.random() ** 2 for _ in templates]
    pods = []
    for i in range(count):
        cpu, memory, extra, annotations = rng.choices(templates, weights)[0]
        pods.append(_pod(f"syn-{i:05d}", cpu, memory, extra, annotations))
    return tuple(pods)


# Baselines and bounds (benchmark only: the product never runs these).


def _fits(request: Sequence[int], free: Sequence[int]) -> bool:
    return all(r <= f for r, f in zip(request, free, strict=True))


def ffd_cost(problem: Problem) -> float:
    """Karpenter-like first-fit decreasing over the planner's compatibility and allocatable."""
    pods = sorted(
        ((d.vector[0], d.vector[1], d.cls.index, d) for d in problem.demands for _ in range(d.cls.count)),
        key=lambda t: (-t[0], -t[1], t[2]),
    )
    nodes: list[tuple[Shape, list[int]]] = []
    first_open: dict[int, int] = {}  # per class: nodes before this index are full for it (they only fill up)
    cost = 0.0
    for _, _, index, demand in pods:
        placed = False
        start = first_open.get(index, 0)
        for n in range(start, len(nodes)):
            shape, free = nodes[n]
            if _fits(demand.vector, free) and problem.compatible(demand, shape):
                for i, r in enumerate(demand.vector):
                    free[i] -= r
                placed = True
                first_open[index] = n
                break
        if not placed:
            shape = min(demand.shapes, key=lambda s: s.sort_key)
            nodes.append((shape, [a - r for a, r in zip(shape.vector, demand.vector, strict=True)]))
            first_open[index] = len(nodes) - 1
            cost += shape.price
    return cost


def share_bound(problem: Problem) -> float:
    return sum(d.cls.count * min(s.price * _shares(d, s)[3] for s in d.shapes) for d in problem.demands)


def _shares(demand: Demand, shape: Shape) -> tuple[float, float, float, float]:
    """Fractions of CPU, memory and accelerators (any GPU resource) of the shape one pod takes, and the max."""
    fractions = [r / a if r else 0.0 for r, a in zip(demand.vector, shape.vector, strict=True)]
    cpu, memory, pods, storage = fractions[:4]
    gpu = max(fractions[4:], default=0.0)
    return cpu, memory, gpu, max(cpu, memory, pods, storage, gpu)


def weighted_bound(problem: Problem, step: int = 20) -> float:
    """The valid lower bound of the module docstring, maximised per group of pods over a grid of weights."""
    groups: dict[tuple[int, ...], list[Demand]] = {}
    for d in problem.demands:
        groups.setdefault(tuple(i for i, v in enumerate(d.vector[4:]) if v), []).append(d)
    total = 0.0
    for demands in groups.values():
        # Per demand, the (price x share) cost vectors of its shapes; dominated ones never give the minimum.
        costs = []
        for d in demands:
            vectors = sorted({tuple(s.price * x for x in _shares(d, s)[:3]) for s in d.shapes})
            pareto: list[tuple[float, float, float]] = []
            for v in vectors:
                if not any(p[0] <= v[0] and p[1] <= v[1] and p[2] <= v[2] for p in pareto):
                    pareto.append(v)
            costs.append((d.cls.count, pareto))
        best = 0.0
        for i in range(step + 1):
            for j in range(step + 1 - i):
                w = (i / step, j / step, (step - i - j) / step)
                value = sum(n * min(w[0] * c + w[1] * m + w[2] * g for c, m, g in pareto) for n, pareto in costs)
                best = max(best, value)
        total += best
    return total


def check(result: Plan, pods: Sequence[Pod], daemonsets: Sequence[DaemonSet]) -> None:
    """Every new node holds its pods: their requests plus the DaemonSets it admits within allocatable."""
    requests = {p.key: p.requests for p in pods}
    for node in result.new_nodes:
        labels = {**node.offering.labels(), **node.labels}
        used = sum(
            (
                d.requests
                for d in daemonsets
                if d.node_selector.matches(labels) and tolerates_all(d.tolerations, node.taints) is None
            ),
            start=ZERO,
        )
        for key in node.pods:
            used = used + requests[key]
        if not used.fits_in(node.allocatable):
            raise AssertionError(
                f"{node.name} ({node.offering.name}) cannot hold its pods: {used} > {node.allocatable}"
            )


# One case, in a subprocess.


def run_case(workload: str, cloud: str, pods_count: int, workloads: Path, lp_seconds: float = 0.0) -> dict[str, Any]:
    if workload == "synthetic":
        pods = synthetic_pods(pods_count)
    elif workload == "distinct":
        pods = distinct_pods(DISTINCT_PODS)
    else:
        pods = alibaba_pods(workloads / f"openb_pod_list_{workload}.csv")
    catalog: Catalog = load_catalog(cloud)
    config: Config = config_from_mapping(BENCH_CONFIG)
    request = PlanRequest(pods=pods, catalog=catalog, config=config, daemonsets=DAEMONSETS)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = plan(request)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    problem, _, _ = prepare(request)
    assert problem is not None
    check(result, pods, DAEMONSETS)
    measured = {
        "workload": workload,
        "cloud": f"{cloud} {catalog.region}",
        "offerings": len(problem.offerings),
        "pods": len(pods),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "pods_per_second": len(pods) / seconds,
        "rss_mb": rss_mb,
        "nodes": len(result.new_nodes),
        "unplaced": len(result.unplaced),
        "cost": result.total_price_usd_per_hour,
        "share_bound": share_bound(problem),
        "lower_bound": weighted_bound(problem),
        "ffd": ffd_cost(problem),
    }
    if lp_seconds > 0 and cloud == "aws" and workload not in ("synthetic", "distinct"):
        from lp_bound import lp_bound  # scipy: only when asked for

        lp = lp_bound(problem, time_limit_seconds=lp_seconds)  # last: it packs the problem to seed the master
        measured |= {"lp_bound": lp.bound, "lp_master": lp.master, "lp_seconds": lp.seconds}
    return measured


def _row(r: dict[str, Any]) -> str:
    return (
        f"{r['workload']:<12} {r['cloud']:<20} {r['offerings']:>6} {r['pods']:>6} {r['seconds']:>6.2f} "
        f"{r['cpu_seconds']:>6.2f} "
        f"{r['pods_per_second']:>8.0f} {r['rss_mb']:>6.0f} {r['nodes']:>6} {r['unplaced']:>5} {r['cost']:>10.2f} "
        f"{r['cost'] / r['share_bound']:>8.3f} {r['cost'] / r['lower_bound']:>6.3f} {r['ffd']:>10.2f} "
        f"{r['cost'] / r['ffd']:>6.3f}"
        + (
            f" {r['lp_bound']:>10.2f} {r['cost'] / r['lp_bound']:>6.3f} {r['cost'] / r['lp_master']:>6.3f}"
            if "lp_bound" in r
            else ""
        )
    )


HEADER = (
    f"{'workload':<12} {'catalog':<20} {'offers':>6} {'pods':>6} {'sec':>6} {'cpu s':>6} {'pods/s':>8} {'RSS MB':>6} "
    f"{'nodes':>6} {'unpl':>5} {'$/h':>10} {'vs share':>8} {'vs LB':>6} {'FFD $/h':>10} {'vs FFD':>6}"
)
LP_HEADER = f" {'LP $/h':>10} {'vs LP':>6} {'LP>=':>6}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", type=Path, default=WORKLOADS, help="directory of openb_pod_list_*.csv")
    parser.add_argument("--pods", type=int, default=20_000, help="synthetic workload size")
    parser.add_argument("--quick", action="store_true", help="one Alibaba file and the synthetic mix, AWS only")
    parser.add_argument(
        "--lp",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also bound the LP relaxation by column generation (scipy), this long per Alibaba file on AWS",
    )
    parser.add_argument("--case", nargs=2, metavar=("WORKLOAD", "CLOUD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case[0], args.case[1], args.pods, args.workloads, args.lp)))
        return 0
    files = sorted(args.workloads.glob("openb_pod_list_*.csv"))
    if not files:
        print(f"no Alibaba workloads in {args.workloads} (openb_pod_list_*.csv): running the synthetic ones only")
    traces = [f.stem.removeprefix("openb_pod_list_") for f in files]
    if args.quick:
        cases = [(w, "aws") for w in traces[:1]] + [("synthetic", "aws"), ("distinct", "aws")]
    else:
        cases = [(w, "aws") for w in traces] + [("synthetic", c) for c in CLOUDS] + [("distinct", "aws")]
        cases += [(traces[-1], c) for c in CLOUDS[1:] if traces]
    print(f"Regions: {', '.join(f'{c} {default_region(c)}' for c in CLOUDS)}; config {json.dumps(BENCH_CONFIG)}")
    print(HEADER + (LP_HEADER if args.lp > 0 else ""))
    results = []
    for workload, cloud in cases:
        command = [sys.executable, __file__, "--case", workload, cloud, "--pods", str(args.pods)]
        command += ["--workloads", str(args.workloads), "--lp", str(args.lp)]
        out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
        # The last JSON line: HiGHS (--lp) may write its own notes to stdout.
        results.append(json.loads(next(line for line in reversed(out.splitlines()) if line.startswith("{"))))
        print(_row(results[-1]), flush=True)
    _summary(results, print)
    return 0


def _summary(results: Sequence[dict[str, Any]], out: Callable[[str], None]) -> None:
    alibaba_aws = [
        r for r in results if r["workload"] not in ("synthetic", "distinct") and r["cloud"].startswith("aws")
    ]
    distinct = [r for r in results if r["workload"] == "distinct"]
    if distinct:
        r = distinct[0]
        out(
            f"Target {r['pods']} all-different pods x full AWS catalog: {r['pods'] / r['cpu_seconds']:.0f} pods/s of "
            f"CPU time (>= 4000), {r['pods_per_second']:.0f} wall"
        )
    big = [r for r in results if r["workload"] == "synthetic" and r["cloud"].startswith("aws")]
    if big:
        r = big[0]
        out(
            f"Target 20k pods x full AWS catalog: {r['pods_per_second']:.0f} pods/s wall, "
            f"{r['pods'] / r['cpu_seconds']:.0f} pods/s of CPU time (>= 4000 on one core), "
            f"peak RSS {r['rss_mb']:.0f} MB (<= 500)"
        )
    if alibaba_aws:
        worst_lb = max(r["cost"] / r["lower_bound"] for r in alibaba_aws)
        worst_share = max(r["cost"] / r["share_bound"] for r in alibaba_aws)
        worst_ffd = max(r["cost"] / r["ffd"] for r in alibaba_aws)
        with_lp = [r for r in alibaba_aws if "lp_bound" in r]
        if with_lp:
            out(
                "Alibaba on AWS, cost over the LP optimum: "
                + ", ".join(
                    f"{r['workload']} {r['cost'] / r['lp_master']:.3f}-{r['cost'] / r['lp_bound']:.3f}" for r in with_lp
                )
                + " (target <= 1.02)"
            )
        out(
            f"Alibaba on AWS: worst cost/share bound {worst_share:.3f} (<= 1.05), worst cost/valid LB {worst_lb:.3f}, "
            f"worst cost/FFD {worst_ffd:.3f} (<= 1.0)"
        )
    over_ffd = [f"{r['workload']}@{r['cloud']}" for r in results if r["cost"] > r["ffd"] + 1e-6]
    out("Never above FFD: " + ("yes" if not over_ffd else "NO: " + ", ".join(over_ffd)))


if __name__ == "__main__":
    raise SystemExit(main())
