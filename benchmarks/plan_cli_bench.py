"""`luna-autoscaler plan` end to end on real trace pods: what a user waits for, and how much memory it takes.

    .venv/bin/python benchmarks/plan_cli_bench.py                 # 1k, 20k and 100k trace pods, JSON input
    .venv/bin/python benchmarks/plan_cli_bench.py --sizes 1000 20000 --format yaml
    .venv/bin/python benchmarks/plan_cli_bench.py --replicas 1000000   # one Deployment of that many replicas
    .venv/bin/python benchmarks/plan_cli_bench.py --sizes 1000 20000 --rounds 0 10 30 100   # cost vs CPU

The pods are the Alibaba trace rows (every openb_pod_list_*.csv, in file order, renamed `<file>-<row>` and
cycled with a `-r<k>` suffix past the ~40,000 rows there are) written as one `kind: List` file by
`luna_autoscaler.traces.pod_manifest`, as `kubectl get pods -o json` or `-o yaml` would give them. Each size runs
`luna-autoscaler plan --pods FILE --config CONFIG --output json` (AWS us-east-1, the bundled catalog, the trace
benchmark's time-slicing config) in its own process; the figures are its wall time and peak RSS (getrusage of
the child: the interpreter, catalog, manifests, plan and JSON output together). Targets (issue 11): 20,000 pods
at >= 5,000 pods/s; 100,000 pods within 1 GB peak RSS, time linear in the pods.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from luna_autoscaler.traces import pod_manifest, read_trace  # noqa: E402

WORKLOADS = Path("/work/shared/workloads/alibaba-openb")
CONFIG = {"gpuTimeSlicing": [{"instanceTypeRegexp": ".*", "replicas": 4, "renameByDefault": True}]}


def trace_manifests(workloads: Path, count: int) -> Iterator[dict[str, Any]]:
    """`count` pending Pod manifests from the trace files, cycled (renamed) when there are fewer rows."""
    flat = [
        (f.stem.removeprefix("openb_pod_list_"), row)
        for f in sorted(workloads.glob("openb_pod_list_*.csv"))
        for row in read_trace(f)
    ]
    for i in range(count):
        stem, row = flat[i % len(flat)]
        manifest = pod_manifest(row)
        suffix = f"-r{i // len(flat)}" if i >= len(flat) else ""
        manifest["metadata"]["name"] = f"{stem}-{row.name}{suffix}"
        yield manifest


def write_pods(path: Path, manifests: Sequence[dict[str, Any]], fmt: str) -> None:
    doc = {"apiVersion": "v1", "kind": "List", "items": list(manifests)}
    with path.open("w") as f:
        if fmt == "json":
            json.dump(doc, f)
        else:
            yaml.dump(doc, f, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)


def deployment(replicas: int) -> dict[str, Any]:
    template = pod_manifest(read_trace(next(iter(sorted(WORKLOADS.glob("openb_pod_list_*.csv")))))[0])
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "bench"},
        "spec": {"replicas": replicas, "template": {"metadata": template["metadata"], "spec": template["spec"]}},
    }


def run_plan(pods: Path, config: Path) -> tuple[float, float, float, dict[str, Any]]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one `plan` process, and its JSON output."""
    command = [sys.executable, "-m", "luna_autoscaler", "plan", "--pods", str(pods), "--config", str(config)]
    command += ["--output", "json"]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak RSS
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        stderr = child.stderr.read().decode() if child.stderr else ""
        if child.returncode:
            raise SystemExit(f"plan failed ({child.returncode}): {stderr}")
        out.seek(0)
        return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, json.loads(out.read())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", type=Path, default=WORKLOADS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 20_000, 100_000])
    parser.add_argument("--format", choices=("json", "yaml"), default="json")
    parser.add_argument("--replicas", type=int, help="instead: one Deployment with this many replicas")
    parser.add_argument(
        "--rounds", type=int, nargs="+", help="planOptimizationRounds values to compare (default: the default)"
    )
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # internal: write one pod file and stop
    args = parser.parse_args(argv)
    if args.write:
        write_pods(args.write, list(trace_manifests(args.workloads, args.sizes[0])), args.format)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        configs: list[tuple[str, Path]] = []
        for rounds in args.rounds or [None]:
            config = Path(tmp) / f"config-{rounds}.yaml"
            extra = {} if rounds is None else {"planOptimizationRounds": rounds}
            config.write_text(yaml.safe_dump({**CONFIG, **extra}))
            configs.append(("default" if rounds is None else str(rounds), config))
        print(
            f"{'pods':>8} {'rounds':>7} {'format':>6} {'file MB':>8} {'sec':>7} {'cpu s':>7} {'pods/s':>8} "
            f"{'pods/cpu s':>10} {'peak RSS MB':>11} {'nodes':>6} {'$/h':>10}"
        )
        cases: list[tuple[int, Path]] = []
        if args.replicas:
            path = Path(tmp) / "deployment.json"
            path.write_text(json.dumps(deployment(args.replicas)))
            cases.append((args.replicas, path))
        else:
            for size in sorted(args.sizes):
                path = Path(tmp) / f"pods-{size}.{args.format}"
                # In a child: the peak RSS of a `plan` child starts at this process's size when it is forked, and
                # 100,000 manifests made here would stay in this process's memory.
                writer = [sys.executable, __file__, "--write", str(path), "--sizes", str(size)]
                subprocess.run([*writer, "--format", args.format, "--workloads", str(args.workloads)], check=True)
                cases.append((size, path))
        results = []
        for label, config in configs:
            for size, path in cases:
                seconds, cpu, rss_mb, doc = run_plan(path, config)
                if label == configs[0][0]:
                    results.append((size, cpu, rss_mb))
                print(
                    f"{size:>8} {label:>7} {args.format:>6} {path.stat().st_size / 1e6:>8.1f} {seconds:>7.2f} "
                    f"{cpu:>7.2f} {size / seconds:>8.0f} {size / cpu:>10.0f} {rss_mb:>11.0f} {len(doc['nodes']):>6} "
                    f"{doc['total_price_usd_per_hour']:>10.2f}",
                    flush=True,
                )
        for size, cpu, rss_mb in results:
            if size == 20_000:
                print(f"Target 20,000 pods >= 5,000 pods/s (of CPU time: the machine is shared): {size / cpu:.0f}")
            if size == 100_000:
                print(f"Target 100,000 pods <= 1024 MB peak RSS: {rss_mb:.0f} MB")
        if len(results) > 1:
            (n0, s0, _), (n1, s1, _) = results[0], results[-1]
            print(f"CPU per pod, {n1} vs {n0} pods: {s1 / n1 * 1e6:.0f} vs {s0 / n0 * 1e6:.0f} us (linear: equal)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
