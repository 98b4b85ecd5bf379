"""One reconcile cycle (`Reconciler.run_once`) with N pending pods: the daemon's decision latency.

    .venv/bin/python benchmarks/reconcile_bench.py                 # 1,000 and 10,000 pending trace pods
    .venv/bin/python benchmarks/reconcile_bench.py --pods 1000

The world of the reconcile component tests (tests/reconcile/world.py): the fake API server over HTTP, the real
kube adapter (list + watch cache) in front of it, the fake provider with the full bundled AWS us-east-1 catalog,
a fake clock. N pending pods of the Alibaba trace (openb_pod_list_*.csv rows in file order, as
`luna_autoscaler.traces.pod_manifest` writes them, PodScheduled=False/Unschedulable, GPU pods tolerating the GPU
taints as ExtendedResourceToleration would make them) are created, the cache is let to catch up, and one cycle
runs: snapshot, triage, plan, launch requests to the provider, then Events and status. The figures are the wall
time from the cycle's start to its last launch request (the decision latency) and to its end, and the CPU time of
the process over the cycle (which includes the adapter's watch threads). Target (issue 11): <= 1 s with 1,000 pods.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from luna_autoscaler.observability.logging import configure_logging  # noqa: E402
from luna_autoscaler.ports import Instance, LaunchRequest  # noqa: E402
from luna_autoscaler.traces import pod_manifest, read_trace  # noqa: E402
from pricing.catalog import load_catalog  # noqa: E402
from providers.fake import FakeProvider  # noqa: E402
from tests.kubeapi import FakeApiServer  # noqa: E402
from tests.reconcile.world import CLUSTER, World  # noqa: E402

WORKLOADS = Path("/work/shared/workloads/alibaba-openb")
GPU_TOLERATIONS = [
    {"key": key, "operator": "Exists", "effect": "NoSchedule"} for key in ("nvidia.com/gpu", "nvidia.com/gpu.shared")
]


class TimedProvider(FakeProvider):
    """The fake provider, noting when each launch request arrives."""

    launched_at: list[float]

    def launch(self, request: LaunchRequest) -> Instance:
        self.launched_at.append(time.perf_counter())
        return super().launch(request)


def one_cycle(pods: int, workloads: Path) -> tuple[float, float, float, int, int]:
    """Seconds from the cycle's start to its last launch request and to its end, CPU seconds, launches, unplaced."""
    rows = [row for f in sorted(workloads.glob("openb_pod_list_*.csv")) for row in read_trace(f)][:pods]
    with FakeApiServer() as server:
        world = World(server, {})
        try:
            world.catalog = load_catalog("aws", "us-east-1")
            provider = TimedProvider(world.catalog, world.clock, cluster_name=CLUSTER, join_delay_seconds=60)
            provider.launched_at = []
            world.provider = provider
            world.reconciler = world.new_reconciler()
            for i, row in enumerate(rows):
                manifest = pod_manifest(row)
                manifest["metadata"]["name"] = f"{row.name}-{i}"
                if row.num_gpu:
                    manifest["spec"]["tolerations"] = GPU_TOLERATIONS
                server.create(manifest)
            world.settle(timeout_seconds=600)
            start, cpu_start = time.perf_counter(), time.process_time()
            report = world.reconciler.run_once(world.clock())
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        finally:
            world.close()
    to_launch = (provider.launched_at[-1] - start) if provider.launched_at else float("nan")
    return to_launch, seconds, cpu, len(world.launches()), len(report.unplaced)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--workloads", type=Path, default=WORKLOADS)
    args = parser.parse_args(argv)
    configure_logging(level="error")
    print(f"{'pending':>8} {'to launch s':>11} {'cycle s':>8} {'cpu s':>7} {'launches':>8} {'unplaced':>8}")
    for n in args.pods:
        to_launch, seconds, cpu, launches, unplaced = one_cycle(n, args.workloads)
        print(f"{n:>8} {to_launch:>11.2f} {seconds:>8.2f} {cpu:>7.2f} {launches:>8} {unplaced:>8}", flush=True)
        if n == 1_000:
            print(f"Target one cycle with 1,000 pending pods, snapshot to launch requests <= 1 s: {to_launch:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
