"""Run N seeded fault-injection scenarios (tests/faults/scenario.py) and print what they did and found.

    python benchmarks/fault_suite.py --scenarios 1000 [--first-seed 0] [--steps 12]

Prints scenarios run, cycles (and how many failed under faults, which is allowed), faults injected by kind,
and every invariant violation with its seed, so a violation can be replayed with `--first-seed S --scenarios 1`.
Exit code 1 when any invariant was violated.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.scenario import run_scenario


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=12, help="faulty steps per scenario (then a quiet settle)")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    started = time.monotonic()
    faults: Counter[str] = Counter()
    violations: list[str] = []
    cycles = failed = 0
    for seed in range(args.first_seed, args.first_seed + args.scenarios):
        outcome = run_scenario(seed, steps=args.steps)
        faults.update(outcome.faults)
        violations += outcome.violations
        cycles += outcome.cycles
        failed += outcome.failed_cycles
        for v in outcome.violations:
            print("VIOLATION", v, flush=True)
    print(f"scenarios run: {args.scenarios} (seeds {args.first_seed}..{args.first_seed + args.scenarios - 1})")
    print(f"cycles: {cycles} ({failed} failed under faults)")
    print(f"faults injected: {sum(faults.values())}")
    for kind, n in sorted(faults.items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {kind}")
    print(f"invariant violations: {len(violations)}")
    print(f"wall time: {time.monotonic() - started:.0f} s")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
