"""`luna-autoscaler simulate`: the daemon's reconcile loop on a simulated cluster, hours in seconds.

The README's first command: with no cluster and no cloud account, a new user sees what the autoscaler would do
with a real GPU workload (the bundled Alibaba trace scenario) and what it would cost against an all-on-demand
and a static cluster. This module only composes: the scenario, the fake provider loaded by its entry point name
(as `run --provider` loads any provider), the simulation, the summary and the HTML report.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from luna_autoscaler.cli.providers import provider_factory
from luna_autoscaler.config import provider_sections
from luna_autoscaler.errors import ConfigError
from luna_autoscaler.models.catalog import CapacityType, Catalog
from luna_autoscaler.observability.logging import configure_logging
from luna_autoscaler.ports import Clock, NodeProvider, ProviderContext
from luna_autoscaler.simulation.engine import Simulation
from luna_autoscaler.simulation.report import summary_text, write_report
from luna_autoscaler.simulation.results import Comparison, RunResult
from luna_autoscaler.simulation.scenario import load_scenario
from pricing.catalog import load_catalog

DEFAULT_REPORT = "luna-simulation-report.html"
SIMULATED_PROVIDER = "fake"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="run the autoscaler on a simulated cluster and cloud (no cluster or account needed)",
        description=(
            "Run the reconcile loop against a simulated cluster: pods arrive and finish from a trace, nodes join "
            "after realistic delays, spot nodes are interrupted, some offerings run out. Prints a summary against "
            "an all-on-demand and a static cluster and writes an HTML report. Without --scenario, runs the bundled "
            "Alibaba GPU-sharing trace scenario."
        ),
    )
    p.add_argument("--scenario", metavar="FILE", help="scenario YAML (default: the bundled one; docs/simulation.md)")
    p.add_argument("--hours", type=float, help="hours of cluster time to simulate (default: the scenario's)")
    p.add_argument("--seed", type=int, help="random seed for join delays, capacity and interruptions")
    p.add_argument("--cloud", help="cloud whose catalog prices the run (default: the scenario's)")
    p.add_argument("--region", help="region of that cloud (default: the scenario's, else the cloud's default)")
    p.add_argument(
        "--report", default=DEFAULT_REPORT, metavar="PATH", help=f"HTML report to write (default ./{DEFAULT_REPORT})"
    )
    p.add_argument("--no-report", action="store_true", help="do not write the report")
    p.add_argument(
        "--no-baseline", action="store_true", help="skip the all-on-demand run (halves the time; no comparison)"
    )
    p.add_argument(
        "--log-level",
        default="error",
        choices=("debug", "info", "warning", "error"),
        help="the loop's own log lines, on stderr (default: error; info shows every decision)",
    )
    p.set_defaults(func=run)


@dataclass(frozen=True, slots=True)
class Job:
    """One run, as plain values, so that the baseline can run in another process and repeat the set-up."""

    scenario: str | None
    hours: float | None
    seed: int | None
    cloud: str | None
    region: str | None
    log_level: str
    offerings: tuple[CapacityType, ...] | None = None  # overrides defaultOfferings (the baseline)


def simulate(job: Job) -> tuple[RunResult, Catalog]:
    """Load the scenario and its catalog, build the fake provider by its entry point, run the loop once."""
    configure_logging(level=job.log_level, json=False)
    scenario = load_scenario(job.scenario, hours=job.hours, seed=job.seed, cloud=job.cloud)
    config = scenario.config
    if job.offerings is not None:
        config = config.model_copy(update={"default_offerings": job.offerings})
    catalog = load_catalog(
        scenario.cloud, job.region or scenario.region, spot_price_ratio_estimate=config.spot_price_ratio_estimate
    )
    factory = provider_factory(SIMULATED_PROVIDER)
    # The simulated cloud sells the scenario's catalog: said in the fake's own config section, as a user would.
    sold_section = provider_sections()[SIMULATED_PROVIDER].model_validate(
        {"cloud": catalog.cloud, "region": catalog.region}
    )
    provider_config = config.with_section(SIMULATED_PROVIDER, sold_section)

    def make_provider(clock: Clock) -> NodeProvider:
        context = ProviderContext(config=provider_config, cluster_name=scenario.cluster_name, clock=clock)
        provider = factory(context)
        sold = provider.catalog()
        if (sold.cloud, sold.region) != (catalog.cloud, catalog.region):
            raise ConfigError(
                f"the {SIMULATED_PROVIDER} provider sells the {sold.cloud} {sold.region} catalog, not "
                f"{catalog.cloud} {catalog.region} (its config section {SIMULATED_PROVIDER}.cloud/region)"
            )
        return provider

    return Simulation(scenario, make_provider, config=config).run(), catalog


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    configure_logging(level=args.log_level, json=False)
    scenario = load_scenario(args.scenario, hours=args.hours, seed=args.seed, cloud=args.cloud)
    job = Job(args.scenario, args.hours, args.seed, args.cloud, args.region, args.log_level)
    baseline = None
    if not args.no_baseline and scenario.config.default_offerings != (CapacityType.ON_DEMAND,):
        baseline = dataclasses.replace(job, offerings=(CapacityType.ON_DEMAND,))
    if baseline is not None and (os.cpu_count() or 1) > 1:
        # The all-on-demand run is independent: on a machine with a spare core it costs no extra wall time.
        with ProcessPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(simulate, baseline)
            result, catalog = simulate(job)
            on_demand: RunResult | None = pending.result()[0]
    else:
        result, catalog = simulate(job)
        on_demand = simulate(baseline)[0] if baseline is not None else None
    if on_demand is None and not args.no_baseline:
        on_demand = result  # the scenario is all on-demand already: it is its own baseline
    comparison = Comparison(
        scenario=scenario.name,
        description=scenario.description,
        workload=scenario.workload(),
        cloud=scenario.cloud,
        region=catalog.region,
        catalog=str(catalog.provenance),
        seed=scenario.seed,
        run=result,
        on_demand=on_demand,
    )
    report = None
    if not args.no_report:
        try:
            report = str(write_report(comparison, args.report))
        except OSError as e:
            raise ConfigError(f"--report {args.report}: cannot write: {e.strerror or e}") from None
    sys.stdout.write(summary_text(comparison, report, elapsed_seconds=time.perf_counter() - started) + "\n")
    return 0
