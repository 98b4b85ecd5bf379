"""One reconcile cycle (`Reconciler.run_once`) with N pending pods: the daemon's decision latency.

    .venv/bin/python benchmarks/reconcile_bench.py                 # 1,000 and 10,000 pending trace pods
    .venv/bin/python benchmarks/reconcile_bench.py --pods 1000

The world of the reconcile component tests (tests/reconcile/world.py): the fake API server over HTTP, the real
kube adapter (list + watch cache) in front of it, the fake provider with the full bundled AWS us-east-1 catalog,
a fake clock. N pending pods of the Alibaba trace (openb_pod_list_*.csv rows in file order, as
`luna_autoscaler.traces.pod_manifest` writes them, PodScheduled=False/Unschedulable, GPU pods tolerating the GPU
taints as ExtendedResourceToleration would make them) are created, the cache is let to catch up, and one cycle
runs: snapshot, triage, plan, launch requests to the provider, then Events and status.

Two cycles are measured on the same pods, each reconciler with its own fake provider (so neither sees the
other's launches):
- `first`: a fresh Reconciler, the first cycle of a daemon that just started: it also prepares the purchasable
  offerings (PreparedOfferings, kept between cycles while catalog, configuration and observed node types stay
  the same) and rebuilds its launch memory from the provider;
- `steady`: a Reconciler that already ran a cycle before the pods were created, so that one-off preparation is
  behind it: a burst of N pods arriving at a running daemon;
- `next`: that Reconciler's following cycle, 5 s later: the pods still pending, their launches in flight (the
  nodes take 60 s to join). It should launch nothing.

The figures are the wall time from the cycle's start to its first launch request (everything before the
launches: snapshot, triage, the plan) and to its last (the decision latency), with the CPU time the loop's
thread spent until then (what the daemon itself costs: on a loaded machine the wall time is mostly waiting);
then for the whole cycle (the pod Events are posted after the launches) the wall time, the CPU time of the
process (which includes the adapter's watch threads and the in-process fake API server answering the cycle's
calls: about half of each Event's cost) and of the loop's thread. Target (issue 11): <= 1 s from snapshot to
the last launch request with 1,000 pods.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from luna_autoscaler.observability.logging import configure_logging  # noqa: E402
from luna_autoscaler.ports import Instance, LaunchRequest  # noqa: E402
from luna_autoscaler.reconcile import Reconciler  # noqa: E402
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
    """The fake provider, noting when each launch request arrives (wall clock, and CPU time of the calling
    thread: the loop's own work, without the in-process API server's)."""

    launched_at: list[tuple[float, float]]

    def launch(self, request: LaunchRequest) -> Instance:
        self.launched_at.append((time.perf_counter(), time.thread_time()))
        return super().launch(request)


@dataclass(frozen=True, slots=True)
class Cycle:
    kind: str  # first | steady
    to_first_launch: float  # seconds from the cycle's start
    to_last_launch: float
    loop_cpu_to_last_launch: float  # CPU seconds of the loop's thread from the cycle's start
    seconds: float
    cpu_seconds: float  # of the process
    loop_cpu_seconds: float  # of the loop's thread
    launches: int
    unplaced: int


def _measure(kind: str, world: World, reconciler: Reconciler, provider: TimedProvider) -> Cycle:
    provider.launched_at = []
    start, cpu_start, loop_start = time.perf_counter(), time.process_time(), time.thread_time()
    report = reconciler.run_once(world.clock())
    seconds, cpu, loop = time.perf_counter() - start, time.process_time() - cpu_start, time.thread_time() - loop_start
    at = provider.launched_at
    nan = float("nan")
    return Cycle(
        kind,
        at[0][0] - start if at else nan,
        at[-1][0] - start if at else nan,
        at[-1][1] - loop_start if at else nan,
        seconds,
        cpu,
        loop,
        len(at),
        len(report.unplaced),
    )


def cycles(pods: int, workloads: Path) -> tuple[Cycle, Cycle, Cycle]:
    """The first cycle of a fresh Reconciler, the steady-state cycle of a running one on the same N pods, and
    the running one's next cycle."""
    rows = [row for f in sorted(workloads.glob("openb_pod_list_*.csv")) for row in read_trace(f)][:pods]
    with FakeApiServer() as server:
        world = World(server, {})
        try:
            world.catalog = load_catalog("aws", "us-east-1")

            def provider() -> TimedProvider:
                p = TimedProvider(world.catalog, world.clock, cluster_name=CLUSTER, join_delay_seconds=60)
                p.launched_at = []
                return p

            running_provider, fresh_provider = provider(), provider()
            running = world.new_reconciler(provider=running_provider)
            running.run_once(world.clock())  # no pod yet: offerings prepared, launch memory rebuilt
            for i, row in enumerate(rows):
                manifest = pod_manifest(row)
                manifest["metadata"]["name"] = f"{row.name}-{i}"
                if row.num_gpu:
                    manifest["spec"]["tolerations"] = GPU_TOLERATIONS
                server.create(manifest)
            world.settle(timeout_seconds=600)
            fresh = world.new_reconciler(provider=fresh_provider)
            first = _measure("first", world, fresh, fresh_provider)
            steady = _measure("steady", world, running, running_provider)
            world.clock.advance(5)
            following = _measure("next", world, running, running_provider)
        finally:
            world.close()
    return first, steady, following


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--workloads", type=Path, default=WORKLOADS)
    args = parser.parse_args(argv)
    configure_logging(level="error")
    print(
        f"{'pending':>8} {'cycle':>6} {'1st launch s':>12} {'last launch s':>13} {'(loop cpu s)':>12} "
        f"{'cycle s':>8} {'cpu s':>7} {'(loop cpu s)':>12} {'launches':>8} {'unplaced':>8}"
    )
    for n in args.pods:
        first, steady, following = cycles(n, args.workloads)
        for c in (first, steady, following):
            print(
                f"{n:>8} {c.kind:>6} {c.to_first_launch:>12.2f} {c.to_last_launch:>13.2f} "
                f"{c.loop_cpu_to_last_launch:>12.2f} {c.seconds:>8.2f} {c.cpu_seconds:>7.2f} "
                f"{c.loop_cpu_seconds:>12.2f} {c.launches:>8} {c.unplaced:>8}",
                flush=True,
            )
        if n == 1_000:
            print(
                "Target one cycle with 1,000 pending pods, snapshot to launch requests <= 1 s: "
                f"first cycle {first.to_last_launch:.2f} s ({first.loop_cpu_to_last_launch:.2f} CPU s), "
                f"steady state {steady.to_last_launch:.2f} s ({steady.loop_cpu_to_last_launch:.2f} CPU s)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
