"""The daemon's reconcile loop: one cycle turns a cluster snapshot into launches, drains and terminations.

Public API (stable; `run`, `simulate` and the component tests build on exactly this):

    from luna_autoscaler.reconcile import Reconciler, Daemon, CycleReport, AlwaysLeader

    reconciler = Reconciler(
        cluster,                 # luna_autoscaler.ports.Cluster (kube adapter, or a simulated cluster)
        provider,                # luna_autoscaler.ports.NodeProvider
        clock=clock,             # luna_autoscaler.ports.Clock: () -> aware datetime (fake in tests/simulation)
        cluster_name="prod",     # tagged on every instance (TAG_CLUSTER)
        local_config=config,     # --config file; the ConfigMap (cluster.config()) wins when present
        metrics=Metrics(),       # luna_autoscaler.observability.metrics.Metrics; own registry per instance
        dry_run=False,           # plan and log only: no launch, cordon, evict, delete, terminate or Event
        batching=True,           # False (`--once`): plan pending pods at once instead of waiting for the batch
        launch_ids=None,         # () -> str, unique launch ids (default uuid4); give a counter for determinism
    )
    report: CycleReport = reconciler.run_once(now)   # one cycle at `now` (default: clock())
    reconciler.forget()                              # drop remembered state; the next cycle rebuilds it

    Daemon(reconciler, leadership=..., clock=..., health=..., interval_seconds=2.0).run(stop_event)

`run_once` is for one caller at a time. It never raises for what a cycle meets in normal operation (provider
errors are classified and acted on; bad pods are reported as Events); it raises only when the cycle could not
be done at all (the cluster snapshot, the catalog or the instance list failed), and the Daemon turns that into
backoff and a stale /healthz. Extra keyword `should_stop` (a callable) lets SIGTERM end a cycle between two
cloud calls.

All state the Reconciler keeps (launch records, unavailable offerings, unneeded timers, drains) is a cache of
what the cluster and the provider say: a new Reconciler rebuilds it from `Cluster.snapshot()` and
`NodeProvider.list_instances()` (launch-id tags, the draining taint) on its first cycle, so a restart never
launches twice and finishes the drains it had started. docs/design/reconcile.md explains the cycle.
"""

from luna_autoscaler.reconcile.daemon import AlwaysLeader, Daemon
from luna_autoscaler.reconcile.reconciler import Reconciler
from luna_autoscaler.reconcile.report import CycleReport, LaunchSummary, RemovalSummary

__all__ = ["AlwaysLeader", "CycleReport", "Daemon", "LaunchSummary", "Reconciler", "RemovalSummary"]
