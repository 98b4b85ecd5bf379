"""`luna-autoscaler run`: the daemon. Composes the Kubernetes adapter, a provider, the reconcile loop, leader
election and the health/metrics server, then runs until SIGTERM.

Before anything waits on a cluster, a pre-flight checks the provider (cli/providers.py), the flags and one call to
the API server, so a wrong name, a missing SDK extra or a dead kubeconfig is one line on stderr within seconds.

`--once` runs a single cycle (no batching wait, no leader election) and prints what it did; with `--dry-run` it
prints what it would do and touches nothing, which is how an operator checks a new configuration against a live
cluster before letting it act. SIGTERM and SIGINT stop the loop between cycles or between two cloud calls, never
in the middle of one, release the lease and exit 0.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import structlog
from prometheus_client import REGISTRY

from luna_autoscaler.cli.providers import preflight
from luna_autoscaler.config import Config, config_from_file, duration_seconds
from luna_autoscaler.errors import ConfigError
from luna_autoscaler.kube import ElectionSettings, KubeCluster, KubeSettings, LeaseElector, check_reachable, connect
from luna_autoscaler.kube.clock import utc_now
from luna_autoscaler.kube.registration import NodeObjects
from luna_autoscaler.observability.health import Health, HealthServer
from luna_autoscaler.observability.logging import configure_logging
from luna_autoscaler.observability.metrics import Metrics
from luna_autoscaler.ports import Leadership, ProviderContext, ProviderFactory
from luna_autoscaler.reconcile import AlwaysLeader, CycleReport, Daemon, Reconciler
from luna_autoscaler.simulation.kubelet import Kubelet

log = structlog.get_logger("luna_autoscaler.cli")

DEFAULT_NAMESPACE = "luna-autoscaler"
SYNC_TIMEOUT_SECONDS = 60.0


def _seconds(text: str) -> float:
    try:
        seconds = duration_seconds(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than zero")
    return seconds


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "run",
        help="run the autoscaler against a cluster (the in-cluster daemon)",
        description="Watch pending pods, launch the cheapest nodes for them and remove nodes no longer needed.",
    )
    p.add_argument(
        "--provider",
        required=True,
        metavar="NAME",
        help="provider entry point name (group luna_autoscaler.providers): aws, or fake for the in-memory fake",
    )
    p.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig (default: KUBECONFIG, else the in-cluster service account)"
    )
    p.add_argument("--context", help="kubeconfig context (default: the current one)")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="local configuration (keys or a ConfigMap manifest), used while the cluster has no config ConfigMap",
    )
    p.add_argument(
        "--cluster-name",
        default=os.environ.get("LUNA_CLUSTER_NAME", ""),
        help="name tagged on every instance, so list() finds this cluster's only (default: LUNA_CLUSTER_NAME)",
    )
    p.add_argument(
        "--namespace",
        default=os.environ.get("POD_NAMESPACE", DEFAULT_NAMESPACE),
        help=f"namespace of the config ConfigMap and the leader Lease (default: POD_NAMESPACE or {DEFAULT_NAMESPACE})",
    )
    p.add_argument("--once", action="store_true", help="run one cycle, print what it did, exit")
    p.add_argument(
        "--dry-run", action="store_true", help="plan and log what would be launched or removed; change nothing"
    )
    p.add_argument(
        "--interval", type=_seconds, default=2.0, metavar="DURATION", help="time between cycles (default 2s)"
    )
    p.add_argument(
        "--cache-stale-after",
        type=_seconds,
        default=30.0,
        metavar="DURATION",
        help="the cluster cache is stale (cycles fail, /healthz and /readyz 503) once a resource has had no "
        "successful list or watch for this long (default 30s)",
    )
    p.add_argument("--metrics-port", type=int, default=8080, help="port of /metrics (default 8080; 0: off)")
    p.add_argument("--health-port", type=int, default=8081, help="port of /healthz and /readyz (default 8081; 0: off)")
    p.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="elect a leader on a Lease so that only one replica acts (default: on; --once never elects)",
    )
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.add_argument("--log-format", default="json", choices=("json", "console"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    configure_logging(level=args.log_level, json=args.log_format == "json")
    # The pre-flight: what a new user gets wrong first is checked first, each in seconds, with one line to act on,
    # before anything waits on a cluster: the provider (declared, SDK extra, importable, its own checks), the
    # flags, the local config, then one short call to the API server.
    factory = preflight(args.provider, os.environ)
    if not args.cluster_name:
        raise ConfigError("--cluster-name is required (or set LUNA_CLUSTER_NAME): it tags the instances we own")
    local_config = _local_config(args.config)
    api = connect(args.kubeconfig, context=args.context)
    check_reachable(api)
    elector = None
    if args.leader_elect and not args.once:
        elector = LeaseElector(api, ElectionSettings(namespace=args.namespace))
    stop = threading.Event()
    with _stopping_on_signals(stop):
        settings = KubeSettings(config_map_namespace=args.namespace, stale_after_seconds=args.cache_stale_after)
        leading = elector.is_leader if elector is not None else lambda: True
        cluster = KubeCluster(api, settings, leading=leading).start()
        try:
            return _run(args, cluster, elector, local_config, stop, factory=factory)
        finally:
            cluster.stop()


def _run(
    args: argparse.Namespace,
    cluster: KubeCluster,
    elector: LeaseElector | None,
    local_config: Config | None,
    stop: threading.Event,
    *,
    factory: ProviderFactory,
) -> int:
    """After the cache has synced: build the provider and the loop, then one cycle (--once) or the daemon."""
    if not cluster.wait_for_sync(SYNC_TIMEOUT_SECONDS):
        problems = "; ".join(f"{k}: {v}" for k, v in cluster.problems().items()) or "no answer"
        raise ConfigError(f"the cluster cache did not sync within {SYNC_TIMEOUT_SECONDS:.0f}s ({problems})")
    config = cluster.config() or local_config or Config()
    metrics = Metrics()  # the provider's own collectors (e.g. AWS price age) join the loop's on /metrics
    context = ProviderContext(
        config=config,
        cluster_name=args.cluster_name,
        clock=utc_now,
        metrics_registry=metrics.registry,
        # for machines without kubelets (the fake's `fake.registerNodes`): the cloud's part, so even in a dry run
        node_registrar=Kubelet(NodeObjects(cluster.rest), config, utc_now),
    )
    provider = factory(context)
    reconciler = Reconciler(
        cluster,
        provider,
        clock=utc_now,
        cluster_name=args.cluster_name,
        local_config=local_config,
        metrics=metrics,
        dry_run=args.dry_run,
        batching=not args.once,
        should_stop=stop.is_set,
    )
    log.info(
        "start",
        provider=args.provider,
        cluster_name=args.cluster_name,
        namespace=args.namespace,
        once=args.once,
        dry_run=args.dry_run,
        provider_limits=dict(provider.features),
    )
    if args.once:
        print(render_report(reconciler.run_once()))
    elif not stop.is_set():
        _serve(args, reconciler, cluster, elector, stop)
    return 0


def _local_config(path: str | None) -> Config | None:
    return config_from_file(path) if path else None


def _serve(
    args: argparse.Namespace,
    reconciler: Reconciler,
    cluster: KubeCluster,
    elector: LeaseElector | None,
    stop: threading.Event,
) -> None:
    """The long-running daemon: endpoints up, campaign for the lease, loop until `stop`, then tear down."""
    health = Health(utc_now, interval_seconds=args.interval, synced=lambda: cluster.synced, stale=cluster.staleness)
    servers: list[HealthServer] = []
    for port in sorted({args.metrics_port, args.health_port} - {0}):
        servers.append(HealthServer(health, (reconciler.metrics.registry, REGISTRY), port=port).start())
        log.info("serving", port=port, endpoints="/metrics /healthz /readyz")
    leadership: Leadership = elector.start() if elector is not None else AlwaysLeader()
    try:
        Daemon(reconciler, leadership=leadership, clock=utc_now, health=health, interval_seconds=args.interval).run(
            stop
        )
    finally:
        if elector is not None:
            elector.stop()
        for server in servers:
            server.stop()


@contextmanager
def _stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set `stop`; the loop sees it between calls. Previous handlers are restored after."""

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal", signal=signal.Signals(signum).name, action="finishing the current call, then exiting")
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def render_report(report: CycleReport) -> str:
    """What one cycle did (or, in dry-run, would do), for a person at a terminal."""
    verb = "would " if report.dry_run else ""
    lines = [f"Cycle at {report.now.isoformat()}: {report.pending_pods} pending pods handled"]
    for launch in report.launched:
        pods = ", ".join(launch.pods[:3]) + (f" (+{len(launch.pods) - 3} more)" if len(launch.pods) > 3 else "")
        where = f" as {launch.instance_id}" if launch.instance_id else ""
        lines.append(
            f"  {verb}launch {launch.instance_type} ({launch.capacity_type}) in {launch.zone} "
            f"${launch.price_usd_per_hour:.4f}/h{where} for {pods}"
        )
    for drain in report.drains_started:
        lines.append(f"  {verb}remove node {drain.node} ({drain.reason})")
    for removed in report.removed:
        lines.append(f"  removed {removed.node or 'instance'} {removed.instance_id} ({removed.reason})")
    for error in report.launch_errors:
        lines.append(f"  launch error: {error}")
    for unplaced in report.unplaced:
        lines.append(f"  not placed: {unplaced.pod}: {unplaced.reason}")
    if len(lines) == 1:
        lines.append("  nothing to do")
    return "\n".join(lines)
