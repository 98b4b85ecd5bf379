"""`luna-autoscaler simulate`: the daemon's reconcile loop on a simulated cluster, hours in seconds.

The README's first command: with no cluster and no cloud account, a new user sees what the autoscaler would do
with a real GPU workload (the bundled Alibaba trace scenario) and what it would cost against an all-on-demand
and a static cluster. This module only composes: the scenario, the fake provider loaded by its entry point name
(as `run --provider` loads any provider), the simulation, the summary and the HTML report.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from luna_autoscaler.errors import ConfigError
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.observability.logging import configure_logging
from luna_autoscaler.ports import PROVIDER_ENTRY_POINT_GROUP, Clock, NodeProvider, ProviderContext, ProviderFactory
from luna_autoscaler.simulation.engine import Simulation
from luna_autoscaler.simulation.report import summary_text, write_report
from luna_autoscaler.simulation.results import Comparison
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


def provider_factory(name: str) -> ProviderFactory:
    """The provider registered under `name` in the entry point group, as `run --provider` resolves it."""
    found = entry_points(group=PROVIDER_ENTRY_POINT_GROUP, name=name)
    if not found:
        raise ConfigError(
            f"no provider {name!r} is installed (entry point group {PROVIDER_ENTRY_POINT_GROUP}); "
            "install luna-autoscaler (pip install luna-autoscaler, or pip install -e . in a checkout)"
        )
    factory: ProviderFactory = next(iter(found)).load()
    return factory


def run(args: argparse.Namespace) -> int:
    configure_logging(level=args.log_level, json=False)
    scenario = load_scenario(args.scenario, hours=args.hours, seed=args.seed, cloud=args.cloud)
    config = scenario.config
    catalog = load_catalog(
        scenario.cloud, args.region or scenario.region, spot_price_ratio_estimate=config.spot_price_ratio_estimate
    )
    factory = provider_factory(SIMULATED_PROVIDER)

    def make_provider(clock: Clock) -> NodeProvider:
        context = ProviderContext(config=config, cluster_name=scenario.cluster_name, clock=clock, catalog=catalog)
        provider = factory(context)
        sold = provider.catalog()
        if (sold.cloud, sold.region) != (catalog.cloud, catalog.region):
            raise ConfigError(
                f"the {SIMULATED_PROVIDER} provider sells the {sold.cloud} {sold.region} catalog, not "
                f"{catalog.cloud} {catalog.region}: it ignores ProviderContext.catalog (docs/simulation.md)"
            )
        return provider

    main = Simulation(scenario, make_provider, config=config)
    result = main.run()
    on_demand = None
    if not args.no_baseline and config.default_offerings != (CapacityType.ON_DEMAND,):
        baseline = config.model_copy(update={"default_offerings": (CapacityType.ON_DEMAND,)})
        on_demand = Simulation(scenario, make_provider, config=baseline).run()
    elif not args.no_baseline:
        on_demand = result
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
    report = None if args.no_report else str(write_report(comparison, args.report))
    sys.stdout.write(summary_text(comparison, report) + "\n")
    return 0
