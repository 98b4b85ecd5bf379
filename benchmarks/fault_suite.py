"""Run N seeded fault-injection scenarios (tests/faults/scenario.py) and print what they did and found.

    python benchmarks/fault_suite.py --scenarios 1000 [--first-seed 0] [--steps 12] [--jobs 3] [--summaries]

Prints scenarios run, cycles (and how many failed under faults, which is allowed), faults injected by kind,
and every invariant violation with its seed, so a violation can be replayed with `--first-seed S --scenarios 1`.
`--summaries` prints each scenario's summary line, which two runs of one seed print alike. Exit code 1 when any
invariant was violated. A scenario spends most of its wall time waiting on the kube adapter's watch threads (and
on a loaded machine, for a core), so `--jobs N` runs N scenarios at once in worker processes. Times are CPU
seconds of the workers (the API servers and the adapters' threads included) and wall seconds.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.scenario import Outcome, run_scenario


def _quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


def _run(seed_and_steps: tuple[int, int]) -> Outcome:
    seed, steps = seed_and_steps
    return run_scenario(seed, steps=steps)


def _outcomes(seeds: range, steps: int, jobs: int) -> Iterator[Outcome]:
    if jobs <= 1:
        yield from map(_run, ((seed, steps) for seed in seeds))
        return
    with multiprocessing.get_context("spawn").Pool(jobs, initializer=_quiet, maxtasksperchild=50) as pool:
        yield from pool.imap(_run, ((seed, steps) for seed in seeds))


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=12, help="faulty steps per scenario (then a quiet settle)")
    parser.add_argument("--jobs", type=int, default=1, help="scenarios run at once, in worker processes")
    parser.add_argument("--summaries", action="store_true", help="print each scenario's summary line")
    args = parser.parse_args()
    _quiet()
    started = time.monotonic()
    faults: Counter[str] = Counter()
    violations: list[str] = []
    cycles = failed = undelivered = 0
    seeds = range(args.first_seed, args.first_seed + args.scenarios)
    for outcome in _outcomes(seeds, args.steps, args.jobs):
        faults.update(outcome.faults)
        violations += outcome.violations
        cycles += outcome.cycles
        failed += outcome.failed_cycles
        undelivered += outcome.undelivered
        if args.summaries:
            print(outcome.summary(), flush=True)
        for v in outcome.violations:
            print("VIOLATION", v, flush=True)
    print(f"scenarios run: {args.scenarios} (seeds {args.first_seed}..{args.first_seed + args.scenarios - 1})")
    print(f"cycles: {cycles} ({failed} failed under faults)")
    print(f"faults injected: {sum(faults.values())}")
    for kind, n in sorted(faults.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {n:6d}  {kind}")
    print(f"  (of the spot interruptions, {undelivered} found no live instance)")
    print(f"invariant violations: {len(violations)}")
    print(f"cpu time: {_cpu_seconds():.0f} s, wall time: {time.monotonic() - started:.0f} s")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
