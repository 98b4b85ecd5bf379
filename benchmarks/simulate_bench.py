"""`luna-autoscaler simulate` over a full day of one ~8,000-pod Alibaba trace file: how long the loop takes.

    .venv/bin/python benchmarks/simulate_bench.py                  # gpushare20, 24 h from trace hour 3438
    .venv/bin/python benchmarks/simulate_bench.py --trace multigpu20 --hours 24

The scenario is the bundled one (luna_autoscaler/scenarios/default.yaml: EKS us-east-1, its DaemonSets, config
and cloud model) with its two window files replaced by one whole trace file of /work/shared/workloads/
alibaba-openb (openb_pod_list_<trace>.csv), replayed for `--hours` from the busiest stretch the bundled scenario
uses. It runs `simulate --no-baseline --no-report` in its own process; the figures are wall and CPU time and peak
RSS of that process, and the simulator's own summary. Target (issue 11): one day under 60 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = Path("/work/shared/workloads/alibaba-openb")
BUSIEST = 12_376_800  # trace second of hour 3438, where the bundled scenario starts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", default="gpushare20")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--workloads", type=Path, default=WORKLOADS)
    args = parser.parse_args(argv)
    scenario = yaml.safe_load((ROOT / "luna_autoscaler" / "scenarios" / "default.yaml").read_text())
    scenario["name"] = f"bench-{args.trace}-{args.hours:g}h"
    scenario["hours"] = args.hours
    end = BUSIEST + int(args.hours * 3600)
    trace = str((args.workloads / f"openb_pod_list_{args.trace}.csv").resolve())
    scenario["traces"] = [{"file": trace, "namespace": args.trace, "start": BUSIEST, "end": end}]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario, sort_keys=False))
        command = [sys.executable, "-m", "luna_autoscaler", "simulate", "--scenario", str(path)]
        command += ["--no-baseline", "--no-report"]
        start = time.perf_counter()
        with tempfile.TemporaryFile() as out:
            child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - start
            out.seek(0)
            summary = out.read().decode()
    print(summary.rstrip())
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"simulate failed ({os.waitstatus_to_exitcode(status)})")
    cpu = usage.ru_utime + usage.ru_stime
    print(
        f"\nsimulate {args.trace}, {args.hours:g} h of cluster time: {seconds:.1f} s wall, {cpu:.1f} s CPU, "
        f"peak RSS {usage.ru_maxrss / 1024:.0f} MB (target: one day < 60 s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
